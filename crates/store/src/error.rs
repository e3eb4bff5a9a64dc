//! sqlx and rusqlite errors in domain words.

use rusqlite::ErrorCode;

use kurz_core::error::StoreError;

use crate::DbKind;

/// Connection-level failures, time-outs, and the server-side codes that mean
/// "not now" become [`StoreError::Unavailable`] (503); everything else is a
/// bug or bad data.
pub(crate) fn store_error(err: sqlx::Error, kind: DbKind) -> StoreError {
    let unavailable = match &err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| is_transient(kind, &c)),
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(Box::new(err))
    } else {
        StoreError::Other(Box::new(err))
    }
}

fn is_transient(kind: DbKind, code: &str) -> bool {
    match kind {
        // Busy, locked, I/O error, disk full, cannot open.
        DbKind::Sqlite => {
            let primary = code.parse::<i32>().map(|c| c & 0xff).unwrap_or(-1);
            matches!(primary, 5 | 6 | 10 | 13 | 14)
        }
        // SQLSTATE: connection exceptions (08), insufficient resources (53),
        // operator intervention (57: shutdown, cannot connect now),
        // serialization failures and deadlocks (40001, 40P01).
        DbKind::Postgres => {
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57")
                || code == "40001"
                || code == "40P01"
        }
        // SQLSTATE as MySQL reports it: connection (08S01), lock wait
        // time-out and deadlock (HY000 / 40001), too many connections (08004).
        DbKind::MySql => matches!(code, "08S01" | "08004" | "40001" | "HY000" | "70100"),
    }
}

/// Busy, locked, I/O, "cannot open" and a call interrupted at its time-out
/// are the store's absence (503), as for sqlx's errors: for the lookups and
/// click writes that run on rusqlite (`sqlite_reader`, `sqlite_clicks`).
pub(crate) fn sqlite_error(e: rusqlite::Error) -> StoreError {
    let transient = matches!(
        e.sqlite_error_code(),
        Some(
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
                | ErrorCode::CannotOpen
                | ErrorCode::OperationInterrupted
        )
    );
    if transient {
        StoreError::Unavailable(Box::new(e))
    } else {
        StoreError::Other(Box::new(e))
    }
}

/// True when the error is a unique-index violation.
fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// An insert's outcome: `false` when a unique index refused the row.
pub(crate) fn inserted<T>(result: Result<T, sqlx::Error>) -> Result<bool, sqlx::Error> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}
