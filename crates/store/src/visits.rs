//! Visit counts ([`VisitStore`]).

use async_trait::async_trait;

use kurz_core::error::StoreError;
use kurz_core::ports::VisitStore;

use crate::db::{Arg, SqlBuilder};
use crate::dialect::Dialect;
use crate::store::SqlStore;

#[async_trait]
impl VisitStore for SqlStore {
    async fn take_visit(&self, id: i64) -> Result<bool, StoreError> {
        self.ready().await?;
        let taken = self
            .timed(self.primary.execute(&self.q.take_visit, &[Arg::Int(id)]))
            .await?;
        Ok(taken == 1)
    }

    async fn add_visits(&self, counts: &[(i64, u64)]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        self.ready().await?;
        self.timed(async {
            let mut tx = self.primary.begin().await?;
            if self.q.dialect == Dialect::Sqlite {
                for &(id, n) in counts {
                    tx.exec()
                        .execute(SQLITE_ADD_VISITS, &[count(n), Arg::Int(id)])
                        .await?;
                }
            } else {
                for chunk in counts.chunks(VISITS_PER_STATEMENT) {
                    let statement = add_visits(self.q.dialect, chunk);
                    tx.exec().execute(statement.sql(), statement.args()).await?;
                }
            }
            tx.commit().await
        })
        .await
    }
}

/// Links counted by one statement on MariaDB and PostgreSQL. A flush under
/// uniform traffic touches tens of thousands of links, and one statement
/// each, a network round trip each, could not keep up: the counts waiting
/// in memory took RSS from 139 to 182 MiB in the cache benchmark. SQLite
/// keeps one statement a link (no network; measured, batching there ended
/// each flush sooner and so rewrote the table's pages to the WAL more
/// often: cached redirects fell from 126,000 to 91,000 a second under
/// uniform traffic over 1M links). Two arguments a link, far below the
/// servers' limits.
const VISITS_PER_STATEMENT: usize = 1000;

const SQLITE_ADD_VISITS: &str = "update links set visits = visits + ? where id = ?";

fn count(n: u64) -> Arg<'static> {
    Arg::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// One `update` adding each `(id, n)` of `chunk` (distinct ids) to its
/// link's visits, on a server database.
fn add_visits(dialect: Dialect, chunk: &[(i64, u64)]) -> SqlBuilder<'static> {
    let mut b;
    if dialect == Dialect::MySql {
        b = SqlBuilder::new(dialect, "update links l join (");
        for (i, &(id, n)) in chunk.iter().enumerate() {
            b.push(if i == 0 {
                "select "
            } else {
                " union all select "
            })
            .bind(Arg::Int(id))
            .push(" as id, ")
            .bind(count(n))
            .push(" as n");
        }
        b.push(") v on l.id = v.id set l.visits = l.visits + v.n");
    } else {
        // PostgreSQL reads untyped parameters in a `values` list as text.
        b = SqlBuilder::new(
            dialect,
            "update links set visits = links.visits + v.n from (values ",
        );
        for (i, &(id, n)) in chunk.iter().enumerate() {
            b.push(if i == 0 { "(" } else { ", (" })
                .bind(Arg::Int(id))
                .push("::bigint, ")
                .bind(count(n))
                .push("::bigint)");
        }
        b.push(") as v (id, n) where links.id = v.id");
    }
    b
}
