//! The traits the core needs from the outside world. Adapters live in
//! `kurz-store` (databases) and `kurz-server` (click counting).

use std::fmt::Debug;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::{ApiKey, NewApiKey, NewUser, Principal, User};
use crate::error::{AccountError, InsertError, StoreError};
use crate::link::{Link, LinkChanges, ListQuery, NewLink};
use crate::slug::SlugSecret;

/// How many links to one URL `reuse` looks at: enough for the few variants
/// (tags, expiry) one owner keeps, and a bound on a reuse lookup's cost.
pub const REUSE_CANDIDATES: i64 = 16;

#[async_trait]
pub trait LinkRepo: Send + Sync + Debug {
    /// A fresh link ID, never handed out before on any node.
    async fn next_id(&self) -> Result<u64, StoreError>;
    async fn insert(&self, link: NewLink) -> Result<Link, InsertError>;
    /// The instance's slug secret (made on first start).
    async fn slug_secret(&self) -> Result<SlugSecret, StoreError>;
    /// A live (not deleted) link, read from the primary.
    async fn by_slug(&self, slug: &str) -> Result<Option<Link>, StoreError>;
    /// The redirect path's lookup: may read a replica, but a miss there is
    /// checked on the primary before it counts as absent.
    async fn resolve(&self, slug: &str) -> Result<Option<Link>, StoreError>;
    /// Live links of this owner to exactly this URL, newest first, at most
    /// [`REUSE_CANDIDATES`].
    async fn by_owner_and_url(
        &self,
        owner_id: Option<i64>,
        url: &str,
    ) -> Result<Vec<Link>, StoreError>;
    async fn list(&self, query: &ListQuery) -> Result<Vec<Link>, StoreError>;
    async fn update(
        &self,
        id: i64,
        changes: &LinkChanges,
        at: OffsetDateTime,
    ) -> Result<Option<Link>, StoreError>;
    /// Deletes a link but keeps its slug, so it is never given out again.
    async fn delete(&self, id: i64, at: OffsetDateTime) -> Result<bool, StoreError>;
    /// Counts one visit of a link with a visit limit, atomically: `false`
    /// when the limit is already reached.
    async fn take_visit(&self, id: i64) -> Result<bool, StoreError>;
    /// Adds batched visit counts.
    async fn add_visits(&self, counts: &[(i64, u64)]) -> Result<(), StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
}

#[async_trait]
pub trait AccountRepo: Send + Sync + Debug {
    async fn create_user(&self, user: NewUser) -> Result<User, AccountError>;
    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError>;
    async fn create_key(&self, key: NewApiKey) -> Result<ApiKey, StoreError>;
    async fn keys_of(&self, user_id: i64) -> Result<Vec<ApiKey>, StoreError>;
    /// `false` when the key does not exist or is not the user's.
    async fn revoke_key(&self, user_id: i64, key_id: i64) -> Result<bool, StoreError>;
    async fn authenticate(&self, key_hash: &str) -> Result<Option<Principal>, StoreError>;
}

/// Where the redirect path hands its clicks. Must not block.
pub trait ClickSink: Send + Sync + Debug {
    fn record(&self, link_id: i64);
}
