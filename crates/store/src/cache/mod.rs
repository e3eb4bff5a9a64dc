//! The two-level cache of the redirect path (DESIGN.md, "Cache"; ADR 0013):
//! an in-process L1, Redis as L2 shared by all nodes, cache-aside, negative
//! entries, request coalescing, a circuit breaker around Redis, and
//! invalidation of every node's L1 through a Redis channel. API keys get an
//! in-process cache with the same invalidation.
//!
//! # Layout
//!
//! - `codec` — records as compact bytes (both levels keep this form).
//! - `l1` — the in-process cache; `redis` — L2 and the channel;
//!   `gather` — L2 lookups sent together; `breaker` — the circuit breaker
//!   around Redis.
//! - `layered` — the decorator of the lookup port and the invalidation;
//!   `generation` — what keeps a fill that an invalidation overtook out of
//!   the caches; `auth` — the API key cache.
//! - `gcra` — rate-limit buckets shared through Redis.

mod auth;
mod breaker;
mod codec;
mod gather;
mod gcra;
mod generation;
mod l1;
mod layered;
mod redis;

use std::sync::Arc;
use std::time::Duration;

use kurz_core::ports::{Authenticator, Invalidator, LinkLookup, PopularLinks};
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

pub use self::breaker::BreakerState;
pub use self::gcra::{Bucket, Mode, Verdict};
pub use self::l1::L1Config;
pub use self::redis::{Redis, RedisConfig};

use self::auth::AuthCache;
use self::generation::Generations;
pub(crate) use self::l1::L1;
use self::layered::{CachedLookup, Invalidation};
use crate::metrics::{CacheMetrics, ReadGauge};

/// How a node caches.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    pub l1: L1Config,
    /// `None`: no L2, no invalidation channel (one node).
    pub redis: Option<RedisConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("invalid Redis URL: {0}")]
    RedisUrl(#[source] ::redis::RedisError),
}

/// The caches of one node, wrapped around its store's ports.
#[derive(Debug, Clone)]
pub struct Caches {
    lookup: Arc<CachedLookup>,
    keys: Arc<AuthCache>,
    invalidation: Arc<Invalidation>,
    l1: Option<Arc<L1>>,
    redis: Option<Arc<Redis>>,
    generations: Arc<Generations>,
    /// Whether this node has listened on the invalidation channel yet.
    subscribed: Arc<watch::Sender<bool>>,
}

/// How long the warm-up waits for the first subscription.
const FIRST_SUBSCRIPTION: Duration = Duration::from_secs(3);

impl Caches {
    pub fn new(
        config: &CacheConfig,
        lookup: Arc<dyn LinkLookup>,
        authenticator: Arc<dyn Authenticator>,
    ) -> Result<Self, CacheError> {
        let l1 = L1::new(&config.l1).map(Arc::new);
        let redis = match &config.redis {
            Some(r) => Some(Arc::new(Redis::new(r).map_err(CacheError::RedisUrl)?)),
            None => None,
        };
        let keys = Arc::new(AuthCache::new(authenticator, config.l1.ttl));
        let generations = Arc::new(Generations::default());
        Ok(Self {
            lookup: Arc::new(CachedLookup {
                l1: l1.clone(),
                l2: redis.clone(),
                store: lookup,
                generations: generations.clone(),
                metrics: CacheMetrics::new(),
            }),
            invalidation: Arc::new(Invalidation {
                l1: l1.clone(),
                keys: Some(keys.clone()),
                l2: redis.clone(),
                generations: generations.clone(),
                tasks: TaskTracker::new(),
            }),
            keys,
            l1,
            redis,
            generations,
            subscribed: Arc::new(watch::Sender::new(false)),
        })
    }

    /// Adds the cache's metrics to `registry`: lookups by level and result,
    /// L1's entries when it is on, and the Redis breaker's state when Redis
    /// is configured.
    pub fn register_metrics(&self, registry: &prometheus::Registry) -> prometheus::Result<()> {
        registry.register(self.lookup.metrics.collector())?;
        if let Some(l1) = &self.l1 {
            registry.register(Box::new(ReadGauge::l1_entries(l1.clone())?))?;
        }
        if let Some(redis) = &self.redis {
            registry.register(Box::new(ReadGauge::breaker(redis.clone())?))?;
        }
        Ok(())
    }

    /// Connects to Redis and listens on the invalidation channel, in the
    /// background, for the life of the process.
    pub fn start(&self) {
        let Some(redis) = &self.redis else { return };
        redis.connect_in_background();
        let (on_message, on_subscribed) = (self.invalidation.clone(), self.invalidation.clone());
        let subscribed = self.subscribed.clone();
        redis.listen(
            move |message| on_message.apply(&message),
            move || {
                on_subscribed.clear();
                subscribed.send_replace(true);
            },
        );
    }

    /// The lookup port to give the redirect use case.
    pub fn lookup(&self) -> Arc<dyn LinkLookup> {
        self.lookup.clone()
    }

    pub fn authenticator(&self) -> Arc<dyn Authenticator> {
        self.keys.clone()
    }

    pub fn invalidator(&self) -> Arc<dyn Invalidator> {
        self.invalidation.clone()
    }

    pub fn redis(&self) -> Option<&Arc<Redis>> {
        self.redis.as_ref()
    }

    /// Entries in L1.
    pub fn l1_len(&self) -> usize {
        self.l1.as_ref().map_or(0, |l1| l1.len())
    }

    /// L1's table bytes and the weight it holds (for the warm-up's log
    /// line: what the links cost, measured where they live).
    pub fn l1_memory(&self) -> (usize, u64) {
        self.l1.as_ref().map_or((0, 0), |l1| l1.memory())
    }

    /// Loads the most-visited links into L1, at most `limit` of them and
    /// for at most `deadline`; how many it loaded.
    pub async fn warm_up(
        &self,
        popular: &dyn PopularLinks,
        limit: u32,
        deadline: Duration,
    ) -> usize {
        let Some(l1) = &self.l1 else { return 0 };
        // The first subscription clears L1 (what happened before it is
        // unknown): load after it, not before. If Redis does not answer
        // soon, load anyway; a later subscription clears it again, which
        // is safe.
        if self.redis.is_some() {
            let mut subscribed = self.subscribed.subscribe();
            let _ = tokio::time::timeout(FIRST_SUBSCRIPTION, subscribed.wait_for(|s| *s)).await;
        }
        // The rows come from one read of the store; a slug invalidated
        // since that read began keeps whatever L1 has (or has not) for it.
        let before = self.generations.snapshot();
        let mut loaded = 0;
        let mut put = |slug: &str, record: kurz_core::link::RedirectRecord| {
            if self.generations.unchanged_since(&before, slug) {
                l1.put(slug, Some(&record));
                if !self.generations.unchanged_since(&before, slug) {
                    l1.remove(slug);
                }
                loaded += 1;
            }
        };
        match tokio::time::timeout(deadline, popular.most_visited(limit, &mut put)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                let error =
                    std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                        e.source()
                    })
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(": ");
                tracing::warn!(error, loaded, "warm-up cut short: the store failed");
            }
            Err(_) => tracing::warn!(loaded, "warm-up cut short: the store took too long"),
        }
        loaded
    }

    /// Waits for the invalidations under way (a command-line run calls it
    /// before it exits, so its second deletes happen).
    pub async fn settle(&self) {
        self.invalidation.settle().await;
    }
}
