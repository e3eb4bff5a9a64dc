//! The caching decorator of the lookup port, and the invalidation that
//! keeps it (and every other node's) honest.
//!
//! Reads: L1, then L2, then the store; what the store says fills L2 and L1
//! on the way back (cache-aside), "no such link" included, with a shorter
//! TTL. A store error is never cached: the next lookup asks again.
//!
//! Writes (after the store has them): delete the L2 key, publish the slug
//! on the invalidation channel (every node, this one included, evicts it
//! from L1), and delete the L2 key and the L1 entry once more a moment
//! later. The second delete closes the race with a reader that read the
//! old row just before the write and fills a cache just after it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use kurz_core::error::StoreError;
use kurz_core::link::RedirectRecord;
use kurz_core::ports::{Invalidator, LinkLookup};

use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::auth::AuthCache;
use super::codec::Cached;
use super::generation::Generations;
use super::l1::L1;
use super::redis::{Message, Redis};
use crate::metrics::{CacheMetrics, CacheResult};

/// How long after a write the second delete comes.
pub(crate) const SECOND_DELETE: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub(crate) struct CachedLookup {
    pub(crate) l1: Option<Arc<L1>>,
    pub(crate) l2: Option<Arc<Redis>>,
    pub(crate) store: Arc<dyn LinkLookup>,
    pub(crate) generations: Arc<Generations>,
    pub(crate) metrics: CacheMetrics,
}

impl CachedLookup {
    /// L2, then the store; `since` is the slug's generation before the
    /// lookup began (an answer from before an invalidation fills nothing).
    async fn below_l1(&self, slug: &str, since: u64) -> Result<Option<RedirectRecord>, StoreError> {
        if let Some(l2) = &self.l2 {
            if let Some(cached) = l2.get(slug).await {
                let found = cached.into_option();
                self.metrics.l2_found(found.is_some());
                return Ok(found);
            }
            self.metrics.count(CacheResult::L2Miss);
        }
        let found = self.store.lookup(slug).await?;
        if let Some(l2) = &self.l2 {
            if self.generations.of(slug) == since {
                l2.put_later(slug, found.as_ref());
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl LinkLookup for CachedLookup {
    /// A miss here is not counted: the caller goes on to [`Self::lookup`],
    /// which counts it.
    fn lookup_now(&self, slug: &str) -> Option<Option<RedirectRecord>> {
        let found = self.l1.as_ref()?.get(slug).map(Cached::into_option)?;
        self.metrics.l1_found(found.is_some());
        Some(found)
    }

    async fn lookup(&self, slug: &str) -> Result<Option<RedirectRecord>, StoreError> {
        let span = tracing::debug_span!("cache.lookup");
        async {
            match &self.l1 {
                Some(l1) => {
                    // Whoever loads counts the miss; callers that waited
                    // on that load, or found the entry, count a hit.
                    let loaded = AtomicBool::new(false);
                    let found = l1
                        .get_or_load(
                            slug,
                            |since| {
                                loaded.store(true, Ordering::Relaxed);
                                self.metrics.count(CacheResult::L1Miss);
                                self.below_l1(slug, since)
                            },
                            || self.generations.of(slug),
                        )
                        .await;
                    if let (false, Ok(found)) = (loaded.load(Ordering::Relaxed), &found) {
                        self.metrics.l1_found(found.is_some());
                    }
                    found
                }
                None => self.below_l1(slug, self.generations.of(slug)).await,
            }
        }
        .instrument(span)
        .await
    }
}

/// Tells this node's caches and, through Redis, every other node's.
#[derive(Debug, Clone)]
pub(crate) struct Invalidation {
    pub(crate) l1: Option<Arc<L1>>,
    pub(crate) keys: Option<Arc<AuthCache>>,
    pub(crate) l2: Option<Arc<Redis>>,
    pub(crate) generations: Arc<Generations>,
    /// The announcements and second deletes under way: they run on their
    /// own, so a request that is cancelled after its write still tells
    /// everyone, and a command-line run waits for them before it exits.
    pub(crate) tasks: TaskTracker,
}

impl Invalidation {
    /// What a message from the channel (or this node itself) asks.
    pub(crate) fn apply(&self, message: &Message) {
        match message {
            Message::Link(slug) => {
                self.evict(slug);
                if let Some(l1) = &self.l1 {
                    let (l1, slug) = (Arc::clone(l1), slug.clone());
                    self.tasks.spawn(async move {
                        tokio::time::sleep(SECOND_DELETE).await;
                        l1.remove(&slug);
                    });
                }
            }
            Message::Key(id) => {
                if let Some(keys) = &self.keys {
                    keys.revoke(*id);
                }
            }
            Message::All => self.clear(),
        }
    }

    /// Drops this node's entry of `slug`, and any fill under way for it.
    fn evict(&self, slug: &str) {
        self.generations.advance(slug);
        if let Some(l1) = &self.l1 {
            l1.remove(slug);
        }
    }

    /// Everything cached may be stale (the channel was lost for a while).
    pub(crate) fn clear(&self) {
        self.generations.advance_all();
        if let Some(l1) = &self.l1 {
            l1.clear();
        }
        if let Some(keys) = &self.keys {
            keys.clear();
        }
    }

    /// Waits for the announcements and second deletes under way.
    pub(crate) async fn settle(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Tells Redis of `message` in a task of its own, and waits for it.
    async fn announce(&self, message: Message) -> bool {
        let Some(l2) = &self.l2 else { return true };
        let l2 = Arc::clone(l2);
        let task = self.tasks.spawn(async move { l2.announce(&message).await });
        task.await.unwrap_or(false)
    }
}

#[async_trait]
impl Invalidator for Invalidation {
    async fn link_changed(&self, slug: &str) {
        self.apply(&Message::Link(slug.to_owned()));
        let Some(l2) = &self.l2 else { return };
        let (l2, later) = (Arc::clone(l2), slug.to_owned());
        self.tasks.spawn(async move {
            tokio::time::sleep(SECOND_DELETE).await;
            l2.delete_again(&later).await;
        });
        let told = self.announce(Message::Link(slug.to_owned())).await;
        // A lookup on this node between the eviction above and Redis's
        // delete may have cached the old L2 entry: evict once more (the
        // delayed eviction is already on its way).
        self.evict(slug);
        if !told {
            tracing::warn!(
                "Redis could not be told of a link change now; it is told again once it \
                 answers, and other nodes may serve the old answer until then"
            );
        }
    }

    async fn key_revoked(&self, key_id: i64) {
        let message = Message::Key(key_id);
        self.apply(&message);
        if !self.announce(message).await {
            tracing::warn!(
                "Redis could not be told of a revoked key now; it is told again once it \
                 answers, and other nodes may accept the key until then"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use kurz_core::clock::from_millis;
    use kurz_core::fake::{new_link, FakeStore};
    use kurz_core::ports::{IdSource, LinkStore};

    use super::super::l1::L1Config;
    use super::*;

    fn cached(store: &Arc<FakeStore>) -> (CachedLookup, Invalidation) {
        let l1 = L1::new(&L1Config {
            max_entries: 1000,
            max_bytes: 1_000_000,
            ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(30),
            negative_max_entries: 1000,
        })
        .map(Arc::new);
        let generations = Arc::new(Generations::default());
        (
            CachedLookup {
                l1: l1.clone(),
                l2: None,
                store: store.clone(),
                generations: generations.clone(),
                metrics: CacheMetrics::new(),
            },
            Invalidation {
                l1,
                keys: None,
                l2: None,
                generations,
                tasks: TaskTracker::new(),
            },
        )
    }

    async fn add(store: &FakeStore, slug: &str) {
        let id = i64::try_from(store.next_id().await.expect("id")).expect("small");
        store
            .insert(new_link(id, slug, "https://example.com/", from_millis(0)))
            .await
            .expect("insert");
    }

    #[tokio::test]
    async fn concurrent_lookups_of_one_slug_make_one_store_query() {
        let store = FakeStore::new();
        add(&store, "hot").await;
        let (lookup, _) = cached(&store);
        let lookup = Arc::new(lookup);
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let lookup = lookup.clone();
                tokio::spawn(async move { lookup.lookup("hot").await })
            })
            .collect();
        for t in tasks {
            assert!(t.await.expect("join").expect("lookup").is_some());
        }
        assert_eq!(store.lookups.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn unknown_slugs_are_asked_once_and_a_create_makes_them_known() {
        let store = FakeStore::new();
        let (lookup, invalidation) = cached(&store);
        for _ in 0..5 {
            assert_eq!(lookup.lookup("nope").await.expect("lookup"), None);
        }
        assert_eq!(store.lookups.load(Ordering::SeqCst), 1, "a negative entry");
        add(&store, "nope").await;
        invalidation.link_changed("nope").await;
        assert!(lookup.lookup("nope").await.expect("lookup").is_some());
        assert_eq!(store.lookups.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn cached_links_outlive_the_store_and_uncached_ones_report_its_absence() {
        let store = FakeStore::new();
        add(&store, "kept").await;
        let (lookup, _) = cached(&store);
        assert!(lookup.lookup("kept").await.expect("lookup").is_some());
        store.down.store(true, Ordering::SeqCst);
        assert!(lookup.lookup("kept").await.expect("from L1").is_some());
        assert!(matches!(
            lookup.lookup("other").await,
            Err(StoreError::Unavailable(_))
        ));
        store.down.store(false, Ordering::SeqCst);
        assert_eq!(
            lookup.lookup("other").await.expect("lookup"),
            None,
            "the failure was not cached as absent"
        );
    }

    #[tokio::test]
    async fn an_answer_read_before_a_change_is_not_cached_after_it() {
        let store = FakeStore::new();
        add(&store, "moving").await;
        let (lookup, invalidation) = cached(&store);
        let lookup = Arc::new(lookup);
        // The store answers only once the change has been announced.
        store.hold.store(true, Ordering::SeqCst);
        let reader = {
            let lookup = lookup.clone();
            tokio::spawn(async move { lookup.lookup("moving").await })
        };
        while store.lookups.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        invalidation.link_changed("moving").await;
        store.hold.store(false, Ordering::SeqCst);
        assert!(reader.await.expect("join").expect("lookup").is_some());
        assert_eq!(
            lookup.lookup_now("moving"),
            None,
            "the old answer was not cached"
        );
    }

    #[tokio::test]
    async fn a_waiter_that_takes_over_after_a_change_caches_its_answer() {
        let store = FakeStore::new();
        add(&store, "moving").await;
        let (lookup, invalidation) = cached(&store);
        let lookup = Arc::new(lookup);
        store.hold.store(true, Ordering::SeqCst);
        let first = {
            let lookup = lookup.clone();
            tokio::spawn(async move { lookup.lookup("moving").await })
        };
        while store.lookups.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // A second reader queues behind the first one's load.
        let second = {
            let lookup = lookup.clone();
            tokio::spawn(async move { lookup.lookup("moving").await })
        };
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        invalidation.link_changed("moving").await;
        store.hold.store(false, Ordering::SeqCst);
        assert!(first.await.expect("join").expect("lookup").is_some());
        assert!(second.await.expect("join").expect("lookup").is_some());
        assert_eq!(
            store.lookups.load(Ordering::SeqCst),
            2,
            "the second read after the change"
        );
        assert!(
            lookup.lookup_now("moving").is_some(),
            "and what it read after the change is cached"
        );
    }
}
