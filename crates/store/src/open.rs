//! Connecting to each backend. Pools are lazy: the process starts even when
//! the database is down, and the store becomes ready when it answers.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::mysql::{MySql, MySqlConnectOptions};
use sqlx::pool::PoolOptions;
use sqlx::postgres::{PgConnectOptions, Postgres};
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use kurz_core::account::{ApiKey, NewApiKey, NewUser, Principal, Role, User};
use kurz_core::error::{AccountError, InsertError, StoreError};
use kurz_core::link::{Link, LinkChanges, ListQuery, NewLink};

use crate::dialect::{Dialect, Queries};
use crate::error::store_error;
use crate::sql::{sql_store, SqlStore};
use crate::transfer::transfer_impl;
use crate::{DbKind, DbOptions, OpenError, Synchronous};

static SQLITE: Migrator = sqlx::migrate!("../../migrations/sqlite");
static MYSQL: Migrator = sqlx::migrate!("../../migrations/mysql");
static POSTGRES: Migrator = sqlx::migrate!("../../migrations/postgres");

/// A failed migration in domain words: one that could not reach the
/// database is the database's absence (503), anything else a fault.
fn migrate_error(e: MigrateError, kind: DbKind) -> StoreError {
    let e = match e {
        MigrateError::Execute(inner) => inner,
        other => sqlx::Error::Migrate(Box::new(other)),
    };
    store_error(e, kind)
}

// Migrations run without the query time-out: a migration may rightly take
// long on a big table, and cutting it off half-way helps nobody. Each
// backend serialises concurrent migrators its own way, so that processes
// starting together on a new database take turns.

impl SqlStore<Sqlite> {
    /// sqlx takes no lock for SQLite: a lock file beside the database does.
    async fn migrate(&self) -> Result<(), StoreError> {
        let _lock = self.lock_migrations().await?;
        SQLITE
            .run(&self.primary)
            .await
            .map_err(|e| migrate_error(e, self.kind))
    }
}

impl SqlStore<MySql> {
    /// sqlx's own lock (`GET_LOCK(name, -1)`) does not wait on MariaDB,
    /// which reads a negative time-out as an error and returns at once. A
    /// named lock with a real time-out, held by the session that migrates,
    /// does; the server frees it if the process dies.
    async fn migrate(&self) -> Result<(), StoreError> {
        const LOCK: &str = "select get_lock(concat('kurz-migrations:', database()), 600)";
        const UNLOCK: &str = "select release_lock(concat('kurz-migrations:', database()))";
        let err = |e| store_error(e, self.kind);
        let mut conn = self.primary.acquire().await.map_err(err)?;
        let locked: Option<i64> = sqlx::query_scalar(LOCK)
            .fetch_one(&mut *conn)
            .await
            .map_err(err)?;
        if locked != Some(1) {
            return Err(StoreError::Unavailable(
                "another process held the migration lock for 10 minutes".into(),
            ));
        }
        let migrated = MYSQL
            .run_direct(&mut *conn)
            .await
            .map_err(|e| migrate_error(e, self.kind));
        let released = sqlx::query(UNLOCK).execute(&mut *conn).await;
        if released.is_err() {
            // A session that cannot say so may still hold the lock: never
            // hand it back to the pool.
            conn.detach();
        }
        migrated
    }
}

impl SqlStore<Postgres> {
    /// sqlx holds `pg_advisory_lock` while it migrates.
    async fn migrate(&self) -> Result<(), StoreError> {
        POSTGRES
            .run(&self.primary)
            .await
            .map_err(|e| migrate_error(e, self.kind))
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
    migration_lock: Option<PathBuf>,
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
        migration_lock,
    )))
}

pub(crate) fn sqlite(o: &DbOptions) -> Result<Arc<SqlStore<Sqlite>>, OpenError> {
    // Beside the database file; an in-memory database belongs to one
    // process and needs none.
    let file = SqliteConnectOptions::from_str(&o.url)
        .map_err(|e| bad_url(&e))?
        .get_filename()
        .to_owned();
    let in_memory = o.url.contains(":memory:") || o.url.contains("mode=memory");
    let lock = (!in_memory).then(|| {
        let mut name = file.into_os_string();
        name.push(".lock");
        PathBuf::from(name)
    });
    build(o, DbKind::Sqlite, Dialect::Sqlite, lock, |url| {
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
    build(o, DbKind::MySql, Dialect::MySql, None, |url| {
        // sqlx speaks MariaDB through the mysql scheme.
        let url = url.replacen("mariadb://", "mysql://", 1);
        Ok(MySqlConnectOptions::from_str(&url)?.charset("utf8mb4"))
    })
}

pub(crate) fn postgres(o: &DbOptions) -> Result<Arc<SqlStore<Postgres>>, OpenError> {
    build(o, DbKind::Postgres, Dialect::Postgres, None, |url| {
        PgConnectOptions::from_str(url)
    })
}
