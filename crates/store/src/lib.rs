//! kurz-store: the adapters behind kurz-core's ports.
//!
//! Depends on kurz-core and sqlx; never on axum or the server.
//!
//! # Layout
//!
//! - [`open`] picks the backend from the URL's scheme (`sqlite://`,
//!   `mysql://` or `mariadb://`, `postgres://`) and builds lazy pools; the
//!   migrations of `migrations/<backend>/` run on first use or through
//!   [`Database::ensure_ready`].
//! - `sql` — the repositories, written once for all backends; `dialect` —
//!   the SQL that differs between them.
//! - `segment` — the segment ID allocator.
//! - [`transfer`] — the export / import format.
//! - `error` — sqlx errors turned into domain errors.

mod dialect;
mod error;
mod open;
mod segment;
mod sql;
pub mod transfer;

use std::fmt::Debug;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use kurz_core::error::StoreError;
use kurz_core::ports::{AccountRepo, LinkRepo};

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

/// Store operations that are not the core's business: readiness, shutdown,
/// and moving data between backends.
#[async_trait]
pub(crate) trait Admin: Send + Sync + Debug {
    async fn ensure_ready(&self) -> Result<(), StoreError>;
    async fn close(&self);
    async fn export(&self, out: &mut (dyn Write + Send)) -> Result<TransferStats, TransferError>;
    async fn import(
        &self,
        input: &mut (dyn BufRead + Send),
    ) -> Result<TransferStats, TransferError>;
}

/// An open store: the repositories behind the core's ports.
#[derive(Debug, Clone)]
pub struct Database {
    pub links: Arc<dyn LinkRepo>,
    pub accounts: Arc<dyn AccountRepo>,
    admin: Arc<dyn Admin>,
}

impl Database {
    /// Applies the migrations and reads the slug secret, if not done yet.
    /// Fails with [`StoreError::Unavailable`] while the database is away.
    pub async fn ensure_ready(&self) -> Result<(), StoreError> {
        self.admin.ensure_ready().await
    }

    /// Closes the pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.admin.close().await;
    }

    /// Writes every user, key and link in the format of [`transfer`].
    pub async fn export(
        &self,
        out: &mut (dyn Write + Send),
    ) -> Result<TransferStats, TransferError> {
        self.admin.export(out).await
    }

    /// Reads an export into this (empty) database.
    pub async fn import(
        &self,
        input: &mut (dyn BufRead + Send),
    ) -> Result<TransferStats, TransferError> {
        self.admin.import(input).await
    }
}

/// Builds the pools for `options.url` without connecting: the first use (or
/// [`Database::ensure_ready`]) connects and migrates.
pub fn open(options: &DbOptions) -> Result<Database, OpenError> {
    let kind = DbKind::from_url(&options.url)?;
    for r in &options.replicas {
        if DbKind::from_url(r)? != kind {
            return Err(OpenError::MixedReplicas);
        }
    }
    Ok(match kind {
        DbKind::Sqlite => {
            let s = open::sqlite(options)?;
            Database {
                links: s.clone(),
                accounts: s.clone(),
                admin: s,
            }
        }
        DbKind::MySql => {
            let s = open::mysql(options)?;
            Database {
                links: s.clone(),
                accounts: s.clone(),
                admin: s,
            }
        }
        DbKind::Postgres => {
            let s = open::postgres(options)?;
            Database {
                links: s.clone(),
                accounts: s.clone(),
                admin: s,
            }
        }
    })
}
