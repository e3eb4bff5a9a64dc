//! Abuse reports ([`ReportStore`]). The reporter's network is written and
//! never read back: no statement here selects it.

use async_trait::async_trait;
use sqlx::FromRow;
use time::OffsetDateTime;

use kurz_core::clock::{from_millis, to_millis};
use kurz_core::error::StoreError;
use kurz_core::ports::ReportStore;
use kurz_core::report::{
    NewReport, Report, ReportQuery, ReportReason, ReportStatus, Resolution, Resolve,
};

use crate::db::{Arg, SqlBuilder};
use crate::dialect::Dialect;
use crate::store::SqlStore;

/// The columns [`ReportRow`] reads.
fn select_reports(dialect: Dialect) -> String {
    format!(
        "select id, link_id, {} as slug, reason, details, status, created_at, resolution, \
         resolved_at from reports",
        dialect.text("slug")
    )
}

#[derive(Debug, FromRow)]
struct ReportRow {
    id: i64,
    link_id: i64,
    slug: String,
    reason: String,
    details: Option<String>,
    status: String,
    created_at: i64,
    resolution: Option<String>,
    resolved_at: Option<i64>,
}

impl ReportRow {
    fn into_report(self) -> Result<Report, StoreError> {
        let corrupt = |what: &str| StoreError::Other(format!("a stored report has {what}").into());
        Ok(Report {
            id: self.id,
            link_id: self.link_id,
            slug: self.slug,
            reason: ReportReason::parse(&self.reason)
                .ok_or_else(|| corrupt("an unknown reason"))?,
            details: self.details,
            status: ReportStatus::parse(&self.status)
                .ok_or_else(|| corrupt("an unknown status"))?,
            created_at: from_millis(self.created_at),
            resolution: self
                .resolution
                .map(|r| Resolution::parse(&r).ok_or_else(|| corrupt("an unknown resolution")))
                .transpose()?,
            resolved_at: self.resolved_at.map(from_millis),
        })
    }
}

/// The ID the last insert on this connection made.
fn last_id(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "select last_insert_rowid()",
        // Unsigned in MySQL, which sqlx will not read as i64.
        Dialect::MySql => "select cast(last_insert_id() as signed)",
        Dialect::Postgres => "select lastval()",
    }
}

#[async_trait]
impl ReportStore for SqlStore {
    async fn insert_report(&self, new: NewReport) -> Result<Report, StoreError> {
        self.ready().await?;
        let d = self.q.dialect;
        let insert = d.placeholders(
            "insert into reports (link_id, slug, reason, details, reporter_network, created_at, \
             status) values (?, ?, ?, ?, ?, ?, 'open')",
        );
        let args = [
            Arg::Int(new.link_id),
            Arg::Text(&new.slug),
            Arg::Text(new.reason.as_str()),
            Arg::OptText(new.details.as_deref()),
            Arg::OptText(new.reporter_network.as_deref()),
            Arg::Int(to_millis(new.created_at)),
        ];
        // The insert and the read of its ID on one connection: the ID
        // functions are per session.
        let id = self
            .timed("insert_report", async {
                let mut tx = self.primary.begin().await?;
                tx.exec().execute(&insert, &args).await?;
                let (id,): (i64,) = tx.exec().fetch_one(last_id(d), &[]).await?;
                tx.commit().await?;
                Ok(id)
            })
            .await?;
        Ok(Report {
            id,
            link_id: new.link_id,
            slug: new.slug,
            reason: new.reason,
            details: new.details,
            status: ReportStatus::Open,
            created_at: from_millis(to_millis(new.created_at)),
            resolution: None,
            resolved_at: None,
        })
    }

    async fn report(&self, id: i64) -> Result<Option<Report>, StoreError> {
        self.ready().await?;
        let d = self.q.dialect;
        let sql = d.placeholders(&format!("{} where id = ?", select_reports(d)));
        let row: Option<ReportRow> = self
            .timed("report", self.primary.fetch_optional(&sql, &[Arg::Int(id)]))
            .await?;
        row.map(ReportRow::into_report).transpose()
    }

    async fn list_reports(&self, query: &ReportQuery) -> Result<Vec<Report>, StoreError> {
        self.ready().await?;
        let d = self.q.dialect;
        let mut b = SqlBuilder::new(d, format!("{} where status = ", select_reports(d)));
        b.bind(Arg::Text(query.status.as_str()));
        if let Some(c) = query.after {
            b.push(" and (created_at < ")
                .bind(Arg::Int(c.created_at_ms))
                .push(" or (created_at = ")
                .bind(Arg::Int(c.created_at_ms))
                .push(" and id < ")
                .bind(Arg::Int(c.id))
                .push("))");
        }
        b.push(" order by created_at desc, id desc limit ")
            .bind(Arg::Int(i64::from(query.limit)));
        let rows: Vec<ReportRow> = self
            .timed("list_reports", self.primary.fetch_all(b.sql(), b.args()))
            .await?;
        rows.into_iter().map(ReportRow::into_report).collect()
    }

    async fn resolve_reports(
        &self,
        which: Resolve,
        resolution: Resolution,
        at: OffsetDateTime,
        by: Option<i64>,
    ) -> Result<u64, StoreError> {
        self.ready().await?;
        let mut b = SqlBuilder::new(
            self.q.dialect,
            "update reports set status = 'resolved', resolution = ",
        );
        b.bind(Arg::Text(resolution.as_str()))
            .push(", resolved_at = ")
            .bind(Arg::Int(to_millis(at)))
            .push(", resolved_by = ")
            .bind(Arg::OptInt(by));
        match which {
            Resolve::One(id) => b.push(" where id = ").bind(Arg::Int(id)),
            Resolve::OfLink(link) => b.push(" where link_id = ").bind(Arg::Int(link)),
        };
        b.push(" and status = 'open'");
        self.timed("resolve_reports", self.primary.execute(b.sql(), b.args()))
            .await
    }
}
