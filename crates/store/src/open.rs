//! Connecting to each backend. Pools are lazy: the process starts even when
//! the database is down, and the store becomes ready when it answers.

use std::str::FromStr;
use std::sync::Arc;

use sqlx::migrate::Migrator;
use sqlx::mysql::{MySql, MySqlConnectOptions};
use sqlx::pool::PoolOptions;
use sqlx::postgres::{PgConnectOptions, Postgres};
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use kurz_core::account::{ApiKey, NewApiKey, NewUser, Principal, Role, User};
use kurz_core::error::{AccountError, InsertError, StoreError};
use kurz_core::link::{Link, LinkChanges, ListQuery, NewLink};

use crate::dialect::{Dialect, Queries};
use crate::sql::{sql_store, SqlStore};
use crate::transfer::transfer_impl;
use crate::{DbKind, DbOptions, OpenError, Synchronous};

static SQLITE: Migrator = sqlx::migrate!("../../migrations/sqlite");
static MYSQL: Migrator = sqlx::migrate!("../../migrations/mysql");
static POSTGRES: Migrator = sqlx::migrate!("../../migrations/postgres");

impl SqlStore<Sqlite> {
    fn migrator(&self) -> &'static Migrator {
        &SQLITE
    }
}

impl SqlStore<MySql> {
    fn migrator(&self) -> &'static Migrator {
        &MYSQL
    }
}

impl SqlStore<Postgres> {
    fn migrator(&self) -> &'static Migrator {
        &POSTGRES
    }
}

sql_store!(Sqlite);
sql_store!(MySql);
sql_store!(Postgres);
transfer_impl!(Sqlite);
transfer_impl!(MySql);
transfer_impl!(Postgres);

fn bad_url(e: &sqlx::Error) -> OpenError {
    OpenError::BadUrl(e.to_string())
}

/// Lazy pools for the primary and the replicas, and the store over them.
fn build<DB: sqlx::Database>(
    o: &DbOptions,
    kind: DbKind,
    dialect: Dialect,
    options: impl Fn(&str) -> Result<<DB::Connection as sqlx::Connection>::Options, sqlx::Error>,
) -> Result<Arc<SqlStore<DB>>, OpenError> {
    let pool = |url: &str| -> Result<sqlx::Pool<DB>, OpenError> {
        let connect = options(url).map_err(|e| bad_url(&e))?;
        Ok(PoolOptions::<DB>::new()
            .max_connections(o.max_connections.max(1))
            .acquire_timeout(o.acquire_timeout)
            .connect_lazy_with(connect))
    };
    let replicas = o
        .replicas
        .iter()
        .map(|r| pool(r))
        .collect::<Result<_, _>>()?;
    Ok(Arc::new(SqlStore::new(
        kind,
        pool(&o.url)?,
        replicas,
        Queries::new(dialect),
        o.id_block,
        o.query_timeout,
    )))
}

pub(crate) fn sqlite(o: &DbOptions) -> Result<Arc<SqlStore<Sqlite>>, OpenError> {
    build(o, DbKind::Sqlite, Dialect::Sqlite, |url| {
        Ok(SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match o.synchronous {
                Synchronous::Full => SqliteSynchronous::Full,
                Synchronous::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(o.busy_timeout)
            .foreign_keys(true))
    })
}

pub(crate) fn mysql(o: &DbOptions) -> Result<Arc<SqlStore<MySql>>, OpenError> {
    build(o, DbKind::MySql, Dialect::MySql, |url| {
        // sqlx speaks MariaDB through the mysql scheme.
        let url = url.replacen("mariadb://", "mysql://", 1);
        Ok(MySqlConnectOptions::from_str(&url)?.charset("utf8mb4"))
    })
}

pub(crate) fn postgres(o: &DbOptions) -> Result<Arc<SqlStore<Postgres>>, OpenError> {
    build(o, DbKind::Postgres, Dialect::Postgres, |url| {
        PgConnectOptions::from_str(url)
    })
}
