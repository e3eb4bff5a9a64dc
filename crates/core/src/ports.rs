//! The traits the core needs from the outside world, one per use, so an
//! adapter or a decorator (a cache, a metrics wrapper) implements only the
//! part it is about. Adapters live in `kurz-store` (databases) and
//! `kurz-server` (click counting, password hashing); in-memory fakes in
//! `crate::fake` (tests, and the `fakes` feature).

use std::fmt::Debug;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::{ApiKey, NewApiKey, NewSession, NewUser, Principal, Role, User};
use crate::analytics::{ClickBatch, ClickRef, StatsRows, StatsScope, VisitCursor, VisitRecord};
use crate::catalog::{ClickTotals, SearchPage, SearchQuery, TagStat, VisitQuery, VisitSearchPage};
use crate::error::{AccountError, HashError, InsertError, StoreError};
use crate::link::{Link, LinkChanges, ListQuery, NewLink, RedirectRecord};
use crate::report::{NewReport, Report, ReportQuery, Resolution, Resolve};
use crate::slug::SlugSecret;

/// How many links to one URL `reuse` looks at: enough for the few variants
/// (tags, expiry) one owner keeps, and a bound on a reuse lookup's cost.
pub const REUSE_CANDIDATES: i64 = 16;

/// The hot path's one question: what does this slug lead to?
#[async_trait]
pub trait LinkLookup: Send + Sync + Debug {
    /// The answer if it is known without waiting (an in-process cache
    /// hit): `Some(found)`. `None`: ask [`Self::lookup`]. The hot path asks
    /// this first, so a hit costs no future at all.
    fn lookup_now(&self, _slug: &str) -> Option<Option<RedirectRecord>> {
        None
    }

    /// A live (not deleted) link's redirect record. May read a replica, but
    /// a miss there is checked on the primary before it counts as absent.
    async fn lookup(&self, slug: &str) -> Result<Option<RedirectRecord>, StoreError>;
}

/// Links as the API reads and writes them: on the primary, except `list`,
/// which may read a replica.
#[async_trait]
pub trait LinkStore: Send + Sync + Debug {
    async fn insert(&self, link: NewLink) -> Result<Link, InsertError>;
    /// A live (not deleted) link.
    async fn by_slug(&self, slug: &str) -> Result<Option<Link>, StoreError>;
    /// Live links of this owner to exactly this URL, newest first, at most
    /// [`REUSE_CANDIDATES`].
    async fn by_owner_and_url(
        &self,
        owner_id: Option<i64>,
        url: &str,
    ) -> Result<Vec<Link>, StoreError>;
    /// One page, newest first; may read a replica.
    async fn list(&self, query: &ListQuery) -> Result<Vec<Link>, StoreError>;
    async fn update(
        &self,
        id: i64,
        changes: &LinkChanges,
        at: OffsetDateTime,
    ) -> Result<Option<Link>, StoreError>;
    /// Deletes a link but keeps its slug, so it is never given out again.
    async fn delete(&self, id: i64, at: OffsetDateTime) -> Result<bool, StoreError>;
    /// The argon2id PHC string of a protected link; only the password check
    /// reads it.
    async fn password_hash(&self, id: i64) -> Result<Option<String>, StoreError>;
}

/// Abuse reports.
#[async_trait]
pub trait ReportStore: Send + Sync + Debug {
    async fn insert_report(&self, report: NewReport) -> Result<Report, StoreError>;
    async fn report(&self, id: i64) -> Result<Option<Report>, StoreError>;
    /// One page, newest first.
    async fn list_reports(&self, query: &ReportQuery) -> Result<Vec<Report>, StoreError>;
    /// Marks the open reports `which` names as resolved; how many it
    /// changed (0: none was open any more).
    async fn resolve_reports(
        &self,
        which: Resolve,
        resolution: Resolution,
        at: OffsetDateTime,
        by: Option<i64>,
    ) -> Result<u64, StoreError>;
}

/// A link as the blocklist rescan reads it: what it judges and what it
/// needs to disable it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedLink {
    pub id: i64,
    pub slug: String,
    pub url: String,
}

/// Every live link, a page at a time, for the blocklist rescan.
#[async_trait]
pub trait LinkScan: Send + Sync + Debug {
    /// Live (not deleted), not disabled links with an ID above `after`, by
    /// ID, at most `limit`: keyset pages on the primary key, so a scan of
    /// 100 million links costs one index range read a page and never holds
    /// them in memory.
    async fn enabled_after(&self, after: i64, limit: u32) -> Result<Vec<ScannedLink>, StoreError>;
}

/// Link IDs and the secret that turns them into codes.
#[async_trait]
pub trait IdSource: Send + Sync + Debug {
    /// A fresh link ID, never handed out before on any node.
    async fn next_id(&self) -> Result<u64, StoreError>;
    /// The instance's slug secret (made on first start).
    async fn slug_secret(&self) -> Result<SlugSecret, StoreError>;
}

/// Visit limits.
#[async_trait]
pub trait VisitStore: Send + Sync + Debug {
    /// Counts one human visit of a link with a visit limit, atomically:
    /// `false` when the limit is already reached (or the link is gone).
    async fn take_visit(&self, id: i64) -> Result<bool, StoreError>;
}

/// Click analytics: the worker's writes, the stats routes' reads.
#[async_trait]
pub trait AnalyticsStore: Send + Sync + Debug {
    /// Adds a batch in one transaction: the hourly rollups, the links'
    /// `visits`, and the raw visits.
    async fn write_clicks(&self, batch: &ClickBatch) -> Result<(), StoreError>;
    /// Hourly rows one [`ClickBatch`] should hold at most: a flush of more
    /// goes out in several, each in a transaction of its own.
    fn hours_per_transaction(&self) -> usize;
    /// Rollups of the hours in `hours` over the links of `scope`; per
    /// facet and for `top_links`, the `limit` largest.
    async fn stats(
        &self,
        scope: StatsScope,
        hours: std::ops::Range<i64>,
        limit: u32,
    ) -> Result<StatsRows, StoreError>;
    /// Raw visits of a link, newest first, after `after`.
    async fn visits(
        &self,
        link_id: i64,
        after: Option<VisitCursor>,
        limit: u32,
    ) -> Result<Vec<VisitRecord>, StoreError>;
    /// Deletes at most `max` raw visits older than `before`; how many went.
    async fn purge_visits(&self, before: OffsetDateTime, max: u32) -> Result<u64, StoreError>;
}

/// Users and API keys.
#[async_trait]
pub trait AccountStore: Send + Sync + Debug {
    async fn create_user(&self, user: NewUser) -> Result<User, AccountError>;
    /// Disabled users too.
    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// Disabled users too.
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError>;
    /// A user (disabled too) with their argon2id PHC string: only the
    /// login check reads the hash.
    async fn login_record(&self, username: &str) -> Result<Option<(User, String)>, StoreError>;
    /// Users with an ID above `after`, by ID, at most `limit`: keyset
    /// pages on the primary key.
    async fn list_users(&self, after: Option<i64>, limit: u32) -> Result<Vec<User>, StoreError>;
    /// `false` when there is no such user.
    async fn set_role(&self, user_id: i64, role: Role) -> Result<bool, StoreError>;
    /// Disables (as of `at`) or enables the user; disabling one already
    /// disabled keeps the first time. `false` when there is no such user.
    async fn set_disabled(
        &self,
        user_id: i64,
        disabled: bool,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Replaces the password's argon2id PHC string. `false` when there is
    /// no such user.
    async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    async fn create_key(&self, key: NewApiKey) -> Result<ApiKey, StoreError>;
    async fn keys_of(&self, user_id: i64) -> Result<Vec<ApiKey>, StoreError>;
    /// `false` when the key does not exist or is not the user's.
    async fn revoke_key(
        &self,
        user_id: i64,
        key_id: i64,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

/// Who holds an API key: asked on every API call, so it is its own port
/// (a cache wraps it).
#[async_trait]
pub trait Authenticator: Send + Sync + Debug {
    /// The principal of a live (not revoked) key of a user who is not
    /// disabled.
    async fn authenticate(&self, key_hash: &str) -> Result<Option<Principal>, StoreError>;
}

/// Web-UI sessions: asked on every page a signed-in user loads, so, like
/// [`Authenticator`], their own port. Always read on the primary: a
/// session made or ended a moment ago must count at once.
#[async_trait]
pub trait SessionStore: Send + Sync + Debug {
    async fn create_session(&self, session: NewSession) -> Result<(), StoreError>;
    /// The principal (`key_id` 0, not read-only) of a session that expires
    /// after `now`, of a user who is not disabled.
    async fn session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Principal>, StoreError>;
    /// `false` when there was no such session.
    async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError>;
    /// Ends every session of the user; how many there were.
    async fn delete_sessions_of(&self, user_id: i64) -> Result<u64, StoreError>;
    /// Deletes at most `max` sessions that expired before `before`; how
    /// many went.
    async fn purge_sessions(&self, before: OffsetDateTime, max: u32) -> Result<u64, StoreError>;
}

/// The links most worth having in a cache at start.
#[async_trait]
pub trait PopularLinks: Send + Sync + Debug {
    /// Hands `sink` the live links by visit count, most first, at most
    /// `limit`, one at a time as they arrive (a million rows need not sit
    /// in memory at once); how many it handed over.
    async fn most_visited(
        &self,
        limit: u32,
        sink: &mut (dyn for<'s> FnMut(&'s str, RedirectRecord) + Send),
    ) -> Result<usize, StoreError>;
}

/// Tells every cache of every node that something it may hold changed. The
/// write is in the store already; implementations must not fail the
/// request (a cache that cannot be told expires on its own).
#[async_trait]
pub trait Invalidator: Send + Sync + Debug {
    /// A link was created, changed or deleted.
    async fn link_changed(&self, slug: &str);
    /// An API key was revoked, or what it carries changed (its user was
    /// disabled or got another role): every cached answer for it goes.
    async fn key_revoked(&self, key_id: i64);
}

/// No cache, nothing to tell.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCache;

#[async_trait]
impl Invalidator for NoCache {
    async fn link_changed(&self, _slug: &str) {}
    async fn key_revoked(&self, _key_id: i64) {}
}

/// Whether the store answers (readiness).
#[async_trait]
pub trait Health: Send + Sync + Debug {
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Where the redirect path hands its clicks. Must not block.
pub trait ClickSink: Send + Sync + Debug {
    fn record(&self, click: ClickRef<'_>);
}

/// Slow, salted hashing of the passwords people choose. Implementations
/// bound how many run at once and say [`HashError::Busy`] past that.
#[async_trait]
pub trait PasswordHasher: Send + Sync + Debug {
    /// A PHC string.
    async fn hash(&self, password: String) -> Result<String, HashError>;
    /// `false` also for a hash that cannot be parsed.
    async fn verify(&self, hash: String, password: String) -> Result<bool, HashError>;
}

/// Links and visits as a catalog finds them: numbered pages with totals,
/// tag sets and orders (see [`crate::catalog`]). May read a replica.
#[async_trait]
pub trait Catalog: Send + Sync + Debug {
    async fn search(&self, query: &SearchQuery) -> Result<SearchPage, StoreError>;
    /// Whether a live link of `owner_id` (`None`: anyone's) carries `tag`;
    /// asked of the primary.
    async fn tag_exists(&self, owner_id: Option<i64>, tag: &str) -> Result<bool, StoreError>;
    /// Bot clicks of these links, from the rollups; links without any are
    /// left out.
    async fn bot_clicks(&self, link_ids: &[i64]) -> Result<Vec<(i64, i64)>, StoreError>;
    /// Every tag on the live links of `owner_id` (`None`: everyone's), by
    /// name, at most `limit`.
    async fn tags(&self, owner_id: Option<i64>, limit: u32) -> Result<Vec<TagStat>, StoreError>;
    /// Renames a tag on every live link carrying it (keeping one copy where
    /// a link carries both names); how many links changed.
    async fn rename_tag(&self, old: &str, new: &str, at: OffsetDateTime)
        -> Result<u64, StoreError>;
    /// Takes these tags off every live link; how many links changed.
    async fn delete_tags(&self, tags: &[String], at: OffsetDateTime) -> Result<u64, StoreError>;
    async fn visit_page(&self, query: &VisitQuery) -> Result<VisitSearchPage, StoreError>;
    async fn click_totals(&self, owner_id: Option<i64>) -> Result<ClickTotals, StoreError>;
    /// Slugs of live, enabled links marked crawlable, oldest first, at most
    /// `limit`.
    async fn crawlable_slugs(&self, limit: u32) -> Result<Vec<String>, StoreError>;
}
