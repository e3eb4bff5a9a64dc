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
            for chunk in counts.chunks(VISITS_PER_STATEMENT) {
                let statement = add_visits(self.q.dialect, chunk);
                tx.exec().execute(statement.sql(), statement.args()).await?;
            }
            tx.commit().await
        })
        .await
    }
}

/// Links counted by one statement. A flush under uniform traffic touches
/// tens of thousands of links; one statement each cost a round trip each
/// (on SQLite, two thread switches each) and was the largest cost of a
/// cached redirect (BENCHMARKS.md, issue 8). Two arguments a link, far
/// below every backend's limit.
const VISITS_PER_STATEMENT: usize = 1000;

/// One `update` adding each `(id, n)` of `chunk` (distinct ids) to its
/// link's visits.
fn add_visits(dialect: Dialect, chunk: &[(i64, u64)]) -> SqlBuilder<'static> {
    let count = |n: u64| Arg::Int(i64::try_from(n).unwrap_or(i64::MAX));
    match dialect {
        Dialect::MySql => {
            let mut b = SqlBuilder::new(dialect, "update links l join (");
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
            b
        }
        Dialect::Sqlite | Dialect::Postgres => {
            // A `values` list: SQLite caps `union all` at 500 terms but
            // not `values` rows. SQLite names its columns `column1`,
            // `column2`; PostgreSQL takes names, and types from casts.
            let (cast, id, n, alias) = if dialect == Dialect::Postgres {
                ("::bigint", "v.id", "v.n", " as v (id, n)")
            } else {
                ("", "v.column1", "v.column2", " as v")
            };
            let mut b = SqlBuilder::new(
                dialect,
                format!("update links set visits = links.visits + {n} from (values "),
            );
            for (i, &(link, clicks)) in chunk.iter().enumerate() {
                b.push(if i == 0 { "(" } else { ", (" })
                    .bind(Arg::Int(link))
                    .push(cast)
                    .push(", ")
                    .bind(count(clicks))
                    .push(cast)
                    .push(")");
            }
            b.push(")").push(alias).push(" where links.id = ").push(id);
            b
        }
    }
}
