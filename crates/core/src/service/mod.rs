//! Use cases. Each takes parsed or raw input, checks it, and talks only to
//! the ports.

pub mod accounts;
pub mod catalog;
pub mod links;
pub mod redirect;
pub mod reports;
pub mod rescan;
pub mod stats;

pub use accounts::{AccountPorts, AccountService};
pub use catalog::CatalogService;
pub use links::{
    CreateLink, Created, ImportLink, LinkPage, LinkPorts, LinkService, LinkSettings, UpdateLink,
};
pub use redirect::{
    CachePolicy, Hidden, Outcome, Preview, Previewed, Redirect, RedirectPorts, RedirectSettings,
    Redirector, Unlock, UnlockError, Visit, Visitor,
};
pub use reports::{FileReport, ReportPage, ReportPorts, ReportService};
pub use rescan::{RescanOutcome, RescanPorts, Rescanner};
pub use stats::{Bucket, Interval, Stats, StatsRequest, StatsService, VisitPage};
