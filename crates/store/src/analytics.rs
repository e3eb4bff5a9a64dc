//! Click analytics ([`AnalyticsStore`]): the worker's additive writes and
//! the stats routes' reads of hourly rollups.

use std::ops::Range;

use async_trait::async_trait;
use time::OffsetDateTime;

use kurz_core::analytics::{
    ClickBatch, Device, Facet, HourCount, Named, StatsRows, StatsScope, VisitCursor, VisitDetail,
    VisitRecord,
};
use kurz_core::clock::{from_millis, to_millis};
use kurz_core::error::StoreError;
use kurz_core::ports::AnalyticsStore;

use crate::db::{Arg, SqlBuilder, Tx};
use crate::dialect::Dialect;
use crate::store::SqlStore;

/// Rows per multi-row statement: far below every backend's limit on bound
/// values (nine a row at most here), large enough that a flush is a few
/// statements rather than thousands.
const ROWS_PER_STATEMENT: usize = 500;

/// Links whose counters one statement adds to, on MariaDB and PostgreSQL.
/// SQLite keeps one statement a link: no network there, and measured,
/// batching ended each flush sooner and so rewrote the table's pages to
/// the WAL more often (issue 8).
const VISITS_PER_STATEMENT: usize = 1000;

/// Hourly rows a transaction of the click worker writes at most on SQLite.
/// A transaction's pages are copied back from the WAL by the automatic
/// checkpoint, which runs after a commit once the WAL passes 1,000 pages,
/// in one call the worker cannot pause in (`breath`). Under a uniform
/// flood over a million links, at 5,000 rows the WAL grew to 33-43 MB, at
/// 500 to 9 MB, and the p99 of redirects fell (issue 8, ADR 0029). A
/// flush's rows go out in key order, so its transactions touch nearly
/// disjoint pages and the total written stays the same; what grows is the
/// number of commits.
const SQLITE_HOURS_PER_TRANSACTION: usize = 500;
/// On MariaDB and PostgreSQL the writes run in the server, not on the
/// worker's thread, and each commit is a round trip and a log flush.
const HOURS_PER_TRANSACTION: usize = 5000;

#[async_trait]
impl AnalyticsStore for SqlStore {
    fn hours_per_transaction(&self) -> usize {
        match self.q.dialect {
            Dialect::Sqlite => SQLITE_HOURS_PER_TRANSACTION,
            Dialect::MySql | Dialect::Postgres => HOURS_PER_TRANSACTION,
        }
    }

    async fn write_clicks(&self, batch: &ClickBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        // Not `ready()`: migrating here would open primary connections on
        // the click writer's thread. Clicks exist only once redirects have
        // read the store, so it is ready by then; until it is, the writer
        // retries.
        if !self.is_ready() {
            return Err(StoreError::Unavailable(
                "the store is not ready for clicks yet".into(),
            ));
        }
        if let Some(writer) = &self.sqlite_clicks {
            let started = std::time::Instant::now();
            let written = tracing::debug_span!("store.query", op = "write_clicks")
                .in_scope(|| writer.write(batch));
            self.metrics
                .observe("write_clicks", started.elapsed(), written.is_err());
            return written;
        }
        let d = self.q.dialect;
        let pool = self.clicks.as_ref().unwrap_or(&self.primary);
        // Every statement writes (see `store`): SQLite takes its write lock
        // at the first, instead of failing busy half-way.
        self.timed("write_clicks", async {
            let mut tx = pool.begin().await?;
            for s in row_statements(d, batch) {
                tx.exec().execute(s.sql(), s.args()).await?;
            }
            // In key order, table after table, as every flush: two nodes'
            // flushes never wait on each other in a cycle.
            add_link_visits(&mut tx, d, &batch.link_totals()).await?;
            tx.commit().await
        })
        .await
    }

    async fn stats(
        &self,
        scope: StatsScope,
        hours: Range<i64>,
        limit: u32,
    ) -> Result<StatsRows, StoreError> {
        self.ready().await?;
        let d = self.q.dialect;
        let pool = self.reader();
        let sum = |e: &str| sum(d, e);
        let mut q = SqlBuilder::new(
            d,
            format!(
                "select h.hour, {}, {}, {} from click_hours h",
                sum("h.total"),
                sum("h.humans"),
                sum("h.bots")
            ),
        );
        scoped(&mut q, scope, "h", &hours);
        q.push(" group by h.hour order by h.hour");
        let rows: Vec<(i64, i64, i64, i64)> = self
            .timed("stats", pool.fetch_all(q.sql(), q.args()))
            .await?;
        let hours_out = rows
            .into_iter()
            .map(|(hour, total, humans, bots)| HourCount {
                link_id: 0,
                hour,
                total: unsigned(total),
                humans: unsigned(humans),
                bots: unsigned(bots),
            })
            .collect();

        let mut facets = Vec::with_capacity(Facet::ALL.len());
        for facet in Facet::ALL {
            let mut q = SqlBuilder::new(
                d,
                format!(
                    "select {} as name, {} as c from click_facets f",
                    d.text("f.name"),
                    sum("f.n")
                ),
            );
            scoped(&mut q, scope, "f", &hours);
            q.push(" and f.facet = ").bind(Arg::Int(facet.code()));
            q.push(" group by f.name order by c desc, f.name limit ")
                .bind(Arg::Int(i64::from(limit)));
            let rows: Vec<(String, i64)> = self
                .timed("stats", pool.fetch_all(q.sql(), q.args()))
                .await?;
            facets.push((facet, named(rows)));
        }

        let top_links = if matches!(scope, StatsScope::Link(_)) {
            Vec::new()
        } else {
            let mut q = SqlBuilder::new(
                d,
                format!(
                    "select {} as slug, {} as c from click_hours h",
                    d.text("l.slug"),
                    sum("h.total")
                ),
            );
            scoped(&mut q, scope, "h", &hours);
            q.push(" group by l.id, l.slug order by c desc, l.slug limit ")
                .bind(Arg::Int(i64::from(limit)));
            let rows: Vec<(String, i64)> = self
                .timed("stats", pool.fetch_all(q.sql(), q.args()))
                .await?;
            named(rows)
        };
        Ok(StatsRows {
            hours: hours_out,
            facets,
            top_links,
        })
    }

    async fn visits(
        &self,
        link_id: i64,
        after: Option<VisitCursor>,
        limit: u32,
    ) -> Result<Vec<VisitRecord>, StoreError> {
        self.ready().await?;
        let mut q = SqlBuilder::new(
            self.q.dialect,
            "select id, at, referrer, country, browser, os, device, bot, user_agent \
             from visits where link_id = ",
        );
        q.bind(Arg::Int(link_id));
        if let Some(c) = after {
            // `at <= ?` bounds the index range scan; the rest breaks ties.
            q.push(" and at <= ")
                .bind(Arg::Int(c.at_ms))
                .push(" and (at < ")
                .bind(Arg::Int(c.at_ms))
                .push(" or id < ")
                .bind(Arg::Int(c.id))
                .push(")");
        }
        q.push(" order by at desc, id desc limit ")
            .bind(Arg::Int(i64::from(limit)));
        let rows: Vec<VisitRow> = self
            .timed("visits", self.reader().fetch_all(q.sql(), q.args()))
            .await?;
        Ok(rows.into_iter().map(VisitRow::into_record).collect())
    }

    async fn purge_visits(&self, before: OffsetDateTime, max: u32) -> Result<u64, StoreError> {
        self.ready().await?;
        let sql = match self.q.dialect {
            Dialect::MySql => "delete from visits where at < ? limit ?".to_owned(),
            d => d.placeholders(
                "delete from visits where id in (select id from visits where at < ? limit ?)",
            ),
        };
        let args = [Arg::Int(to_millis(before)), Arg::Int(i64::from(max))];
        self.timed("purge_visits", self.primary.execute(&sql, &args))
            .await
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct VisitRow {
    id: i64,
    at: i64,
    referrer: String,
    country: String,
    browser: String,
    os: String,
    device: String,
    bot: bool,
    user_agent: Option<String>,
}

impl VisitRow {
    pub(crate) fn into_record(self) -> VisitRecord {
        let device = Device::parse(&self.device).unwrap_or(Device::Unknown);
        VisitRecord {
            id: self.id,
            detail: VisitDetail {
                at: from_millis(self.at),
                referrer: self.referrer.into(),
                country: self.country.into(),
                browser: self.browser.into(),
                os: self.os.into(),
                device,
                bot: self.bot,
                user_agent: self.user_agent.map(String::into_boxed_str),
            },
        }
    }
}

/// `from` clause continued: the join and conditions that restrict rows of
/// `alias` (a rollup table) to the scope's links and the hours.
fn scoped(q: &mut SqlBuilder<'_>, scope: StatsScope, alias: &str, hours: &Range<i64>) {
    match scope {
        StatsScope::Link(id) => {
            // The top-links query names `l`; a one-link scope never asks it.
            q.push(&format!(" where {alias}.link_id = "))
                .bind(Arg::Int(id));
        }
        StatsScope::Owner(owner) => {
            q.push(&format!(
                " join links l on l.id = {alias}.link_id where l.deleted_at is null and l.owner_id = "
            ))
            .bind(Arg::Int(owner));
        }
        StatsScope::All => {
            q.push(&format!(
                " join links l on l.id = {alias}.link_id where l.deleted_at is null"
            ));
        }
    }
    q.push(&format!(" and {alias}.hour >= "))
        .bind(Arg::Int(hours.start))
        .push(&format!(" and {alias}.hour < "))
        .bind(Arg::Int(hours.end));
}

/// `sum(e)` as a 64-bit integer: MySQL and PostgreSQL widen sums of
/// `bigint` to decimals.
pub(crate) fn sum(d: Dialect, e: &str) -> String {
    match d {
        Dialect::Sqlite => format!("sum({e})"),
        Dialect::MySql => format!("cast(sum({e}) as signed)"),
        Dialect::Postgres => format!("cast(sum({e}) as bigint)"),
    }
}

fn named(rows: Vec<(String, i64)>) -> Vec<Named> {
    rows.into_iter()
        .map(|(name, count)| Named {
            name,
            count: unsigned(count),
        })
        .collect()
}

fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(crate) fn count(n: u64) -> Arg<'static> {
    Arg::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The additive tail of an upsert: `columns` of the existing row plus the
/// new row's.
fn add_on_conflict(b: &mut SqlBuilder<'_>, d: Dialect, table: &str, key: &str, columns: &[&str]) {
    let sets: Vec<String> = columns
        .iter()
        .map(|c| match d {
            Dialect::MySql => format!("{c} = {c} + values({c})"),
            Dialect::Sqlite | Dialect::Postgres => format!("{c} = {table}.{c} + excluded.{c}"),
        })
        .collect();
    match d {
        Dialect::MySql => b.push(" on duplicate key update "),
        Dialect::Sqlite | Dialect::Postgres => {
            b.push(&format!(" on conflict ({key}) do update set "))
        }
    };
    b.push(&sets.join(", "));
}

/// The statements that add `batch`'s rollups and raw visits, in key
/// order; the links' counters come after them.
pub(crate) fn row_statements(
    d: Dialect,
    batch: &ClickBatch,
) -> impl Iterator<Item = SqlBuilder<'_>> {
    let hours = batch
        .hours
        .chunks(ROWS_PER_STATEMENT)
        .map(move |c| upsert_hours(d, c));
    let facets = batch
        .facets
        .chunks(ROWS_PER_STATEMENT)
        .map(move |c| upsert_facets(d, c));
    let visits = batch
        .visits
        .chunks(ROWS_PER_STATEMENT)
        .map(move |c| insert_visits(d, c));
    hours.chain(facets).chain(visits)
}

/// One link's counter gaining `n` (bound as `id, n`), on SQLite.
pub(crate) const ADD_LINK_VISITS: &str = "insert into link_counts (link_id, visits) values (?, ?) \
     on conflict (link_id) do update set visits = link_counts.visits + excluded.visits";

fn upsert_hours<'a>(d: Dialect, rows: &'a [HourCount]) -> SqlBuilder<'a> {
    let mut b = SqlBuilder::new(
        d,
        "insert into click_hours (link_id, hour, total, humans, bots) values ",
    );
    for (i, h) in rows.iter().enumerate() {
        b.push(if i == 0 { "(" } else { ", (" })
            .bind(Arg::Int(h.link_id))
            .push(", ")
            .bind(Arg::Int(h.hour))
            .push(", ")
            .bind(count(h.total))
            .push(", ")
            .bind(count(h.humans))
            .push(", ")
            .bind(count(h.bots))
            .push(")");
    }
    add_on_conflict(
        &mut b,
        d,
        "click_hours",
        "link_id, hour",
        &["total", "humans", "bots"],
    );
    b
}

fn upsert_facets<'a>(d: Dialect, rows: &'a [kurz_core::analytics::FacetCount]) -> SqlBuilder<'a> {
    let mut b = SqlBuilder::new(
        d,
        "insert into click_facets (link_id, hour, facet, name, n) values ",
    );
    for (i, f) in rows.iter().enumerate() {
        b.push(if i == 0 { "(" } else { ", (" })
            .bind(Arg::Int(f.link_id))
            .push(", ")
            .bind(Arg::Int(f.hour))
            .push(", ")
            .bind(Arg::Int(f.facet.code()))
            .push(", ")
            .bind(Arg::Text(&f.name))
            .push(", ")
            .bind(count(f.n))
            .push(")");
    }
    add_on_conflict(
        &mut b,
        d,
        "click_facets",
        "link_id, facet, hour, name",
        &["n"],
    );
    b
}

fn insert_visits<'a>(d: Dialect, rows: &'a [kurz_core::analytics::StoredVisit]) -> SqlBuilder<'a> {
    let mut b = SqlBuilder::new(
        d,
        "insert into visits (link_id, at, referrer, country, browser, os, device, bot, \
         user_agent) values ",
    );
    for (i, v) in rows.iter().enumerate() {
        let detail = &v.detail;
        b.push(if i == 0 { "(" } else { ", (" })
            .bind(Arg::Int(v.link_id))
            .push(", ")
            .bind(Arg::Int(to_millis(detail.at)))
            .push(", ")
            .bind(Arg::Text(&detail.referrer))
            .push(", ")
            .bind(Arg::Text(&detail.country))
            .push(", ")
            .bind(Arg::Text(&detail.browser))
            .push(", ")
            .bind(Arg::Text(&detail.os))
            .push(", ")
            .bind(Arg::Text(detail.device.as_str()))
            .push(", ")
            .bind(Arg::Bool(detail.bot))
            .push(", ")
            .bind(Arg::OptText(detail.user_agent.as_deref()))
            .push(")");
    }
    b
}

/// Adds each `(id, n)` (distinct ids, in id order) to its link's counter.
async fn add_link_visits(
    tx: &mut Tx,
    d: Dialect,
    counts: &[(i64, u64)],
) -> Result<(), sqlx::Error> {
    if d == Dialect::Sqlite {
        for &(id, n) in counts {
            tx.exec()
                .execute(ADD_LINK_VISITS, &[Arg::Int(id), count(n)])
                .await?;
        }
        return Ok(());
    }
    for chunk in counts.chunks(VISITS_PER_STATEMENT) {
        let s = add_visits(d, chunk);
        tx.exec().execute(s.sql(), s.args()).await?;
    }
    Ok(())
}

/// One upsert adding each `(id, n)` of `chunk` (distinct ids) to its
/// link's counter: a flush's on a server database, an import's anywhere.
pub(crate) fn add_visits(d: Dialect, chunk: &[(i64, u64)]) -> SqlBuilder<'static> {
    let mut b = SqlBuilder::new(d, "insert into link_counts (link_id, visits) values ");
    for (i, &(id, n)) in chunk.iter().enumerate() {
        b.push(if i == 0 { "(" } else { ", (" })
            .bind(Arg::Int(id))
            .push(", ")
            .bind(count(n))
            .push(")");
    }
    add_on_conflict(&mut b, d, "link_counts", "link_id", &["visits"]);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upserts_add_to_what_is_there_in_each_dialect() {
        let rows = [HourCount {
            link_id: 1,
            hour: 2,
            total: 3,
            humans: 2,
            bots: 1,
        }];
        let pg = upsert_hours(Dialect::Postgres, &rows);
        assert!(pg.sql().ends_with(
            "on conflict (link_id, hour) do update set total = click_hours.total + excluded.total, \
             humans = click_hours.humans + excluded.humans, bots = click_hours.bots + excluded.bots"
        ));
        assert!(pg.sql().contains("($1, $2, $3, $4, $5)"));
        let my = upsert_hours(Dialect::MySql, &rows);
        assert!(my
            .sql()
            .ends_with("on duplicate key update total = total + values(total), humans = humans + values(humans), bots = bots + values(bots)"));
    }
}
