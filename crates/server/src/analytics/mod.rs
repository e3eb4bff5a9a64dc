//! Click analytics off the redirect path (DESIGN.md, "Analytics"; ADR
//! 0017): the bounded [`queue`] the redirect hands clicks to, the
//! [`enrich`]ment that turns a click into what is stored of it, and the
//! [`worker`] that writes hourly rollups and raw visits in batches, on a
//! [`thread`] of its own below the request threads' priority.

pub mod enrich;
pub mod queue;
pub mod thread;
pub mod worker;

pub use enrich::{Enricher, Geo};
pub use queue::ClickQueue;
pub use worker::{ClickWorker, WorkerSettings};
