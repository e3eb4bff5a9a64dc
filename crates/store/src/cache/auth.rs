//! API keys, cached in process: every API call checks its key, and a store
//! query for each would cost more than the call. A revoked key is evicted
//! on every node at once (through the invalidation channel); entries also
//! expire, and unknown keys are remembered only briefly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use quick_cache::sync::Cache;
use tokio::time::Instant;

use kurz_core::account::Principal;
use kurz_core::error::StoreError;
use kurz_core::ports::Authenticator;

use super::l1::jittered_secs;

/// Most keys cached.
const MAX_KEYS: usize = 100_000;
/// How long an unknown key's "no" is kept: long enough to absorb a flood of
/// made-up keys, short enough not to matter otherwise.
const NEGATIVE_TTL: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(crate) struct AuthCache {
    /// Key hash → (principal or none, expiry in seconds since `started`).
    entries: Cache<String, (Option<Principal>, u32)>,
    store: Arc<dyn Authenticator>,
    started: Instant,
    ttl: Duration,
    /// Moved on by every revoke and clear: an answer read from the store
    /// before one is not cached after it (revokes are rare, so one counter
    /// for all keys costs nothing).
    generation: AtomicU64,
}

impl AuthCache {
    pub(crate) fn new(store: Arc<dyn Authenticator>, ttl: Duration) -> Self {
        Self {
            entries: Cache::new(MAX_KEYS),
            store,
            started: Instant::now(),
            ttl,
            generation: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u32 {
        u32::try_from(self.started.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// Forgets every cached entry of the key with this ID.
    pub(crate) fn revoke(&self, key_id: i64) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries
            .retain(|_, (who, _)| who.as_ref().is_none_or(|p| p.key_id != key_id));
    }

    pub(crate) fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
    }
}

#[async_trait]
impl Authenticator for AuthCache {
    async fn authenticate(&self, key_hash: &str) -> Result<Option<Principal>, StoreError> {
        if let Some((who, expiry)) = self.entries.get(key_hash) {
            if expiry > self.now() {
                return Ok(who);
            }
        }
        let since = self.generation.load(Ordering::Acquire);
        let who = self.store.authenticate(key_hash).await?;
        let ttl = if who.is_some() {
            self.ttl
        } else {
            NEGATIVE_TTL
        };
        let expiry = self.now().saturating_add(jittered_secs(ttl));
        let unchanged = || self.generation.load(Ordering::Acquire) == since;
        // A revoke only makes a key's "yes" stale: a "no" is cached
        // whatever happened meanwhile, so revokes cannot switch off the
        // negative entries that absorb floods of made-up keys.
        if who.is_none() || unchanged() {
            self.entries
                .insert(key_hash.to_owned(), (who.clone(), expiry));
            // A revoke between the check and the insert found nothing to
            // remove.
            if who.is_some() && !unchanged() {
                self.entries.remove(key_hash);
            }
        }
        Ok(who)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use kurz_core::account::{NewApiKey, NewUser, Role};
    use kurz_core::clock::from_millis;
    use kurz_core::fake::FakeStore;
    use kurz_core::ports::AccountStore;

    use super::*;

    #[tokio::test]
    async fn keys_are_looked_up_once_and_revoked_ones_drop_out_at_once() {
        let store = FakeStore::new();
        let user = store
            .create_user(NewUser {
                username: "u".into(),
                password_hash: "x".into(),
                role: Role::User,
                created_at: from_millis(0),
            })
            .await
            .expect("user");
        let key = store
            .create_key(NewApiKey {
                user_id: user.id,
                name: None,
                key_hash: "h".into(),
                read_only: false,
                created_at: from_millis(0),
            })
            .await
            .expect("key");
        let cache = AuthCache::new(store.clone(), Duration::from_secs(300));
        for _ in 0..3 {
            assert!(cache.authenticate("h").await.expect("auth").is_some());
        }
        store.down.store(true, Ordering::SeqCst);
        assert!(
            cache
                .authenticate("h")
                .await
                .expect("from the cache")
                .is_some(),
            "served without the store"
        );
        cache.revoke(key.id + 1);
        assert!(
            cache.authenticate("h").await.is_ok(),
            "another key's revoke"
        );
        cache.revoke(key.id);
        assert!(
            cache.authenticate("h").await.is_err(),
            "asked the store again (which is down)"
        );
    }
}
