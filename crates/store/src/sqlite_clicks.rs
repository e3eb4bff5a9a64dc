//! The click writer on SQLite, without sqlx's worker thread.
//!
//! Through sqlx every statement of a flush went to the connection's own
//! thread and back: two thread switches a statement, and on SQLite the
//! `links` counters take one statement a link, so about one round trip a
//! click under uniform traffic (profiled in issue 8: 0.8 context switches
//! and 0.7 futex calls per redirect, from this alone). Here the flush runs
//! right on the calling thread, the click worker's own (ADR 0027), on a
//! connection of its own: the same statements, kept prepared (all but a
//! flush's last, shorter chunk of each table, whose size varies).

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{OpenFlags, TransactionBehavior};

use kurz_core::analytics::ClickBatch;
use kurz_core::error::StoreError;

use crate::analytics::{count, row_statements, ADD_LINK_VISITS};
use crate::db::Arg;
use crate::dialect::Dialect;
use crate::sqlite_reader::store_error;
use crate::Synchronous;

#[derive(Debug)]
pub(crate) struct SqliteClickWriter {
    path: PathBuf,
    synchronous: Synchronous,
    busy_timeout: Duration,
    /// The store's bound on one call, as sqlx's calls have it: a write
    /// that runs longer is interrupted and rolled back.
    query_timeout: Duration,
    /// Opened by the first write; dropped after a failed one, so the next
    /// try starts from a fresh connection.
    conn: Mutex<Option<rusqlite::Connection>>,
}

impl SqliteClickWriter {
    pub(crate) fn new(
        path: PathBuf,
        synchronous: Synchronous,
        busy_timeout: Duration,
        query_timeout: Duration,
    ) -> Self {
        Self {
            path,
            synchronous,
            // The lock wait is part of the call's time.
            busy_timeout: busy_timeout.min(query_timeout),
            query_timeout,
            conn: Mutex::new(None),
        }
    }

    fn open(&self) -> Result<rusqlite::Connection, rusqlite::Error> {
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.busy_timeout)?;
        // Per connection, as sqlx sets it on the store's own.
        conn.pragma_update(
            None,
            "synchronous",
            match self.synchronous {
                Synchronous::Full => "FULL",
                Synchronous::Normal => "NORMAL",
            },
        )?;
        Ok(conn)
    }

    /// Writes `batch` in one transaction, blocking the calling thread for
    /// up to the query time-out: call it from the click worker's own
    /// thread, never from a request runtime, and only once migrations
    /// have run.
    pub(crate) fn write(&self, batch: &ClickBatch) -> Result<(), StoreError> {
        let mut slot = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let mut conn = match slot.take() {
            Some(conn) => conn,
            None => self.open().map_err(store_error)?,
        };
        let deadline = Instant::now() + self.query_timeout;
        // Every thousand virtual machine steps: a hung disk or a runaway
        // statement ends as an interrupted (and rolled back) write.
        conn.progress_handler(1000, Some(move || Instant::now() > deadline));
        let written = write_in(&mut conn, batch).map_err(store_error);
        if written.is_ok() {
            *slot = Some(conn);
        }
        written
    }

    /// Closes the connection (the last one to close checkpoints the WAL);
    /// a later write opens a new one.
    pub(crate) fn close(&self) {
        self.conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

fn write_in(conn: &mut rusqlite::Connection, batch: &ClickBatch) -> rusqlite::Result<()> {
    // Immediate: the write lock is taken (or waited for) at the start, not
    // at the first statement of a transaction that began as a reader.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for s in row_statements(Dialect::Sqlite, batch) {
        tx.prepare_cached(s.sql())?
            .execute(rusqlite::params_from_iter(s.args()))?;
    }
    {
        let mut add = tx.prepare_cached(ADD_LINK_VISITS)?;
        for (id, n) in batch.link_totals() {
            add.execute(rusqlite::params_from_iter([count(n), Arg::Int(id)]))?;
        }
    }
    tx.commit()
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Arg::Int(n) => ToSqlOutput::Owned(Value::Integer(n)),
            Arg::OptInt(n) => n.map_or(ToSqlOutput::Owned(Value::Null), |n| {
                ToSqlOutput::Owned(Value::Integer(n))
            }),
            Arg::Bool(b) => ToSqlOutput::Owned(Value::Integer(i64::from(b))),
            Arg::Text(s) => ToSqlOutput::from(s),
            Arg::OptText(s) => s.map_or(ToSqlOutput::Owned(Value::Null), ToSqlOutput::from),
        })
    }
}
