//! The redirect lookup on SQLite, without sqlx's worker threads.
//!
//! sqlx runs every SQLite connection on a thread of its own and hands each
//! query over a channel and back: two thread switches per lookup, which is
//! most of a store-only redirect's cost (profiled: futex waits and task
//! switches, ADR 0015). A point query on the slug index takes a few
//! microseconds, so this reader runs it right on the calling thread, on a
//! read-only connection of its own (WAL readers never block the writer).
//! Only this one query goes this way; everything else stays on sqlx.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{OpenFlags, OptionalExtension};

use kurz_core::clock::from_millis;
use kurz_core::error::StoreError;
use kurz_core::link::{DisabledReason, RedirectRecord};

use crate::error::sqlite_error;

/// Connections kept open between lookups: one per thread that looks up at
/// once is enough; more are opened under a burst and closed after it.
const IDLE: usize = 8;

/// The longest a lookup waits on a locked database. It waits on a runtime
/// thread, so the store's own busy time-out (seconds) would stall every
/// redirect on that thread, cached ones too. A WAL reader is only ever
/// locked out for a moment (a recovery, a truncating checkpoint); past
/// this, the redirect answers 503 and the client may retry.
const BUSY_MAX: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub(crate) struct SqliteReader {
    path: PathBuf,
    sql: String,
    busy_timeout: Duration,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl SqliteReader {
    pub(crate) fn new(path: PathBuf, sql: String, busy_timeout: Duration) -> Self {
        Self {
            path,
            sql,
            busy_timeout: busy_timeout.min(BUSY_MAX),
            idle: Mutex::new(Vec::new()),
        }
    }

    fn open(&self) -> Result<rusqlite::Connection, rusqlite::Error> {
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.busy_timeout)?;
        Ok(conn)
    }

    /// The live link of `slug`. Call only once migrations have run (the
    /// file and table exist).
    pub(crate) fn lookup(&self, slug: &str) -> Result<Option<RedirectRecord>, StoreError> {
        let taken = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match taken {
            Some(conn) => conn,
            None => self.open().map_err(sqlite_error)?,
        };
        let found = conn
            .prepare_cached(&self.sql)
            .and_then(|mut statement| statement.query_row([slug], record).optional())
            .map_err(sqlite_error);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE {
            idle.push(conn);
        }
        found
    }
}

/// A row of `Queries::lookup`.
fn record(row: &rusqlite::Row<'_>) -> rusqlite::Result<RedirectRecord> {
    Ok(RedirectRecord {
        id: row.get(0)?,
        url: row.get::<_, String>(1)?.into_boxed_str(),
        created_at: from_millis(row.get(2)?),
        expires_at: row.get::<_, Option<i64>>(3)?.map(from_millis),
        max_visits: row.get(4)?,
        human_visits: row.get(5)?,
        redirect_status: row
            .get::<_, Option<i64>>(6)?
            .and_then(|c| u16::try_from(c).ok()),
        forward_query: row.get(7)?,
        has_password: row.get(8)?,
        disabled: row.get(9)?,
        pending: row.get(10)?,
        disabled_reason: row
            .get::<_, Option<String>>(11)?
            .as_deref()
            .and_then(DisabledReason::parse),
    })
}
