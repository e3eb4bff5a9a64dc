//! Migrations, one tree per backend (`migrations/<backend>/`), run once per
//! process before anything else touches the store. Processes starting
//! together on a new database take turns: each backend needs its own lock.
//! Migrations run without the query time-out: one may rightly take long on
//! a big table, and cutting it off half-way helps nobody.

use std::fs::{File, TryLockError};
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};

use kurz_core::error::StoreError;

use crate::db::{Conn, Pool};
use crate::error::store_error;
use crate::store::SqlStore;
use crate::DbKind;

static SQLITE: Migrator = sqlx::migrate!("../../migrations/sqlite");
static MYSQL: Migrator = sqlx::migrate!("../../migrations/mysql");
static POSTGRES: Migrator = sqlx::migrate!("../../migrations/postgres");

/// How long the MySQL named lock is waited for.
const LOCK_WAIT_SECS: i64 = 600;

impl SqlStore {
    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        let failed = |e| migrate_error(e, self);
        match &self.primary {
            // sqlx takes no lock for SQLite: a lock file beside the
            // database does.
            Pool::Sqlite(pool) => {
                let _lock = self.lock_file().await?;
                SQLITE.run(pool).await.map_err(failed)
            }
            // sqlx's own lock (`GET_LOCK(name, -1)`) does not wait on
            // MariaDB, which reads a negative time-out as an error and
            // returns at once. A named lock with a real time-out, held by
            // the session that migrates, does; the server frees it if the
            // process dies.
            Pool::MySql(_) => {
                let mut conn = self
                    .primary
                    .acquire()
                    .await
                    .map_err(|e| store_error(e, self.kind))?;
                let migrated = self.migrate_mysql(&mut conn).await;
                let released = conn
                    .exec()
                    .execute(
                        "select release_lock(concat('kurz-migrations:', database()))",
                        &[],
                    )
                    .await;
                if released.is_err() {
                    // A session that cannot say so may still hold the
                    // lock: never hand it back to the pool.
                    conn.detach();
                }
                migrated
            }
            // sqlx holds `pg_advisory_lock` while it migrates.
            Pool::Postgres(pool) => POSTGRES.run(pool).await.map_err(failed),
        }
    }

    async fn migrate_mysql(&self, conn: &mut Conn) -> Result<(), StoreError> {
        let lock =
            format!("select get_lock(concat('kurz-migrations:', database()), {LOCK_WAIT_SECS})");
        let (locked,): (Option<i64>,) = conn
            .exec()
            .fetch_one(&lock, &[])
            .await
            .map_err(|e| store_error(e, self.kind))?;
        if locked != Some(1) {
            return Err(StoreError::Unavailable(
                "another process held the migration lock for 10 minutes".into(),
            ));
        }
        let Conn::MySql(inner) = conn else {
            return Err(StoreError::Other("a MySQL store with another pool".into()));
        };
        MYSQL
            .run_direct(&mut **inner)
            .await
            .map_err(|e| migrate_error(e, self))
    }

    /// Holds the SQLite migration lock file until the guard is dropped.
    async fn lock_file(&self) -> Result<Option<File>, StoreError> {
        let Some(path) = &self.migration_lock else {
            return Ok(None);
        };
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let mut waited = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(file)),
                Err(TryLockError::WouldBlock) => {
                    if !waited {
                        tracing::info!(
                            lock = %path.display(),
                            "another process is migrating this database; waiting"
                        );
                        waited = true;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(TryLockError::Error(e)) => return Err(StoreError::Unavailable(Box::new(e))),
            }
        }
    }
}

/// A migration that could not reach the database is the database's absence
/// (503); anything else is a fault.
fn migrate_error(e: MigrateError, store: &SqlStore) -> StoreError {
    let e = match e {
        MigrateError::Execute(inner) => inner,
        other => sqlx::Error::Migrate(Box::new(other)),
    };
    store_error(e, store.kind)
}

/// The migrations built in for `kind`.
pub(crate) fn migrator(kind: DbKind) -> &'static Migrator {
    match kind {
        DbKind::Sqlite => &SQLITE,
        DbKind::MySql => &MYSQL,
        DbKind::Postgres => &POSTGRES,
    }
}
