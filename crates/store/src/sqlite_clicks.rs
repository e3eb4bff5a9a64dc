//! The click writer on SQLite, without sqlx's worker thread.
//!
//! Through sqlx every statement of a flush went to the connection's own
//! thread and back: two thread switches a statement, and on SQLite the
//! links' counters take one statement a link, so about one round trip a
//! click under uniform traffic (profiled in issue 8: 0.8 context switches
//! and 0.7 futex calls per redirect, from this alone). Here the flush runs
//! right on the calling thread, the click worker's own (ADR 0027), on a
//! connection of its own: the same statements, kept prepared (all but a
//! transaction's last, shorter chunk of each table, whose size varies).

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{OpenFlags, TransactionBehavior};

use kurz_core::analytics::ClickBatch;
use kurz_core::error::StoreError;

use crate::analytics::{count, row_statements, ADD_LINK_VISITS};
use crate::breath;
use crate::db::Arg;
use crate::dialect::Dialect;
use crate::error::sqlite_error;
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
            None => self.open().map_err(sqlite_error)?,
        };
        let deadline = Instant::now() + self.query_timeout;
        // Every hundred virtual machine steps: a hung disk or a runaway
        // statement ends as an interrupted (and rolled back) write, and a
        // long write on the click worker's thread pauses now and then
        // (`breath`). The pause holds the write lock, as any preemption
        // of this low-priority thread does: API writes and capped links'
        // visits wait for the transaction, within the busy time-out.
        conn.progress_handler(
            100,
            Some(move || {
                if Instant::now() > deadline {
                    return true;
                }
                breath::point();
                false
            }),
        );
        let written = write_in(&mut conn, batch).map_err(sqlite_error);
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
            add.execute(rusqlite::params_from_iter([Arg::Int(id), count(n)]))?;
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

#[cfg(test)]
mod tests {
    use kurz_core::analytics::HourCount;

    use super::*;

    fn count_of(conn: &rusqlite::Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).expect("count")
    }

    /// The two tables a batch of hours writes.
    fn schema(path: &std::path::Path) -> rusqlite::Connection {
        let setup = rusqlite::Connection::open(path).expect("open");
        setup
            .execute_batch(
                "create table link_counts (link_id integer primary key, visits integer not null);
                 create table click_hours (link_id integer not null, hour integer not null,
                     total integer not null, humans integer not null, bots integer not null,
                     primary key (link_id, hour));",
            )
            .expect("schema");
        setup
    }

    fn hours(link_id: i64, n: i64) -> ClickBatch {
        ClickBatch {
            hours: (0..n)
                .map(|hour| HourCount {
                    link_id,
                    hour,
                    total: 3,
                    humans: 3,
                    bots: 0,
                })
                .collect(),
            ..ClickBatch::default()
        }
    }

    fn writer(path: std::path::PathBuf, query_timeout: Duration) -> SqliteClickWriter {
        SqliteClickWriter::new(
            path,
            Synchronous::Normal,
            Duration::from_secs(5),
            query_timeout,
        )
    }

    /// The progress handler is the only bound on a write that holds no
    /// lock wait: a trigger that would run for many seconds stands for a
    /// runaway statement or a hung disk.
    #[test]
    fn a_write_past_the_query_time_out_is_interrupted_and_rolled_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("clicks.db");
        let setup = schema(&path);
        setup
            .execute_batch(
                "create trigger slow after insert on link_counts begin
                     select count(*) from (with recursive c(x) as
                         (select 1 union all select x + 1 from c limit 100000000) select x from c);
                 end;",
            )
            .expect("schema");
        let writer = writer(path, Duration::from_millis(100));
        let batch = hours(1, 1);
        let started = Instant::now();
        let failed = writer.write(&batch);
        let took = started.elapsed();
        assert!(
            matches!(failed, Err(StoreError::Unavailable(_))),
            "an interrupted write is the store's absence: {failed:?}"
        );
        // A hundred million rows take SQLite many seconds; the bound is
        // 100 ms, and a loaded CI machine gets room.
        assert!(took < Duration::from_secs(3), "interrupted after {took:?}");
        assert_eq!(count_of(&setup, "select count(*) from click_hours"), 0);
        assert_eq!(
            count_of(&setup, "select coalesce(sum(visits), 0) from link_counts"),
            0
        );

        // Fixed, the same batch goes in, on a fresh connection.
        setup.execute_batch("drop trigger slow").expect("drop");
        writer.write(&batch).expect("written");
        assert_eq!(count_of(&setup, "select total from click_hours"), 3);
        assert_eq!(
            count_of(&setup, "select coalesce(sum(visits), 0) from link_counts"),
            3
        );
    }

    /// On the click worker's thread a write pauses in its stretches of
    /// work (`breath`), and is whole.
    #[test]
    fn a_write_pauses_on_a_breathing_thread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("clicks.db");
        let setup = schema(&path);
        let writer = writer(path, Duration::from_secs(30));
        let paused = std::thread::spawn(move || {
            breath::start(Duration::ZERO);
            writer.write(&hours(1, 200)).expect("written");
            breath::pauses()
        })
        .join()
        .expect("thread");
        assert!(paused > 0, "the progress handler is a pause point");
        assert_eq!(count_of(&setup, "select sum(total) from click_hours"), 600);
        assert_eq!(
            count_of(&setup, "select coalesce(sum(visits), 0) from link_counts"),
            600
        );
    }
}
