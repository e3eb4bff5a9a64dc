//! Looking at a store without changing it, for `kurz doctor`: can it be
//! reached, which migrations it has, what time its server thinks it is,
//! and does Redis answer.
//!
//! Nothing here migrates or writes. Only [`DbOptions::sqlite_file`] lets a
//! caller avoid the one side effect left, SQLite creating a missing file on
//! the first connection.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use kurz_core::error::BoxError;

use crate::db::Pool;
use crate::migrate::migrator;
use crate::{open, Database, DbKind, DbOptions, OpenError};

/// Why the store (or Redis) could not be looked at.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Nothing answered in time: the server is down, or the host or port is
    /// wrong, or a firewall drops the packets.
    #[error("no answer in time")]
    NoAnswer,
    /// The server answered and said no, in its own words (a wrong password,
    /// an unknown database).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Other(BoxError),
}

impl ProbeError {
    fn from_sqlx(e: sqlx::Error) -> Self {
        match e {
            // sqlx retries a refused connection until the acquire time-out.
            sqlx::Error::PoolTimedOut => Self::NoAnswer,
            sqlx::Error::Database(db) => Self::Refused(db.message().to_owned()),
            other => Self::Other(Box::new(other)),
        }
    }
}

/// One migration, as this binary knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationName {
    pub version: i64,
    pub description: String,
}

/// How the database's migrations compare with the ones built into this
/// binary.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MigrationReport {
    /// Known to this binary and applied.
    pub applied: usize,
    /// Known to this binary and not applied yet: the next start applies
    /// them.
    pub pending: Vec<MigrationName>,
    /// Applied by a newer kurz; this binary does not know them.
    pub unknown: Vec<i64>,
    /// Applied, but with other SQL than this binary's: someone edited a
    /// migration after it ran.
    pub changed: Vec<i64>,
    /// Started and never finished (a crash or an error half-way).
    pub failed: Vec<i64>,
    /// Whether this binary starts on a database with migrations it does
    /// not know (see `unknown`).
    pub tolerates_unknown: bool,
}

impl DbOptions {
    /// The file of a SQLite database; `None` for a server or an in-memory
    /// database.
    pub fn sqlite_file(&self) -> Result<Option<PathBuf>, OpenError> {
        open::sqlite_file(self, DbKind::from_url(&self.url)?)
    }
}

impl Database {
    pub fn kind(&self) -> DbKind {
        self.store.kind
    }

    /// Connects to the primary and runs `select 1`, giving up after
    /// `within` or the pool's acquire time-out, whichever comes first.
    pub async fn check_connection(&self, within: Duration) -> Result<(), ProbeError> {
        let pool = &self.store.primary;
        bounded(within, pool.execute("select 1", &[])).await?;
        Ok(())
    }

    /// Compares the migrations recorded in the database with this binary's,
    /// without applying any.
    pub async fn migrations(&self, within: Duration) -> Result<MigrationReport, ProbeError> {
        let pool = &self.store.primary;
        let kind = self.store.kind;
        let (exists,): (i64,) =
            bounded(within, pool.fetch_one(migrations_table_exists(kind), &[])).await?;
        let recorded: Vec<(i64, bool, Vec<u8>)> = if exists > 0 {
            let sql = "select version, success, checksum from _sqlx_migrations order by version";
            bounded(within, pool.fetch_all(sql, &[])).await?
        } else {
            Vec::new()
        };
        Ok(compare(kind, &recorded))
    }

    /// The database server's clock in milliseconds since the Unix epoch;
    /// `None` for SQLite, which runs on this machine's clock.
    pub async fn server_time_millis(&self, within: Duration) -> Result<Option<i64>, ProbeError> {
        let sql = match &self.store.primary {
            Pool::Sqlite(_) => return Ok(None),
            Pool::MySql(_) => "select cast(unix_timestamp(now(3)) * 1000 as signed)",
            Pool::Postgres(_) => "select (extract(epoch from clock_timestamp()) * 1000)::bigint",
        };
        let (millis,): (i64,) = bounded(within, self.store.primary.fetch_one(sql, &[])).await?;
        Ok(Some(millis))
    }
}

/// One store call, given up after `within`.
async fn bounded<T>(
    within: Duration,
    call: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, ProbeError> {
    match tokio::time::timeout(within, call).await {
        Ok(result) => result.map_err(ProbeError::from_sqlx),
        Err(_) => Err(ProbeError::NoAnswer),
    }
}

fn migrations_table_exists(kind: DbKind) -> &'static str {
    match kind {
        DbKind::Sqlite => {
            "select count(*) from sqlite_master where type = 'table' and name = '_sqlx_migrations'"
        }
        DbKind::MySql => {
            "select count(*) from information_schema.tables \
             where table_schema = database() and table_name = '_sqlx_migrations'"
        }
        DbKind::Postgres => {
            "select count(*) from information_schema.tables \
             where table_schema = current_schema() and table_name = '_sqlx_migrations'"
        }
    }
}

/// `recorded`: version, success and checksum of each row of
/// `_sqlx_migrations`.
fn compare(kind: DbKind, recorded: &[(i64, bool, Vec<u8>)]) -> MigrationReport {
    let migrator = migrator(kind);
    let known: HashMap<i64, &[u8]> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| (m.version, &*m.checksum))
        .collect();
    let mut report = MigrationReport {
        // sqlx's own rule when it migrates; the field is public for its
        // macro, and the lock file pins the version.
        tolerates_unknown: migrator.ignore_missing,
        ..MigrationReport::default()
    };
    for (version, success, checksum) in recorded {
        match known.get(version) {
            None => report.unknown.push(*version),
            Some(_) if !success => report.failed.push(*version),
            Some(expected) if *expected != checksum.as_slice() => report.changed.push(*version),
            Some(_) => report.applied += 1,
        }
    }
    report.pending = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .filter(|m| !recorded.iter().any(|(v, _, _)| *v == m.version))
        .map(|m| MigrationName {
            version: m.version,
            description: m.description.to_string(),
        })
        .collect();
    report
}

/// Connects to Redis and sends `PING`, all within `within`.
pub async fn ping_redis(url: &str, within: Duration) -> Result<(), ProbeError> {
    let client = redis::Client::open(url).map_err(|e| ProbeError::Other(Box::new(e)))?;
    let ping = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(within, ping).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e))
            if matches!(
                e.kind(),
                redis::ErrorKind::Server(_) | redis::ErrorKind::AuthenticationFailed
            ) =>
        {
            Err(ProbeError::Refused(e.to_string()))
        }
        Ok(Err(e)) => Err(ProbeError::Other(Box::new(e))),
        Err(_) => Err(ProbeError::NoAnswer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_applied(kind: DbKind) -> Vec<(i64, bool, Vec<u8>)> {
        migrator(kind)
            .iter()
            .map(|m| (m.version, true, m.checksum.to_vec()))
            .collect()
    }

    #[test]
    fn a_database_with_every_migration_is_up_to_date() {
        let recorded = all_applied(DbKind::Sqlite);
        let report = compare(DbKind::Sqlite, &recorded);
        assert_eq!(report.applied, recorded.len());
        assert!(report.pending.is_empty() && report.unknown.is_empty());
        assert!(report.changed.is_empty() && report.failed.is_empty());
    }

    #[test]
    fn missing_unknown_edited_and_failed_migrations_are_told_apart() {
        let mut recorded = all_applied(DbKind::Postgres);
        let last = recorded.pop().expect("at least one migration");
        recorded[0].2 = vec![0; 4];
        recorded.push((last.0, false, last.2));
        recorded.push((99_999_999, true, vec![1]));
        let report = compare(DbKind::Postgres, &recorded);
        assert_eq!(report.changed, vec![recorded[0].0]);
        assert_eq!(report.failed, vec![last.0]);
        assert_eq!(report.unknown, vec![99_999_999]);
        assert!(report.pending.is_empty(), "a failed one is not pending");

        let report = compare(DbKind::MySql, &[]);
        assert_eq!(report.pending.len(), migrator(DbKind::MySql).iter().count());
    }
}
