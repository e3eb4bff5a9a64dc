//! What the store and its caches report to `/metrics` (DESIGN.md,
//! "Operating it"). Recording is a few atomic adds; the server registers
//! these collectors in its registry ([`crate::Database::register_metrics`],
//! [`crate::cache::Caches::register_metrics`]). Each open store and each
//! node's caches have their own, so two servers in one process (tests) do
//! not add up.

use std::sync::Arc;
use std::time::Duration;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::cache::Redis;
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

/// `kurz_cache_requests_total{level, result}`, resolved once: a redirect
/// served from L1 costs one atomic add here.
#[derive(Debug, Clone)]
pub(crate) struct CacheMetrics {
    family: IntCounterVec,
    pub(crate) l1_hit: IntCounter,
    pub(crate) l1_negative_hit: IntCounter,
    pub(crate) l1_miss: IntCounter,
    pub(crate) l2_hit: IntCounter,
    pub(crate) l2_negative_hit: IntCounter,
    pub(crate) l2_miss: IntCounter,
}

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
        let c = |level, result| family.with_label_values(&[level, result]);
        Self {
            l1_hit: c("l1", "hit"),
            l1_negative_hit: c("l1", "negative_hit"),
            l1_miss: c("l1", "miss"),
            l2_hit: c("l2", "hit"),
            l2_negative_hit: c("l2", "negative_hit"),
            l2_miss: c("l2", "miss"),
            family,
        }
    }

    /// Counts an L1 answer: a link, or "no such link".
    pub(crate) fn l1_found(&self, link: bool) {
        if link {
            self.l1_hit.inc();
        } else {
            self.l1_negative_hit.inc();
        }
    }

    pub(crate) fn l2_found(&self, link: bool) {
        if link {
            self.l2_hit.inc();
        } else {
            self.l2_negative_hit.inc();
        }
    }

    pub(crate) fn collector(&self) -> Box<dyn Collector> {
        Box::new(self.family.clone())
    }
}

/// `kurz_redis_breaker_state`: 0 closed, 1 half-open, 2 open; read at
/// scrape time.
pub(crate) struct BreakerGauge {
    redis: Arc<Redis>,
    gauge: IntGauge,
}

impl BreakerGauge {
    pub(crate) fn new(redis: Arc<Redis>) -> prometheus::Result<Self> {
        Ok(Self {
            redis,
            gauge: IntGauge::new(
                "kurz_redis_breaker_state",
                "The circuit breaker around Redis: 0 closed, 1 half-open, 2 open",
            )?,
        })
    }
}

impl Collector for BreakerGauge {
    fn desc(&self) -> Vec<&Desc> {
        self.gauge.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.gauge.set(self.redis.breaker_state() as i64);
        self.gauge.collect()
    }
}
