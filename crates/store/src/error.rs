//! sqlx errors in domain words.

use kurz_core::error::StoreError;

/// Connection-level failures and lock time-outs mean "try again later";
/// everything else is a bug or bad data.
pub(crate) fn store_error(err: sqlx::Error) -> StoreError {
    let unavailable = match &err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| is_transient_code(&c)),
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(Box::new(err))
    } else {
        StoreError::Other(Box::new(err))
    }
}

/// SQLite's primary result codes for a busy or locked database, an I/O
/// error, a full disk and a file that cannot be opened.
fn is_transient_code(code: &str) -> bool {
    let primary = code.parse::<i32>().map(|c| c & 0xff).unwrap_or(-1);
    matches!(primary, 5 | 6 | 10 | 13 | 14)
}

/// True when the error is a unique-index violation.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}
