//! Links: the redirect lookup ([`LinkLookup`]) and the API's reads and
//! writes ([`LinkStore`]).

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use sqlx::FromRow;
use time::OffsetDateTime;

use kurz_core::clock::{from_millis, to_millis};
use kurz_core::error::{InsertError, StoreError};
use kurz_core::link::{DisabledReason, Link, LinkChanges, ListQuery, NewLink, RedirectRecord};
use kurz_core::ports::{
    LinkLookup, LinkScan, LinkStore, PopularLinks, ScannedLink, REUSE_CANDIDATES,
};

use crate::analytics::add_visits;
use crate::db::{Arg, Pool, SqlBuilder};
use crate::dialect::like_pattern;
use crate::error::inserted;
use crate::store::SqlStore;

/// A stable 64-bit hash of a target URL. The reuse lookup goes through an
/// index on it instead of an index on the full URL, which may be 8 KiB long.
pub(crate) fn url_hash(url: &str) -> i64 {
    let digest = Sha256::digest(url.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(first)
}

pub(crate) fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned())
}

/// A link as `Queries::select_links` reads it.
#[derive(Debug, FromRow)]
pub(crate) struct LinkRow {
    id: i64,
    slug: String,
    url: String,
    owner_id: Option<i64>,
    owner: Option<String>,
    created_at: i64,
    updated_at: i64,
    expires_at: Option<i64>,
    max_visits: Option<i64>,
    visits: i64,
    human_visits: i64,
    tags: String,
    title: Option<String>,
    redirect_status: Option<i64>,
    forward_query: bool,
    crawlable: bool,
    password_hash: Option<String>,
    disabled: bool,
    disabled_reason: Option<String>,
    pending: bool,
}

impl LinkRow {
    fn into_link(self) -> Result<Link, StoreError> {
        let tags: Vec<String> =
            serde_json::from_str(&self.tags).map_err(|e| StoreError::Other(Box::new(e)))?;
        Ok(Link {
            id: self.id,
            slug: self.slug,
            url: self.url,
            owner_id: self.owner_id,
            owner: self.owner,
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
            expires_at: self.expires_at.map(from_millis),
            max_visits: self.max_visits,
            visits: self.visits,
            human_visits: self.human_visits,
            tags,
            title: self.title,
            redirect_status: self.redirect_status.and_then(|c| u16::try_from(c).ok()),
            forward_query: self.forward_query,
            crawlable: self.crawlable,
            password_hash: self.password_hash,
            disabled: self.disabled,
            disabled_reason: self
                .disabled_reason
                .as_deref()
                .and_then(DisabledReason::parse),
            pending: self.pending,
        })
    }
}

/// What `Queries::lookup` reads (and `most_visited`, with the slug).
#[derive(Debug, FromRow)]
struct RecordRow {
    id: i64,
    url: String,
    created_at: i64,
    expires_at: Option<i64>,
    max_visits: Option<i64>,
    human_visits: i64,
    redirect_status: Option<i64>,
    forward_query: bool,
    has_password: bool,
    disabled: bool,
    pending: bool,
    disabled_reason: Option<String>,
}

impl From<RecordRow> for RedirectRecord {
    fn from(r: RecordRow) -> Self {
        Self {
            id: r.id,
            url: r.url.into_boxed_str(),
            created_at: from_millis(r.created_at),
            expires_at: r.expires_at.map(from_millis),
            max_visits: r.max_visits,
            human_visits: r.human_visits,
            redirect_status: r.redirect_status.and_then(|c| u16::try_from(c).ok()),
            forward_query: r.forward_query,
            has_password: r.has_password,
            disabled: r.disabled,
            disabled_reason: r.disabled_reason.as_deref().and_then(DisabledReason::parse),
            pending: r.pending,
        }
    }
}

pub(crate) fn links(rows: Vec<LinkRow>) -> Result<Vec<Link>, StoreError> {
    rows.into_iter().map(LinkRow::into_link).collect()
}

impl SqlStore {
    async fn lookup_on(
        &self,
        pool: &Pool,
        slug: &str,
    ) -> Result<Option<RedirectRecord>, StoreError> {
        let row: Option<RecordRow> = self
            .timed(
                "lookup",
                pool.fetch_optional(&self.q.lookup, &[Arg::Text(slug)]),
            )
            .await?;
        Ok(row.map(RedirectRecord::from))
    }

    async fn link_by_id(&self, id: i64) -> Result<Option<Link>, StoreError> {
        let row: Option<LinkRow> = self
            .timed(
                "link_by_id",
                self.primary
                    .fetch_optional(&self.q.link_by_id, &[Arg::Int(id)]),
            )
            .await?;
        row.map(LinkRow::into_link).transpose()
    }
}

#[async_trait]
impl LinkLookup for SqlStore {
    async fn lookup(&self, slug: &str) -> Result<Option<RedirectRecord>, StoreError> {
        self.ready().await?;
        if let Some(reader) = &self.sqlite_reader {
            let started = std::time::Instant::now();
            let found =
                tracing::debug_span!("store.query", op = "lookup").in_scope(|| reader.lookup(slug));
            self.metrics
                .observe("lookup", started.elapsed(), found.is_err());
            return found;
        }
        if self.replicas.is_empty() {
            return self.lookup_on(&self.primary, slug).await;
        }
        // A link created a moment ago may not have reached the replica yet,
        // and a replica may be down: either way the primary decides.
        match self.lookup_on(self.reader(), slug).await {
            Ok(Some(record)) => Ok(Some(record)),
            Ok(None) => self.lookup_on(&self.primary, slug).await,
            Err(e) => {
                tracing::warn!(error = %e, "replica lookup failed; asking the primary");
                self.lookup_on(&self.primary, slug).await
            }
        }
    }
}

#[async_trait]
impl LinkStore for SqlStore {
    async fn insert(&self, link: NewLink) -> Result<Link, InsertError> {
        self.ready().await?;
        let created = to_millis(link.created_at);
        let tags = tags_json(&link.tags);
        let args = [
            Arg::Int(link.id),
            Arg::Text(&link.slug),
            Arg::Text(link.url.as_str()),
            Arg::Int(url_hash(link.url.as_str())),
            Arg::OptInt(link.owner_id),
            Arg::Int(created),
            Arg::Int(created),
            Arg::OptInt(link.expires_at.map(to_millis)),
            Arg::OptInt(link.max_visits),
            Arg::Text(&tags),
            Arg::OptText(link.title.as_deref()),
            Arg::OptInt(link.redirect_status.map(i64::from)),
            Arg::Bool(link.forward_query),
            Arg::Bool(link.crawlable),
            Arg::OptText(link.password_hash.as_deref()),
            Arg::Bool(link.pending),
            Arg::Int(link.human_visits),
        ];
        let inserted = self
            .timed("insert", async {
                // Only an imported link comes with visits: its counter
                // goes in with it, or neither does.
                if link.visits <= 0 {
                    return inserted(self.primary.execute(&self.q.insert_link, &args).await);
                }
                let mut tx = self.primary.begin().await?;
                if !inserted(tx.exec().execute(&self.q.insert_link, &args).await)? {
                    return Ok(false);
                }
                let count = add_visits(self.q.dialect, &[(link.id, link.visits.unsigned_abs())]);
                tx.exec().execute(count.sql(), count.args()).await?;
                tx.commit().await.map(|()| true)
            })
            .await?;
        if !inserted {
            return Err(InsertError::SlugTaken);
        }
        self.link_by_id(link.id).await?.ok_or_else(|| {
            StoreError::Other("a link vanished right after its insert".into()).into()
        })
    }

    async fn by_slug(&self, slug: &str) -> Result<Option<Link>, StoreError> {
        self.ready().await?;
        let row: Option<LinkRow> = self
            .timed(
                "by_slug",
                self.primary
                    .fetch_optional(&self.q.link_by_slug, &[Arg::Text(slug)]),
            )
            .await?;
        row.map(LinkRow::into_link).transpose()
    }

    async fn by_owner_and_url(
        &self,
        owner_id: Option<i64>,
        url: &str,
    ) -> Result<Vec<Link>, StoreError> {
        self.ready().await?;
        let hash = Arg::Int(url_hash(url));
        let limit = Arg::Int(REUSE_CANDIDATES);
        let rows: Vec<LinkRow> = match owner_id {
            Some(owner) => {
                let args = [Arg::Int(owner), hash, Arg::Text(url), limit];
                self.timed(
                    "by_owner_and_url",
                    self.primary.fetch_all(&self.q.link_by_owner_url, &args),
                )
                .await?
            }
            None => {
                let args = [hash, Arg::Text(url), limit];
                self.timed(
                    "by_owner_and_url",
                    self.primary
                        .fetch_all(&self.q.link_by_null_owner_url, &args),
                )
                .await?
            }
        };
        links(rows)
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<Link>, StoreError> {
        self.ready().await?;
        let dialect = self.q.dialect;
        let pattern = query.q.as_deref().map(like_pattern);
        let mut b = SqlBuilder::new(
            dialect,
            format!("{} where l.deleted_at is null", self.q.select_links),
        );
        if let Some(owner) = query.owner_id {
            b.push(" and l.owner_id = ").bind(Arg::Int(owner));
        }
        if query.pending_only {
            b.push(" and l.pending = ").bind(Arg::Bool(true));
        }
        if let Some(c) = query.after {
            b.push(" and (l.created_at < ")
                .bind(Arg::Int(c.created_at_ms))
                .push(" or (l.created_at = ")
                .bind(Arg::Int(c.created_at_ms))
                .push(" and l.id < ")
                .bind(Arg::Int(c.id))
                .push("))");
        }
        if let Some(pattern) = &pattern {
            let like = dialect.like();
            b.push(" and (l.slug")
                .push(like)
                .bind(Arg::Text(pattern))
                .push(" escape '!' or l.url")
                .push(like)
                .bind(Arg::Text(pattern))
                .push(" escape '!' or l.title")
                .push(like)
                .bind(Arg::Text(pattern))
                .push(" escape '!')");
        }
        if let Some(tag) = &query.tag {
            b.push(" and ")
                .push(dialect.tag_open())
                .bind(Arg::Text(tag))
                .push(dialect.tag_close());
        }
        b.push(" order by l.created_at desc, l.id desc limit ")
            .bind(Arg::Int(i64::from(query.limit)));
        let rows: Vec<LinkRow> = self
            .timed("list", self.reader().fetch_all(b.sql(), b.args()))
            .await?;
        links(rows)
    }

    async fn update(
        &self,
        id: i64,
        changes: &LinkChanges,
        at: OffsetDateTime,
    ) -> Result<Option<Link>, StoreError> {
        self.ready().await?;
        let tags = changes.tags.as_deref().map(tags_json);
        let mut b = SqlBuilder::new(self.q.dialect, "update links set updated_at = ");
        b.bind(Arg::Int(to_millis(at)));
        if let Some(url) = &changes.url {
            b.push(", url = ").bind(Arg::Text(url.as_str()));
            b.push(", url_hash = ")
                .bind(Arg::Int(url_hash(url.as_str())));
        }
        if let Some(v) = changes.expires_at {
            b.push(", expires_at = ")
                .bind(Arg::OptInt(v.map(to_millis)));
        }
        if let Some(v) = changes.max_visits {
            b.push(", max_visits = ").bind(Arg::OptInt(v));
        }
        if let Some(v) = &changes.password_hash {
            b.push(", password_hash = ")
                .bind(Arg::OptText(v.as_deref()));
        }
        if let Some(v) = &tags {
            b.push(", tags = ").bind(Arg::Text(v));
        }
        if let Some(v) = &changes.title {
            b.push(", title = ").bind(Arg::OptText(v.as_deref()));
        }
        if let Some(v) = changes.redirect_status {
            b.push(", redirect_status = ")
                .bind(Arg::OptInt(v.map(i64::from)));
        }
        if let Some(v) = changes.forward_query {
            b.push(", forward_query = ").bind(Arg::Bool(v));
        }
        if let Some(v) = changes.crawlable {
            b.push(", crawlable = ").bind(Arg::Bool(v));
        }
        if let Some(v) = changes.disabled {
            b.push(", disabled = ").bind(Arg::Bool(v));
        }
        if let Some(v) = changes.disabled_reason {
            b.push(", disabled_reason = ")
                .bind(Arg::OptText(v.map(DisabledReason::as_str)));
        }
        if let Some(v) = changes.pending {
            b.push(", pending = ").bind(Arg::Bool(v));
        }
        b.push(" where id = ")
            .bind(Arg::Int(id))
            .push(" and deleted_at is null");
        let changed = self
            .timed("update", self.primary.execute(b.sql(), b.args()))
            .await?;
        if changed == 0 {
            return Ok(None);
        }
        self.link_by_id(id).await
    }

    async fn delete(&self, id: i64, at: OffsetDateTime) -> Result<bool, StoreError> {
        self.ready().await?;
        let at = to_millis(at);
        let args = [Arg::Int(at), Arg::Int(at), Arg::Int(id)];
        let deleted = self
            .timed("delete", self.primary.execute(&self.q.delete_link, &args))
            .await?;
        Ok(deleted == 1)
    }

    async fn password_hash(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.ready().await?;
        let row: Option<(Option<String>,)> = self
            .timed(
                "password_hash",
                self.primary
                    .fetch_optional(&self.q.password_hash, &[Arg::Int(id)]),
            )
            .await?;
        Ok(row.and_then(|(hash,)| hash))
    }
}

#[derive(Debug, FromRow)]
struct ScanRow {
    id: i64,
    slug: String,
    url: String,
}

#[async_trait]
impl LinkScan for SqlStore {
    async fn enabled_after(&self, after: i64, limit: u32) -> Result<Vec<ScannedLink>, StoreError> {
        self.ready().await?;
        let args = [
            Arg::Int(after),
            Arg::Bool(false),
            Arg::Int(i64::from(limit)),
        ];
        // The primary: a link created a moment ago on it must not slip
        // past the scan because a replica lags.
        let rows: Vec<ScanRow> = self
            .timed(
                "enabled_after",
                self.primary.fetch_all(&self.q.enabled_after, &args),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| ScannedLink {
                id: r.id,
                slug: r.slug,
                url: r.url,
            })
            .collect())
    }
}

#[derive(Debug, FromRow)]
struct PopularRow {
    slug: String,
    #[sqlx(flatten)]
    record: RecordRow,
}

#[async_trait]
impl PopularLinks for SqlStore {
    async fn most_visited(
        &self,
        limit: u32,
        sink: &mut (dyn for<'s> FnMut(&'s str, RedirectRecord) + Send),
    ) -> Result<usize, StoreError> {
        self.ready().await?;
        let mut count = 0;
        self.reader()
            .for_each(
                &self.q.most_visited,
                &[Arg::Int(i64::from(limit))],
                &mut |row: PopularRow| {
                    sink(&row.slug, row.record.into());
                    count += 1;
                },
            )
            .await
            .map_err(|e| crate::error::store_error(e, self.kind))?;
        Ok(count)
    }
}
