//! [`SqlStore`]: a primary pool, optional replica pools, the backend's
//! statements, and what every repository call shares (readiness, the query
//! time-out, the choice of pool). The ports are implemented beside it, one
//! file per concern: `links`, `accounts`, `visits`, `ids`, `transfer`.
//!
//! Every write is a single statement or a transaction whose first statement
//! writes: on SQLite, a deferred transaction that reads first and writes
//! later can fail with SQLITE_BUSY without waiting for the lock.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::OnceCell;
use tracing::Instrument;

use kurz_core::clock::{self, Clock};
use kurz_core::error::StoreError;
use kurz_core::ports::Health;
use kurz_core::slug::SlugSecret;

use crate::db::{Arg, Pool};
use crate::dialect::Queries;
use crate::error::store_error;
use crate::metrics::StoreMetrics;
use crate::segment::SegmentAllocator;
use crate::sqlite_clicks::SqliteClickWriter;
use crate::sqlite_reader::SqliteReader;
use crate::{DbKind, Synchronous};

pub(crate) struct SqlStore {
    pub(crate) kind: DbKind,
    pub(crate) primary: Pool,
    /// Read replicas for redirect lookups and lists; may be empty.
    pub(crate) replicas: Vec<Pool>,
    /// The click writer's own connection on the servers. Opened by the
    /// first write, on the thread that writes clicks, so its socket belongs
    /// to that thread's runtime (ADR 0027).
    pub(crate) clicks: Option<Pool>,
    /// SQLite file databases: the click writes off sqlx's worker threads,
    /// on the click worker's own (an in-memory database goes through the
    /// primary, whose connections alone see it).
    pub(crate) sqlite_clicks: Option<SqliteClickWriter>,
    next_replica: AtomicUsize,
    pub(crate) q: Queries,
    pub(crate) ids: SegmentAllocator,
    /// Set once migrations ran and the secret was read; retried until then,
    /// so a store that was down at start becomes ready when it comes back.
    ready: OnceCell<SlugSecret>,
    /// Upper bound on one store call, on top of the pool's acquire timeout.
    query_timeout: Duration,
    /// SQLite: the file whose lock serialises migrations between processes.
    pub(crate) migration_lock: Option<PathBuf>,
    /// SQLite file databases: the redirect lookup off sqlx's worker threads.
    pub(crate) sqlite_reader: Option<SqliteReader>,
    /// For the store's own timestamps (the secret's row, an export's date);
    /// domain timestamps come in with the data.
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: StoreMetrics,
    /// The primary pool's size, for the pool gauge.
    pub(crate) max_connections: u32,
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("kind", &self.kind)
            .field("replicas", &self.replicas.len())
            .finish_non_exhaustive()
    }
}

/// What [`SqlStore::new`] is built from.
#[derive(Debug)]
pub(crate) struct Parts {
    pub(crate) kind: DbKind,
    pub(crate) primary: Pool,
    pub(crate) replicas: Vec<Pool>,
    pub(crate) clicks: Option<Pool>,
    pub(crate) id_block: u64,
    pub(crate) query_timeout: Duration,
    pub(crate) migration_lock: Option<PathBuf>,
    /// The SQLite database file, for the lookup's own reader.
    pub(crate) sqlite_file: Option<PathBuf>,
    /// How long SQLite's reader and click writer wait on a lock.
    pub(crate) busy_timeout: Duration,
    pub(crate) synchronous: Synchronous,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) max_connections: u32,
}

impl SqlStore {
    pub(crate) fn new(parts: Parts) -> Self {
        let q = Queries::new(parts.primary.dialect());
        Self {
            kind: parts.kind,
            sqlite_clicks: parts.sqlite_file.clone().map(|file| {
                SqliteClickWriter::new(
                    file,
                    parts.synchronous,
                    parts.busy_timeout,
                    parts.query_timeout,
                )
            }),
            // With replicas (a test setup for SQLite) lookups read them
            // through sqlx, as on the servers.
            sqlite_reader: parts
                .sqlite_file
                .filter(|_| parts.replicas.is_empty())
                .map(|file| SqliteReader::new(file, q.lookup.clone(), parts.busy_timeout)),
            q,
            primary: parts.primary,
            replicas: parts.replicas,
            clicks: parts.clicks,
            next_replica: AtomicUsize::new(0),
            ids: SegmentAllocator::new(parts.id_block),
            ready: OnceCell::new(),
            query_timeout: parts.query_timeout,
            migration_lock: parts.migration_lock,
            clock: parts.clock,
            metrics: StoreMetrics::new(),
            max_connections: parts.max_connections,
        }
    }

    /// The pool reads may use: replicas round-robin, else the primary.
    pub(crate) fn reader(&self) -> &Pool {
        if self.replicas.is_empty() {
            return &self.primary;
        }
        let i = self.next_replica.fetch_add(1, Ordering::Relaxed) % self.replicas.len();
        &self.replicas[i]
    }

    /// Runs one store call under the query timeout, in domain errors, and
    /// reports its time under `op` (metrics, and a span for traces).
    pub(crate) async fn timed<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = match tokio::time::timeout(self.query_timeout, call)
            .instrument(tracing::debug_span!("store.query", op))
            .await
        {
            Ok(result) => result.map_err(|e| store_error(e, self.kind)),
            Err(_) => Err(StoreError::Unavailable(
                "the store did not answer in time".into(),
            )),
        };
        self.metrics.observe(op, started.elapsed(), result.is_err());
        result
    }

    /// Whether [`Self::ready`] has succeeded.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.get().is_some()
    }

    /// Applies migrations and reads (or makes) the slug secret, once; every
    /// call waits for that first.
    pub(crate) async fn ready(&self) -> Result<&SlugSecret, StoreError> {
        self.ready
            .get_or_try_init(|| async {
                self.migrate().await?;
                let mut bytes = [0u8; SlugSecret::LEN];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
                let secret = hex::encode(bytes);
                let now = clock::to_millis(self.clock.now());
                // The first process to get here decides; the others read it.
                self.timed(
                    "ready",
                    self.primary
                        .execute(&self.q.insert_secret, &[Arg::Text(&secret), Arg::Int(now)]),
                )
                .await?;
                let (stored,): (String,) = self
                    .timed("ready", self.primary.fetch_one(&self.q.select_secret, &[]))
                    .await?;
                parse_secret(&stored)
            })
            .await
    }

    pub(crate) async fn close(&self) {
        if let Some(writer) = &self.sqlite_clicks {
            writer.close();
        }
        self.primary.close().await;
        for r in self.replicas.iter().chain(&self.clicks) {
            r.close().await;
        }
    }
}

#[async_trait]
impl Health for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.timed("ping", self.primary.execute("select 1", &[]))
            .await?;
        self.ready().await.map(|_| ())
    }
}

pub(crate) fn parse_secret(stored: &str) -> Result<SlugSecret, StoreError> {
    hex::decode(stored.trim())
        .ok()
        .and_then(|b| <[u8; SlugSecret::LEN]>::try_from(b).ok())
        .map(SlugSecret::from_bytes)
        .ok_or_else(|| StoreError::Other("the stored slug secret is corrupt".into()))
}
