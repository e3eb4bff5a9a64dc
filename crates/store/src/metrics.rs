//! What the store and its caches report to `/metrics` (DESIGN.md,
//! "Operating it"). Recording is a few atomic adds; the server registers
//! these collectors in its registry ([`crate::Database::register_metrics`],
//! [`crate::cache::Caches::register_metrics`]). Each open store and each
//! node's caches have their own, so two servers in one process (tests) do
//! not add up.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::cache::{Redis, L1};
use crate::db::Pool;

/// Buckets of store calls: from 100 µs (a SQLite lookup) to the 10 s of the
/// default query time-out.
const QUERY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Time and failures of store calls, by operation (`lookup`, `create_link`,
/// ...: the repository method's name).
#[derive(Debug, Clone)]
pub(crate) struct StoreMetrics {
    queries: HistogramVec,
    errors: IntCounterVec,
}

impl StoreMetrics {
    pub(crate) fn new() -> Self {
        // Constant names and labels that prometheus accepts: these cannot
        // fail at run time.
        let queries = HistogramVec::new(
            HistogramOpts::new(
                "kurz_store_query_duration_seconds",
                "Time of one store call (pool wait included), by operation",
            )
            .buckets(QUERY_BUCKETS.to_vec()),
            &["op"],
        )
        .expect("valid histogram");
        let errors = IntCounterVec::new(
            Opts::new(
                "kurz_store_errors_total",
                "Store calls that failed or timed out, by operation",
            ),
            &["op"],
        )
        .expect("valid counter");
        Self { queries, errors }
    }

    pub(crate) fn observe(&self, op: &'static str, elapsed: Duration, failed: bool) {
        self.queries
            .with_label_values(&[op])
            .observe(elapsed.as_secs_f64());
        // Resolved on success too, so every op's error series exists (at
        // 0) from its first call, and alerts see 0, not nothing.
        let errors = self.errors.with_label_values(&[op]);
        if failed {
            errors.inc();
        }
    }

    pub(crate) fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.queries.clone()))?;
        registry.register(Box::new(self.errors.clone()))
    }
}

/// `kurz_db_pool_connections{state}`: the primary pool's connections, read
/// at scrape time.
pub(crate) struct PoolGauge {
    pool: Pool,
    max: u32,
    gauge: IntGaugeVec,
}

impl PoolGauge {
    pub(crate) fn new(pool: Pool, max: u32) -> prometheus::Result<Self> {
        Ok(Self {
            pool,
            max,
            gauge: IntGaugeVec::new(
                Opts::new(
                    "kurz_db_pool_connections",
                    "Connections of the primary database pool: idle, in_use, and the max",
                ),
                &["state"],
            )?,
        })
    }
}

impl Collector for PoolGauge {
    fn desc(&self) -> Vec<&Desc> {
        self.gauge.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let (size, idle) = self.pool.size_and_idle();
        let g = |state: &str, n: u64| {
            self.gauge
                .with_label_values(&[state])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        };
        g("idle", idle);
        g("in_use", size.saturating_sub(idle));
        g("max", u64::from(self.max));
        self.gauge.collect()
    }
}

/// Counters that many threads add to at once, each thread on cache lines
/// of its own: a redirect adds to several, and one shared atomic per
/// counter would bounce its cache line between the cores on every
/// request. Read (summed over the shards) only at scrape time.
#[derive(Debug)]
pub struct Striped {
    blocks: Box<[Block]>,
    /// Blocks per shard.
    stride: usize,
    width: usize,
}

/// Eight counters on a line pair of their own (the adjacent-line
/// prefetcher moves 128 bytes at a time).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Block([AtomicU64; 8]);

/// More than the cores of any node kurz runs on; threads past it share.
const SHARDS: usize = 32;

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

impl Striped {
    pub fn new(width: usize) -> Self {
        let stride = width.div_ceil(8).max(1);
        Self {
            blocks: (0..SHARDS * stride).map(|_| Block::default()).collect(),
            stride,
            width,
        }
    }

    /// Adds `n` to counter `i` (ignored past the width).
    #[inline]
    pub fn add(&self, i: usize, n: u64) {
        if i >= self.width {
            return;
        }
        let shard = SHARD.with(|s| *s);
        if let Some(block) = self.blocks.get(shard * self.stride + i / 8) {
            block.0[i % 8].fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Counter `i` over every shard.
    pub fn sum(&self, i: usize) -> u64 {
        if i >= self.width {
            return 0;
        }
        (0..SHARDS)
            .filter_map(|shard| self.blocks.get(shard * self.stride + i / 8))
            .map(|block| block.0[i % 8].load(Ordering::Relaxed))
            .sum()
    }
}

/// [`Striped`] counters that stand for prometheus counters: each scrape
/// adds what was counted since the last one to its counter.
#[derive(Debug)]
pub struct StripedCounters {
    counts: Striped,
    targets: Vec<IntCounter>,
    synced: Mutex<Vec<u64>>,
}

impl StripedCounters {
    pub fn new(targets: Vec<IntCounter>) -> Self {
        Self {
            counts: Striped::new(targets.len()),
            synced: Mutex::new(vec![0; targets.len()]),
            targets,
        }
    }

    #[inline]
    pub fn inc(&self, i: usize) {
        self.counts.add(i, 1);
    }

    /// Brings the prometheus counters up to date; called by collectors.
    pub fn sync(&self) {
        let mut synced = self.synced.lock().unwrap_or_else(PoisonError::into_inner);
        for (i, (target, seen)) in self.targets.iter().zip(synced.iter_mut()).enumerate() {
            let total = self.counts.sum(i);
            target.inc_by(total.saturating_sub(*seen));
            *seen = total;
        }
    }
}

/// `kurz_cache_requests_total{level, result}`: a redirect served from L1
/// adds to a counter of its own thread's (see [`Striped`]).
#[derive(Debug, Clone)]
pub(crate) struct CacheMetrics {
    family: IntCounterVec,
    counts: Arc<StripedCounters>,
}

/// The counters of [`CacheMetrics`], in the order of [`CACHE_SERIES`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum CacheResult {
    L1Hit,
    L1NegativeHit,
    L1Miss,
    L2Hit,
    L2NegativeHit,
    L2Miss,
}

const CACHE_SERIES: [(&str, &str); 6] = [
    ("l1", "hit"),
    ("l1", "negative_hit"),
    ("l1", "miss"),
    ("l2", "hit"),
    ("l2", "negative_hit"),
    ("l2", "miss"),
];

impl CacheMetrics {
    pub(crate) fn new() -> Self {
        let family = IntCounterVec::new(
            Opts::new(
                "kurz_cache_requests_total",
                "Redirect lookups by cache level (l1, l2) and result (hit, miss, negative_hit)",
            ),
            &["level", "result"],
        )
        .expect("valid counter");
        let targets = CACHE_SERIES
            .iter()
            .map(|(level, result)| family.with_label_values(&[level, result]))
            .collect();
        Self {
            counts: Arc::new(StripedCounters::new(targets)),
            family,
        }
    }

    #[inline]
    pub(crate) fn count(&self, result: CacheResult) {
        self.counts.inc(result as usize);
    }

    /// Counts an L1 answer: a link, or "no such link".
    pub(crate) fn l1_found(&self, link: bool) {
        self.count(if link {
            CacheResult::L1Hit
        } else {
            CacheResult::L1NegativeHit
        });
    }

    pub(crate) fn l2_found(&self, link: bool) {
        self.count(if link {
            CacheResult::L2Hit
        } else {
            CacheResult::L2NegativeHit
        });
    }

    pub(crate) fn collector(&self) -> Box<dyn Collector> {
        Box::new(CacheCollector(self.clone()))
    }
}

struct CacheCollector(CacheMetrics);

impl Collector for CacheCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.0.family.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.0.counts.sync();
        self.0.family.collect()
    }
}

/// A gauge read at scrape time: `kurz_redis_breaker_state` (0 closed,
/// 1 half-open, 2 open) and `kurz_cache_l1_entries` (links and "no such
/// link" entries in L1: the warm-up's progress, and how full L1 is).
pub(crate) struct ReadGauge {
    gauge: IntGauge,
    read: Box<dyn Fn() -> i64 + Send + Sync>,
}

impl ReadGauge {
    pub(crate) fn breaker(redis: Arc<Redis>) -> prometheus::Result<Self> {
        Ok(Self {
            gauge: IntGauge::new(
                "kurz_redis_breaker_state",
                "The circuit breaker around Redis: 0 closed, 1 half-open, 2 open",
            )?,
            read: Box::new(move || redis.breaker_state() as i64),
        })
    }

    pub(crate) fn l1_entries(l1: Arc<L1>) -> prometheus::Result<Self> {
        Ok(Self {
            gauge: IntGauge::new(
                "kurz_cache_l1_entries",
                "Entries in the in-process cache (links and unknown slugs)",
            )?,
            read: Box::new(move || i64::try_from(l1.len()).unwrap_or(i64::MAX)),
        })
    }
}

impl Collector for ReadGauge {
    fn desc(&self) -> Vec<&Desc> {
        self.gauge.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.gauge.set((self.read)());
        self.gauge.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn striped_counts_from_many_threads_add_up_and_sync_once() {
        let family = IntCounterVec::new(Opts::new("t_total", "test"), &["i"]).expect("counter vec");
        let targets: Vec<IntCounter> = (0..10)
            .map(|i| family.with_label_values(&[&i.to_string()]))
            .collect();
        let counters = Arc::new(StripedCounters::new(targets.clone()));
        let threads: Vec<_> = (0..40)
            .map(|t| {
                let counters = counters.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        counters.inc(t % 10);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        counters.inc(99);
        counters.sync();
        counters.sync();
        for target in &targets {
            assert_eq!(target.get(), 4000);
        }
    }
}
