//! Use cases. Each takes parsed or raw input, checks it, and talks only to
//! the ports.

pub mod links;
pub mod redirect;

pub use links::{CreateLink, Created, LinkPage, LinkService, LinkSettings, UpdateLink};
pub use redirect::{Redirector, Resolution};
