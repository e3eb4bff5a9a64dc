//! The one place that knows there are three sqlx drivers. The repositories
//! are written once, against [`Pool`], [`Tx`] and [`Exec`]: plain enums over
//! the three backends' concrete types, so every line of SQL-calling code is
//! ordinary Rust that rustfmt formats, the compiler checks once and tools
//! can follow (ADR 0012). Statement text comes from `dialect`; values go
//! through [`Arg`], the few types the schema uses.

use futures_util::TryStreamExt;
use sqlx::mysql::{MySql, MySqlConnection, MySqlRow};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgRow, Postgres};
use sqlx::sqlite::{Sqlite, SqliteConnection, SqliteRow};
use sqlx::{Arguments, Database, Encode, FromRow, Transaction, Type};

use crate::dialect::Dialect;

/// A value bound to a statement: the types the schema uses, nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    Text(&'a str),
    OptText(Option<&'a str>),
}

/// A row type every backend can decode: what `#[derive(FromRow)]` and
/// tuples give.
pub(crate) trait Record:
    for<'r> FromRow<'r, SqliteRow>
    + for<'r> FromRow<'r, MySqlRow>
    + for<'r> FromRow<'r, PgRow>
    + Send
    + Unpin
{
}

impl<T> Record for T where
    T: for<'r> FromRow<'r, SqliteRow>
        + for<'r> FromRow<'r, MySqlRow>
        + for<'r> FromRow<'r, PgRow>
        + Send
        + Unpin
{
}

/// The bound values in a backend's own argument buffer. The only generic
/// function of the store: its bounds name exactly the five types of
/// [`Arg`].
fn arguments<'q, DB>(args: &[Arg<'q>]) -> Result<DB::Arguments<'q>, sqlx::Error>
where
    DB: Database,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
{
    let mut out = DB::Arguments::default();
    out.reserve(args.len(), 0);
    for arg in args {
        match *arg {
            Arg::Int(v) => out.add(v),
            Arg::OptInt(v) => out.add(v),
            Arg::Bool(v) => out.add(v),
            Arg::Text(v) => out.add(v),
            Arg::OptText(v) => out.add(v),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

/// A connection pool of the configured backend.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(sqlx::Pool<Sqlite>),
    MySql(sqlx::Pool<MySql>),
    Postgres(sqlx::Pool<Postgres>),
}

/// A connection taken from a [`Pool`].
#[derive(Debug)]
pub(crate) enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    MySql(PoolConnection<MySql>),
    Postgres(PoolConnection<Postgres>),
}

/// An open transaction; rolled back when dropped without [`Tx::commit`].
#[derive(Debug)]
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    MySql(Transaction<'static, MySql>),
    Postgres(Transaction<'static, Postgres>),
}

/// Where one statement runs: a borrowed connection, pooled or in a
/// transaction.
#[derive(Debug)]
pub(crate) enum Exec<'c> {
    Sqlite(&'c mut SqliteConnection),
    MySql(&'c mut MySqlConnection),
    Postgres(&'c mut PgConnection),
}

impl Pool {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(_) => Dialect::Sqlite,
            Self::MySql(_) => Dialect::MySql,
            Self::Postgres(_) => Dialect::Postgres,
        }
    }

    pub(crate) async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        Ok(match self {
            Self::Sqlite(p) => Conn::Sqlite(p.acquire().await?),
            Self::MySql(p) => Conn::MySql(p.acquire().await?),
            Self::Postgres(p) => Conn::Postgres(p.acquire().await?),
        })
    }

    pub(crate) async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Self::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Self::MySql(p) => Tx::MySql(p.begin().await?),
            Self::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Connections open, and those of them idle.
    pub(crate) fn size_and_idle(&self) -> (u64, u64) {
        let (size, idle) = match self {
            Self::Sqlite(p) => (p.size(), p.num_idle()),
            Self::MySql(p) => (p.size(), p.num_idle()),
            Self::Postgres(p) => (p.size(), p.num_idle()),
        };
        (u64::from(size), idle as u64)
    }

    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite(p) => p.close().await,
            Self::MySql(p) => p.close().await,
            Self::Postgres(p) => p.close().await,
        }
    }

    /// One statement on a connection of its own.
    pub(crate) async fn fetch_optional<T: Record>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<T>, sqlx::Error> {
        self.acquire().await?.exec().fetch_optional(sql, args).await
    }

    pub(crate) async fn fetch_all<T: Record>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<T>, sqlx::Error> {
        self.acquire().await?.exec().fetch_all(sql, args).await
    }

    pub(crate) async fn fetch_one<T: Record>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<T, sqlx::Error> {
        self.acquire().await?.exec().fetch_one(sql, args).await
    }

    /// Rows affected.
    pub(crate) async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64, sqlx::Error> {
        self.acquire().await?.exec().execute(sql, args).await
    }

    /// Hands each row to `f` as it arrives, without collecting them.
    pub(crate) async fn for_each<T: Record>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: &mut (dyn FnMut(T) + Send),
    ) -> Result<(), sqlx::Error> {
        self.acquire().await?.exec().for_each(sql, args, f).await
    }
}

impl Conn {
    pub(crate) fn exec(&mut self) -> Exec<'_> {
        match self {
            Self::Sqlite(c) => Exec::Sqlite(c),
            Self::MySql(c) => Exec::MySql(c),
            Self::Postgres(c) => Exec::Postgres(c),
        }
    }

    /// Takes the connection out of the pool for good: for a session that
    /// may still hold a server-side lock nobody could release.
    pub(crate) fn detach(self) {
        match self {
            Self::Sqlite(c) => drop(c.detach()),
            Self::MySql(c) => drop(c.detach()),
            Self::Postgres(c) => drop(c.detach()),
        }
    }
}

impl Tx {
    pub(crate) fn exec(&mut self) -> Exec<'_> {
        match self {
            Self::Sqlite(t) => Exec::Sqlite(t),
            Self::MySql(t) => Exec::MySql(t),
            Self::Postgres(t) => Exec::Postgres(t),
        }
    }

    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(t) => t.commit().await,
            Self::MySql(t) => t.commit().await,
            Self::Postgres(t) => t.commit().await,
        }
    }
}

impl Exec<'_> {
    pub(crate) async fn fetch_optional<T: Record>(
        self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<T>, sqlx::Error> {
        match self {
            Self::Sqlite(c) => {
                sqlx::query_as_with(sql, arguments::<Sqlite>(args)?)
                    .fetch_optional(c)
                    .await
            }
            Self::MySql(c) => {
                sqlx::query_as_with(sql, arguments::<MySql>(args)?)
                    .fetch_optional(c)
                    .await
            }
            Self::Postgres(c) => {
                sqlx::query_as_with(sql, arguments::<Postgres>(args)?)
                    .fetch_optional(c)
                    .await
            }
        }
    }

    pub(crate) async fn fetch_all<T: Record>(
        self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<T>, sqlx::Error> {
        match self {
            Self::Sqlite(c) => {
                sqlx::query_as_with(sql, arguments::<Sqlite>(args)?)
                    .fetch_all(c)
                    .await
            }
            Self::MySql(c) => {
                sqlx::query_as_with(sql, arguments::<MySql>(args)?)
                    .fetch_all(c)
                    .await
            }
            Self::Postgres(c) => {
                sqlx::query_as_with(sql, arguments::<Postgres>(args)?)
                    .fetch_all(c)
                    .await
            }
        }
    }

    pub(crate) async fn fetch_one<T: Record>(
        self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<T, sqlx::Error> {
        self.fetch_optional(sql, args)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    pub(crate) async fn for_each<T: Record>(
        self,
        sql: &str,
        args: &[Arg<'_>],
        f: &mut (dyn FnMut(T) + Send),
    ) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(c) => {
                let mut rows = sqlx::query_as_with(sql, arguments::<Sqlite>(args)?).fetch(c);
                while let Some(row) = rows.try_next().await? {
                    f(row);
                }
            }
            Self::MySql(c) => {
                let mut rows = sqlx::query_as_with(sql, arguments::<MySql>(args)?).fetch(c);
                while let Some(row) = rows.try_next().await? {
                    f(row);
                }
            }
            Self::Postgres(c) => {
                let mut rows = sqlx::query_as_with(sql, arguments::<Postgres>(args)?).fetch(c);
                while let Some(row) = rows.try_next().await? {
                    f(row);
                }
            }
        }
        Ok(())
    }

    /// Rows affected.
    pub(crate) async fn execute(self, sql: &str, args: &[Arg<'_>]) -> Result<u64, sqlx::Error> {
        Ok(match self {
            Self::Sqlite(c) => sqlx::query_with(sql, arguments::<Sqlite>(args)?)
                .execute(c)
                .await?
                .rows_affected(),
            Self::MySql(c) => sqlx::query_with(sql, arguments::<MySql>(args)?)
                .execute(c)
                .await?
                .rows_affected(),
            Self::Postgres(c) => sqlx::query_with(sql, arguments::<Postgres>(args)?)
                .execute(c)
                .await?
                .rows_affected(),
        })
    }
}

/// A statement put together at run time (filters, partial updates,
/// multi-row inserts): text and arguments grow together, with placeholders
/// in the backend's spelling.
#[derive(Debug)]
pub(crate) struct SqlBuilder<'a> {
    dialect: Dialect,
    text: String,
    args: Vec<Arg<'a>>,
}

impl<'a> SqlBuilder<'a> {
    pub(crate) fn new(dialect: Dialect, start: impl Into<String>) -> Self {
        Self {
            dialect,
            text: start.into(),
            args: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    /// A placeholder for `arg`.
    pub(crate) fn bind(&mut self, arg: Arg<'a>) -> &mut Self {
        self.args.push(arg);
        self.dialect
            .push_placeholder(&mut self.text, self.args.len());
        self
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub(crate) fn sql(&self) -> &str {
        &self.text
    }

    pub(crate) fn args(&self) -> &[Arg<'a>] {
        &self.args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_statements_number_postgres_placeholders_in_order() {
        let mut q = SqlBuilder::new(Dialect::Postgres, "update t set a = ");
        q.bind(Arg::Int(1)).push(", b = ").bind(Arg::Text("x"));
        q.push(" where id = ").bind(Arg::Int(9));
        assert_eq!(q.sql(), "update t set a = $1, b = $2 where id = $3");
        assert_eq!(q.args(), &[Arg::Int(1), Arg::Text("x"), Arg::Int(9)]);
        let mut m = SqlBuilder::new(Dialect::MySql, "select ");
        m.bind(Arg::Bool(true));
        assert_eq!(m.sql(), "select ?");
    }
}
