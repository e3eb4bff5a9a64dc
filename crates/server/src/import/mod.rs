//! `kurz import --from SOURCE`: links from another shortener, through
//! kurz's own link rules (ADR 0026).
//!
//! - `shlink`, `yourls`, `kutt`: the peers' HTTP APIs, paged, over the
//!   bounded client of `fetch`.
//! - `table`: kurz's own CSV columns and Bitly's export.
//! - `settle`: what becomes of each source link (imported, already here,
//!   renamed or skipped), and [`Report`] counts it.

mod cli;
mod fetch;
mod kutt;
mod report;
mod settle;
mod shlink;
mod table;
mod yourls;

use async_trait::async_trait;
use kurz_core::service::ImportLink;

pub use cli::{run, ImportArgs, SlugPolicy, SourceKind};
pub use report::Report;

/// Why a source could not be read on: the run stops there, and what came
/// over before stays.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    Http(String),
    #[error("the source answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the source's answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the source's answer is not what its API documents: {0}")]
    Format(String),
    #[error("reading {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Csv(String),
}

/// One record of a source.
#[derive(Debug)]
pub(crate) enum Entry {
    Link(SourceLink),
    /// A record that is not a usable link: what names it (a slug, a row
    /// number) and why.
    Unreadable {
        key: String,
        reason: String,
    },
}

/// A link as the source holds it.
#[derive(Debug)]
pub(crate) struct SourceLink {
    pub(crate) link: ImportLink,
    /// Why it cannot come over at all (a password kurz cannot read, a ban
    /// at the source), when that is so.
    pub(crate) refuse: Option<&'static str>,
}

impl SourceLink {
    pub(crate) fn new(link: ImportLink) -> Self {
        Self { link, refuse: None }
    }
}

/// A source, read a batch (one page of an API, some rows of a file) at a
/// time.
#[async_trait]
pub(crate) trait Source: Send {
    /// The next batch; `None` at the end.
    async fn next_batch(&mut self) -> Result<Option<Vec<Entry>>, SourceError>;
    /// How many links the source says it holds, once it said so.
    fn total(&self) -> Option<u64>;
    /// What the reader noticed about the source as a whole, for the end
    /// of the report.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The most links one run reads from a source: a source that pages on
/// for ever stops here.
pub(crate) const MAX_LINKS: u64 = 10_000_000;
