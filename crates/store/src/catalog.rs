//! Catalog questions ([`Catalog`]): numbered, counted pages of links and
//! visits, tag listings, and renaming or removing tags on every link.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::FromRow;
use time::OffsetDateTime;

use kurz_core::catalog::{
    ClickTotals, Found, FoundVisit, SearchOrder, SearchPage, SearchQuery, TagStat, VisitQuery,
    VisitScope, VisitSearchPage,
};
use kurz_core::clock::to_millis;
use kurz_core::error::StoreError;
use kurz_core::ports::Catalog;

use crate::analytics::{sum, VisitRow};
use crate::db::{Arg, SqlBuilder};
use crate::dialect::{like_pattern, VISITS_OF_L};
use crate::links::{links, tags_json, LinkRow};
use crate::store::SqlStore;

/// Links a tag rename or removal rewrites per transaction.
const RETAG_BATCH: i64 = 500;
/// Times one link is read again when its tags changed under a rewrite.
const RETAG_TRIES: usize = 3;

/// The bot clicks of `l`, from its hourly rollups.
const BOTS_OF_L: &str =
    "coalesce((select sum(h.bots) from click_hours h where h.link_id = l.id), 0)";

/// `where` conditions of a search, after `where l.deleted_at is null`.
fn search_filters<'a>(b: &mut SqlBuilder<'a>, q: &'a SearchQuery, pattern: Option<&'a str>) {
    let d = b.dialect();
    if let Some(owner) = q.owner_id {
        b.push(" and l.owner_id = ").bind(Arg::Int(owner));
    }
    if let Some(pattern) = pattern {
        let like = d.like();
        let (tag_rows, tag) = d.tag_rows();
        let tag_match = format!("exists (select 1 from {tag_rows} where {tag}");
        b.push(" and (");
        for (i, column) in ["l.slug", "l.url", "l.title", &tag_match]
            .iter()
            .enumerate()
        {
            if i > 0 {
                b.push(" or ");
            }
            b.push(column)
                .push(like)
                .bind(Arg::Text(pattern))
                .push(" escape '!'");
        }
        b.push("))");
    }
    if !q.tags.is_empty() {
        let join = if q.all_tags { " and " } else { " or " };
        b.push(" and (");
        for (i, tag) in q.tags.iter().enumerate() {
            if i > 0 {
                b.push(join);
            }
            b.push(d.tag_open())
                .bind(Arg::Text(tag))
                .push(d.tag_close());
        }
        b.push(")");
    }
    if let Some(from) = q.created_from {
        b.push(" and l.created_at >= ")
            .bind(Arg::Int(to_millis(from)));
    }
    if let Some(to) = q.created_to {
        b.push(" and l.created_at <= ")
            .bind(Arg::Int(to_millis(to)));
    }
    if q.exclude_used_up {
        b.push(" and (l.max_visits is null or l.human_visits < l.max_visits)");
    }
    if let Some(at) = q.exclude_expired_at {
        b.push(" and (l.expires_at is null or l.expires_at > ")
            .bind(Arg::Int(to_millis(at)))
            .push(")");
    }
}

fn order_by(q: &SearchQuery) -> String {
    let dir = if q.descending { "desc" } else { "asc" };
    let key = match q.order {
        SearchOrder::Created => "l.created_at".to_owned(),
        SearchOrder::Slug => "l.slug".to_owned(),
        SearchOrder::Url => "l.url".to_owned(),
        // Links without a title sort as an empty one on every backend.
        SearchOrder::Title => "coalesce(l.title, '')".to_owned(),
        SearchOrder::Visits => VISITS_OF_L.to_owned(),
        SearchOrder::HumanVisits => format!("({VISITS_OF_L} - {BOTS_OF_L})"),
    };
    format!(" order by {key} {dir}, l.id {dir}")
}

/// A visit with its link's slug.
#[derive(Debug, FromRow)]
struct FoundVisitRow {
    slug: String,
    #[sqlx(flatten)]
    visit: VisitRow,
}

/// `where` conditions of a visit query, after `where l.deleted_at is null`.
fn visit_filters<'a>(b: &mut SqlBuilder<'a>, q: &'a VisitQuery) {
    let d = b.dialect();
    match &q.scope {
        VisitScope::Link(id) => {
            b.push(" and v.link_id = ").bind(Arg::Int(*id));
        }
        VisitScope::Tag { owner_id, tag } => {
            if let Some(owner) = owner_id {
                b.push(" and l.owner_id = ").bind(Arg::Int(*owner));
            }
            b.push(" and ")
                .push(d.tag_open())
                .bind(Arg::Text(tag))
                .push(d.tag_close());
        }
        VisitScope::Owner(owner_id) => {
            if let Some(owner) = owner_id {
                b.push(" and l.owner_id = ").bind(Arg::Int(*owner));
            }
        }
    }
    if let Some(from) = q.from {
        b.push(" and v.at >= ").bind(Arg::Int(to_millis(from)));
    }
    if let Some(to) = q.to {
        b.push(" and v.at <= ").bind(Arg::Int(to_millis(to)));
    }
    if q.exclude_bots {
        b.push(" and v.bot = ").bind(Arg::Bool(false));
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[derive(Debug, FromRow)]
struct TagRow {
    tag: String,
    links: i64,
    visits: i64,
    bots: i64,
}

impl SqlStore {
    /// Rewrites the tags of every live link matching one of `matching`,
    /// `RETAG_BATCH` links per transaction, with `retag`.
    async fn retag(
        &self,
        matching: &[String],
        at: OffsetDateTime,
        retag: impl Fn(Vec<String>) -> Vec<String>,
    ) -> Result<u64, StoreError> {
        self.ready().await?;
        let d = self.q.dialect;
        let mut after = 0i64;
        let mut changed = 0u64;
        loop {
            let mut b = SqlBuilder::new(d, "select l.id, l.tags from links l where l.id > ");
            b.bind(Arg::Int(after))
                .push(" and l.deleted_at is null and (");
            for (i, tag) in matching.iter().enumerate() {
                if i > 0 {
                    b.push(" or ");
                }
                b.push(d.tag_open())
                    .bind(Arg::Text(tag))
                    .push(d.tag_close());
            }
            b.push(") order by l.id limit ").bind(Arg::Int(RETAG_BATCH));
            let rows: Vec<(i64, String)> = self
                .timed("retag_scan", self.primary.fetch_all(b.sql(), b.args()))
                .await?;
            let Some(&(last, _)) = rows.last() else {
                return Ok(changed);
            };
            after = last;
            // Written only over the tags read: a link whose tags someone
            // changed since is read again, so their change is kept.
            let update = d.placeholders(
                "update links set tags = ?, updated_at = ? where id = ? and tags = ?",
            );
            let reread =
                d.placeholders("select tags from links where id = ? and deleted_at is null");
            let at_ms = to_millis(at);
            changed += self
                .timed("retag", async {
                    let mut tx = self.primary.begin().await?;
                    let mut done = 0u64;
                    for (id, mut tags) in rows {
                        for _ in 0..RETAG_TRIES {
                            // Tags that do not parse are not rewritten into
                            // none: the rename stops with the error.
                            let old: Vec<String> = serde_json::from_str(&tags)
                                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                            let new = tags_json(&retag(old));
                            let args = [
                                Arg::Text(&new),
                                Arg::Int(at_ms),
                                Arg::Int(id),
                                Arg::Text(&tags),
                            ];
                            if tx.exec().execute(&update, &args).await? == 1 {
                                done += 1;
                                break;
                            }
                            let now: Option<(String,)> =
                                tx.exec().fetch_optional(&reread, &[Arg::Int(id)]).await?;
                            match now {
                                Some((t,)) => tags = t,
                                None => break,
                            }
                        }
                    }
                    tx.commit().await?;
                    Ok(done)
                })
                .await?;
        }
    }
}

#[async_trait]
impl Catalog for SqlStore {
    async fn search(&self, query: &SearchQuery) -> Result<SearchPage, StoreError> {
        self.ready().await?;
        let d = self.q.dialect;
        let pattern = query.text.as_deref().map(like_pattern);

        let mut c = SqlBuilder::new(d, "select count(*) from links l where l.deleted_at is null");
        search_filters(&mut c, query, pattern.as_deref());
        let (total,): (i64,) = self
            .timed("search_count", self.reader().fetch_one(c.sql(), c.args()))
            .await?;

        let mut b = SqlBuilder::new(
            d,
            format!("{} where l.deleted_at is null", self.q.select_links),
        );
        search_filters(&mut b, query, pattern.as_deref());
        b.push(&order_by(query))
            .push(" limit ")
            .bind(Arg::Int(i64::from(query.limit)))
            .push(" offset ")
            .bind(Arg::Int(i64::try_from(query.offset).unwrap_or(i64::MAX)));
        let rows: Vec<LinkRow> = self
            .timed("search", self.reader().fetch_all(b.sql(), b.args()))
            .await?;
        let found = links(rows)?;
        let ids: Vec<i64> = found.iter().map(|l| l.id).collect();
        let bots: HashMap<i64, i64> = self.bot_clicks(&ids).await?.into_iter().collect();
        Ok(SearchPage {
            items: found
                .into_iter()
                .map(|link| Found {
                    bots: bots.get(&link.id).copied().unwrap_or(0),
                    link,
                })
                .collect(),
            total: count(total),
        })
    }

    async fn tag_exists(&self, owner_id: Option<i64>, tag: &str) -> Result<bool, StoreError> {
        self.ready().await?;
        let d = self.q.dialect;
        let mut b = SqlBuilder::new(
            d,
            "select l.id from links l where l.deleted_at is null and ",
        );
        b.push(d.tag_open())
            .bind(Arg::Text(tag))
            .push(d.tag_close());
        if let Some(owner) = owner_id {
            b.push(" and l.owner_id = ").bind(Arg::Int(owner));
        }
        b.push(" limit 1");
        // The primary: a rename checks this just before it writes there.
        let found: Option<(i64,)> = self
            .timed("tag_exists", self.primary.fetch_optional(b.sql(), b.args()))
            .await?;
        Ok(found.is_some())
    }

    async fn bot_clicks(&self, link_ids: &[i64]) -> Result<Vec<(i64, i64)>, StoreError> {
        if link_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.ready().await?;
        let d = self.q.dialect;
        let mut q = SqlBuilder::new(
            d,
            format!(
                "select link_id, {} from click_hours where link_id in (",
                sum(d, "bots")
            ),
        );
        for (i, id) in link_ids.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(Arg::Int(*id));
        }
        q.push(") group by link_id");
        self.timed("bot_clicks", self.reader().fetch_all(q.sql(), q.args()))
            .await
    }

    async fn tags(&self, owner_id: Option<i64>, limit: u32) -> Result<Vec<TagStat>, StoreError> {
        self.ready().await?;
        let d = self.q.dialect;
        let (rows_of_tags, tag) = d.tag_rows();
        let mut b = SqlBuilder::new(
            d,
            format!(
                "select {} as tag, count(*) as links, {} as visits, {} as bots from (\
                 select {tag} as tag, {VISITS_OF_L} as visits, {BOTS_OF_L} as bots \
                 from links l \
                 cross join {rows_of_tags} \
                 where l.deleted_at is null",
                d.text("t.tag"),
                sum(d, "t.visits"),
                sum(d, "t.bots"),
            ),
        );
        if let Some(owner) = owner_id {
            b.push(" and l.owner_id = ").bind(Arg::Int(owner));
        }
        b.push(") t group by t.tag order by t.tag limit ")
            .bind(Arg::Int(i64::from(limit)));
        let rows: Vec<TagRow> = self
            .timed("tags", self.reader().fetch_all(b.sql(), b.args()))
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| TagStat {
                tag: r.tag,
                links: count(r.links),
                visits: count(r.visits),
                bots: count(r.bots),
            })
            .collect())
    }

    async fn rename_tag(
        &self,
        old: &str,
        new: &str,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let matching = [old.to_owned()];
        self.retag(&matching, at, |tags| {
            let mut out: Vec<String> = Vec::with_capacity(tags.len());
            for t in tags {
                let t = if t == old { new.to_owned() } else { t };
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            out
        })
        .await
    }

    async fn delete_tags(&self, tags: &[String], at: OffsetDateTime) -> Result<u64, StoreError> {
        if tags.is_empty() {
            return Ok(0);
        }
        self.retag(tags, at, |mut have| {
            have.retain(|t| !tags.contains(t));
            have
        })
        .await
    }

    async fn visit_page(&self, query: &VisitQuery) -> Result<VisitSearchPage, StoreError> {
        self.ready().await?;
        let d = self.q.dialect;
        let from = " from visits v join links l on l.id = v.link_id where l.deleted_at is null";

        let mut c = SqlBuilder::new(d, format!("select count(*){from}"));
        visit_filters(&mut c, query);
        let (total,): (i64,) = self
            .timed("visit_count", self.reader().fetch_one(c.sql(), c.args()))
            .await?;

        let mut b = SqlBuilder::new(
            d,
            format!(
                "select {} as slug, v.id, v.at, v.referrer, v.country, v.browser, v.os, \
                 v.device, v.bot, v.user_agent{from}",
                d.text("l.slug")
            ),
        );
        visit_filters(&mut b, query);
        b.push(" order by v.at desc, v.id desc limit ")
            .bind(Arg::Int(i64::from(query.limit)))
            .push(" offset ")
            .bind(Arg::Int(i64::try_from(query.offset).unwrap_or(i64::MAX)));
        let rows: Vec<FoundVisitRow> = self
            .timed("visit_page", self.reader().fetch_all(b.sql(), b.args()))
            .await?;
        Ok(VisitSearchPage {
            items: rows
                .into_iter()
                .map(|r| FoundVisit {
                    slug: r.slug,
                    visit: r.visit.into_record(),
                })
                .collect(),
            total: count(total),
        })
    }

    async fn click_totals(&self, owner_id: Option<i64>) -> Result<ClickTotals, StoreError> {
        self.ready().await?;
        let d = self.q.dialect;
        let scoped = |start: String| {
            let mut b = SqlBuilder::new(d, start);
            if let Some(owner) = owner_id {
                b.push(" and l.owner_id = ").bind(Arg::Int(owner));
            }
            b
        };
        let t = scoped(format!(
            "select coalesce({}, 0) from link_counts c join links l on l.id = c.link_id \
             where l.deleted_at is null",
            sum(d, "c.visits")
        ));
        let (total,): (i64,) = self
            .timed("click_totals", self.reader().fetch_one(t.sql(), t.args()))
            .await?;
        let b = scoped(format!(
            "select coalesce({}, 0) from click_hours h join links l on l.id = h.link_id \
             where l.deleted_at is null",
            sum(d, "h.bots")
        ));
        let (bots,): (i64,) = self
            .timed("click_totals", self.reader().fetch_one(b.sql(), b.args()))
            .await?;
        Ok(ClickTotals {
            total: count(total),
            bots: count(bots),
        })
    }

    async fn crawlable_slugs(&self, limit: u32) -> Result<Vec<String>, StoreError> {
        self.ready().await?;
        let d = self.q.dialect;
        let sql = d.placeholders(&format!(
            "select {} from links where crawlable = ? and deleted_at is null and disabled = ? \
             and pending = ? order by id limit ?",
            d.text("slug")
        ));
        let args = [
            Arg::Bool(true),
            Arg::Bool(false),
            Arg::Bool(false),
            Arg::Int(i64::from(limit)),
        ];
        let rows: Vec<(String,)> = self
            .timed("crawlable_slugs", self.reader().fetch_all(&sql, &args))
            .await?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_breaks_ties_by_id_in_its_direction() {
        let q = SearchQuery {
            order: SearchOrder::Title,
            descending: true,
            ..SearchQuery::default()
        };
        assert_eq!(
            order_by(&q),
            " order by coalesce(l.title, '') desc, l.id desc"
        );
        let q = SearchQuery::default();
        assert_eq!(order_by(&q), " order by l.created_at asc, l.id asc");
    }
}
