//! Connecting to each backend. Pools are lazy: the process starts even when
//! the database is down, and the store becomes ready when it answers.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::mysql::MySqlConnectOptions;
use sqlx::pool::PoolOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use kurz_core::clock::Clock;

use crate::db::Pool;
use crate::store::{Parts, SqlStore};
use crate::{DbKind, DbOptions, OpenError, Synchronous};

fn bad_url(e: &sqlx::Error) -> OpenError {
    OpenError::BadUrl(e.to_string())
}

/// The pools of the primary and the replicas, and the store over them.
pub(crate) fn store(o: &DbOptions, clock: Arc<dyn Clock>) -> Result<SqlStore, OpenError> {
    let kind = DbKind::from_url(&o.url)?;
    let mut replicas = Vec::with_capacity(o.replicas.len());
    for url in &o.replicas {
        if DbKind::from_url(url)? != kind {
            return Err(OpenError::MixedReplicas);
        }
        replicas.push(pool(o, kind, url)?);
    }
    let sqlite_file = sqlite_file(o, kind)?;
    // SQLite writes clicks on a connection of its own outside sqlx
    // (`sqlite_clicks`).
    let clicks = if kind == DbKind::Sqlite {
        None
    } else {
        let one = DbOptions {
            max_connections: 1,
            ..o.clone()
        };
        Some(pool(&one, kind, &o.url)?)
    };
    Ok(SqlStore::new(Parts {
        kind,
        primary: pool(o, kind, &o.url)?,
        replicas,
        clicks,
        id_block: o.id_block,
        query_timeout: o.query_timeout,
        migration_lock: sqlite_file.as_ref().map(|file| {
            let mut name = file.clone().into_os_string();
            name.push(".lock");
            PathBuf::from(name)
        }),
        sqlite_file,
        busy_timeout: o.busy_timeout,
        synchronous: o.synchronous,
        clock,
        max_connections: o.max_connections.max(1),
    }))
}

/// One lazy pool.
fn pool(o: &DbOptions, kind: DbKind, url: &str) -> Result<Pool, OpenError> {
    fn options<DB: sqlx::Database>(o: &DbOptions) -> PoolOptions<DB> {
        PoolOptions::<DB>::new()
            .max_connections(o.max_connections.max(1))
            .acquire_timeout(o.acquire_timeout)
    }
    Ok(match kind {
        DbKind::Sqlite => Pool::Sqlite(options(o).connect_lazy_with(sqlite_options(o, url)?)),
        DbKind::MySql => {
            // sqlx speaks MariaDB through the mysql scheme.
            let url = url.replacen("mariadb://", "mysql://", 1);
            let connect = MySqlConnectOptions::from_str(&url)
                .map_err(|e| bad_url(&e))?
                .charset("utf8mb4");
            Pool::MySql(options(o).connect_lazy_with(connect))
        }
        DbKind::Postgres => {
            let connect = PgConnectOptions::from_str(url).map_err(|e| bad_url(&e))?;
            Pool::Postgres(options(o).connect_lazy_with(connect))
        }
    })
}

fn sqlite_options(o: &DbOptions, url: &str) -> Result<SqliteConnectOptions, OpenError> {
    Ok(SqliteConnectOptions::from_str(url)
        .map_err(|e| bad_url(&e))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match o.synchronous {
            Synchronous::Full => SqliteSynchronous::Full,
            Synchronous::Normal => SqliteSynchronous::Normal,
        })
        .busy_timeout(o.busy_timeout)
        .foreign_keys(true))
}

/// The file of a SQLite database (its migration lock and its lookup reader
/// go with it); an in-memory database, or a server, has none.
pub(crate) fn sqlite_file(o: &DbOptions, kind: DbKind) -> Result<Option<PathBuf>, OpenError> {
    if kind != DbKind::Sqlite || o.url.contains(":memory:") || o.url.contains("mode=memory") {
        return Ok(None);
    }
    Ok(Some(sqlite_options(o, &o.url)?.get_filename().to_owned()))
}
