//! kurz-store: the adapters behind kurz-core's ports.
//!
//! Depends on kurz-core and sqlx; never on axum or the server.
//!
//! # Layout
//!
//! - [`open`] picks the backend from the URL's scheme (`sqlite://`,
//!   `mysql://` or `mariadb://`, `postgres://`) and builds lazy pools.
//! - `store` — `SqlStore`, shared by the repositories:
//!   `links` (the redirect lookup and the API's links), `accounts`,
//!   `reports` (abuse reports),
//!   `visits` (visit limits), `analytics` (click rollups, raw visits),
//!   `ids` (segment IDs and the slug secret), [`transfer`]
//!   (export / import).
//! - `backup` — an online copy of a SQLite database; [`inspect`] — what
//!   `kurz doctor` reads, without changing anything.
//! - `db` — the three sqlx drivers behind one set of enums; `dialect` — the
//!   statement text, and what differs between backends.
//! - `migrate` — the migrations of `migrations/<backend>/`, one process at
//!   a time.
//! - `segment` — the segment ID allocator; `error` — sqlx errors in domain
//!   words; `sqlite_reader` and `sqlite_clicks` — the redirect lookup and
//!   the click writes on SQLite, off sqlx's worker threads.
//! - [`cache`] — the two-level cache around the lookup port (L1 in
//!   process, Redis as L2), and the API key cache.
//! - [`breath`] — pauses in long stretches of work on the click worker's
//!   low-priority thread.

mod accounts;
mod analytics;
mod backup;
pub mod breath;
pub mod cache;
mod catalog;
mod db;
mod dialect;
mod error;
mod ids;
pub mod inspect;
mod links;
pub mod metrics;
mod migrate;
mod open;
mod reports;
mod segment;
mod sqlite_clicks;
mod sqlite_reader;
mod store;
pub mod transfer;
mod visits;

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use kurz_core::clock::Clock;
use kurz_core::error::StoreError;
use kurz_core::ports::{
    AccountStore, AnalyticsStore, Authenticator, Catalog, Health, IdSource, LinkLookup, LinkScan,
    LinkStore, PopularLinks, ReportStore, SessionStore, VisitStore,
};

pub use self::backup::{BackupError, BackupOutcome};
use self::store::SqlStore;
use self::transfer::{TransferError, TransferStats};

/// The backends kurz speaks, chosen by the scheme of the database URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    MySql,
    Postgres,
}

impl DbKind {
    pub fn from_url(url: &str) -> Result<Self, OpenError> {
        match url.split_once("://").map(|(s, _)| s) {
            Some("sqlite") => Ok(Self::Sqlite),
            Some("mysql" | "mariadb") => Ok(Self::MySql),
            Some("postgres" | "postgresql") => Ok(Self::Postgres),
            _ => Err(OpenError::BadUrl(
                "the database URL must start with sqlite://, mysql://, mariadb:// or postgres://"
                    .into(),
            )),
        }
    }
}

/// How SQLite makes a commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// fsync the WAL on every commit: an acknowledged write survives a
    /// process crash and a power cut.
    #[default]
    Full,
    /// fsync only at checkpoints: survives a process crash (`kill -9`), may
    /// lose the last commits on a power cut or kernel crash.
    Normal,
}

/// Everything needed to open the store.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub url: String,
    /// Read replicas (same backend) for redirect lookups and lists.
    pub replicas: Vec<String>,
    pub max_connections: u32,
    /// How long a request may wait for a free connection.
    pub acquire_timeout: Duration,
    /// Longest one store call may take before it counts as unavailable.
    pub query_timeout: Duration,
    /// SQLite: how long a writer waits for the write lock before giving up.
    pub busy_timeout: Duration,
    pub synchronous: Synchronous,
    /// How many IDs a node leases at once.
    pub id_block: u64,
}

impl DbOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            replicas: Vec::new(),
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            query_timeout: Duration::from_secs(10),
            busy_timeout: Duration::from_secs(5),
            synchronous: Synchronous::Full,
            id_block: 1000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("invalid database URL: {0}")]
    BadUrl(String),
    #[error("replicas must use the same backend as the primary")]
    MixedReplicas,
}

/// An open store: the repositories behind the core's ports.
#[derive(Debug, Clone)]
pub struct Database {
    store: Arc<SqlStore>,
}

impl Database {
    pub fn lookup(&self) -> Arc<dyn LinkLookup> {
        self.store.clone()
    }

    pub fn links(&self) -> Arc<dyn LinkStore> {
        self.store.clone()
    }

    pub fn ids(&self) -> Arc<dyn IdSource> {
        self.store.clone()
    }

    pub fn visits(&self) -> Arc<dyn VisitStore> {
        self.store.clone()
    }

    pub fn analytics(&self) -> Arc<dyn AnalyticsStore> {
        self.store.clone()
    }

    pub fn catalog(&self) -> Arc<dyn Catalog> {
        self.store.clone()
    }

    pub fn accounts(&self) -> Arc<dyn AccountStore> {
        self.store.clone()
    }

    /// Web-UI sessions, on the primary.
    pub fn sessions(&self) -> Arc<dyn SessionStore> {
        self.store.clone()
    }

    pub fn reports(&self) -> Arc<dyn ReportStore> {
        self.store.clone()
    }

    pub fn health(&self) -> Arc<dyn Health> {
        self.store.clone()
    }

    pub fn authenticator(&self) -> Arc<dyn Authenticator> {
        self.store.clone()
    }

    pub fn popular(&self) -> Arc<dyn PopularLinks> {
        self.store.clone()
    }

    /// Live links by ID, for the blocklist rescan.
    pub fn scan(&self) -> Arc<dyn LinkScan> {
        self.store.clone()
    }

    /// Applies the migrations and reads the slug secret, if not done yet.
    /// Fails with [`StoreError::Unavailable`] while the database is away.
    pub async fn ensure_ready(&self) -> Result<(), StoreError> {
        self.store.ready().await.map(|_| ())
    }

    /// Adds the store's metrics (query times and errors by operation, the
    /// primary pool's connections) to `registry`.
    pub fn register_metrics(&self, registry: &prometheus::Registry) -> prometheus::Result<()> {
        self.store.metrics.register(registry)?;
        registry.register(Box::new(metrics::PoolGauge::new(
            self.store.primary.clone(),
            self.store.max_connections,
        )?))
    }

    /// Closes the pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Writes every user, key and link in the format of [`transfer`].
    pub async fn export(
        &self,
        out: &mut (dyn Write + Send),
    ) -> Result<TransferStats, TransferError> {
        self.store.export(out).await
    }

    /// Reads an export into this (empty) database, in one transaction.
    pub async fn import(
        &self,
        input: &mut (dyn BufRead + Send),
    ) -> Result<TransferStats, TransferError> {
        self.store.import(input).await
    }
}

/// Builds the pools for `options.url` without connecting: the first use (or
/// [`Database::ensure_ready`]) connects and migrates. `clock` stamps the
/// store's own rows (the secret, an export's date).
pub fn open(options: &DbOptions, clock: Arc<dyn Clock>) -> Result<Database, OpenError> {
    Ok(Database {
        store: Arc::new(open::store(options, clock)?),
    })
}
