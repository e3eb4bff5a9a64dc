//! kurz-store: the adapters behind kurz-core's ports.
//!
//! Depends on kurz-core and sqlx; never on axum or the server.
//!
//! # Layout
//!
//! - [`open`] picks the backend from the URL's scheme, connects and applies
//!   that backend's migrations (`migrations/<backend>/`).
//! - `sqlite`: the repositories for the embedded default.
//! - `segment`: the segment ID allocator the repositories share.
//! - `error`: sqlx errors turned into domain errors.

mod error;
mod segment;
mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use kurz_core::error::StoreError;
use kurz_core::ports::{AccountRepo, LinkRepo};
use kurz_core::slug::SlugSecret;
use rand::RngCore;

/// The backends kurz speaks, chosen by the scheme of the database URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
}

impl DbKind {
    pub fn from_url(url: &str) -> Result<Self, OpenError> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "mysql" | "mariadb" | "postgres" | "postgresql" => {
                Err(OpenError::Unsupported(scheme.to_owned()))
            }
            _ => Err(OpenError::BadUrl),
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
    pub max_connections: u32,
    /// How long a request may wait for a free connection.
    pub acquire_timeout: Duration,
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
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
            synchronous: Synchronous::Full,
            id_block: 1000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the database URL must start with sqlite://")]
    BadUrl,
    #[error("the {0} backend is not supported yet; use sqlite://")]
    Unsupported(String),
    #[error("cannot open the database")]
    Connect(#[source] sqlx::Error),
    #[error("cannot apply the database migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An open store: the repositories behind the core's ports.
#[derive(Debug, Clone)]
pub struct Database {
    pub kind: DbKind,
    pub links: Arc<dyn LinkRepo>,
    pub accounts: Arc<dyn AccountRepo>,
    sqlite: Arc<sqlite::SqliteStore>,
}

impl Database {
    /// The instance's slug secret: the stored one, or a fresh random one on
    /// the first start (the first writer wins when several nodes race).
    pub async fn slug_secret(&self) -> Result<SlugSecret, StoreError> {
        let mut bytes = [0u8; SlugSecret::LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        self.sqlite
            .slug_secret(&SlugSecret::from_bytes(bytes))
            .await
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.sqlite.close().await;
    }
}

/// Connects and applies pending migrations.
pub async fn open(options: &DbOptions) -> Result<Database, OpenError> {
    match DbKind::from_url(&options.url)? {
        DbKind::Sqlite => {
            let store = Arc::new(sqlite::SqliteStore::open(options).await?);
            Ok(Database {
                kind: DbKind::Sqlite,
                links: store.clone(),
                accounts: store.clone(),
                sqlite: store,
            })
        }
    }
}
