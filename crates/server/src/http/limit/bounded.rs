//! The in-process limiter's memory, with a ceiling: a flood from a million
//! addresses must not grow it without end (ADR 0019).
//!
//! governor keeps one theoretical arrival time (TAT) per client. This store
//! keeps them in shards of plain maps, each holding at most its share of the
//! ceiling. A shard that is full first forgets clients whose buckets are
//! full again (losing nothing: a full bucket is what a new client gets);
//! when every client is busy, it forgets the eighth with the most cells
//! left, which hands those clients a fresh budget but keeps memory where it
//! was promised and the heaviest clients limited.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use governor::nanos::Nanos;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::state::StateStore;

const SHARDS: usize = 16;

/// One client's TAT; 0 stands for "never seen" (governor's convention).
type Cell = AtomicU64;

#[derive(Debug)]
pub(super) struct BoundedStore<K> {
    shards: Box<[RwLock<HashMap<K, Cell>>]>,
    hasher: RandomState,
    per_shard: usize,
    /// A full bucket's span (burst × interval): a TAT this far before a
    /// newly written one is certainly in the past, so its bucket is full.
    span: u64,
}

/// governor's decision over one cell, compare-and-swapped until it holds:
/// a known client costs a shared lock and an atomic, as in governor's own
/// store, so one busy client does not serialise every thread.
fn decide<T, E>(cell: &Cell, f: impl Fn(Option<Nanos>) -> Result<(T, Nanos), E>) -> Result<T, E> {
    let mut prev = cell.load(Ordering::Acquire);
    loop {
        let (answer, next) = f((prev != 0).then(|| Nanos::from(prev)))?;
        match cell.compare_exchange_weak(prev, next.as_u64(), Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Ok(answer),
            Err(now) => prev = now,
        }
    }
}

impl<K: Hash + Eq + Clone> BoundedStore<K> {
    pub(super) fn new(max_clients: usize, span: Nanos) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            hasher: RandomState::new(),
            per_shard: (max_clients / SHARDS).max(1),
            span: span.as_u64(),
        }
    }

    fn shard(&self, key: &K) -> &RwLock<HashMap<K, Cell>> {
        let i = usize::try_from(self.hasher.hash_one(key)).unwrap_or(0) % SHARDS;
        &self.shards[i]
    }

    /// Makes room in a full shard, about to store a TAT near `newest`.
    fn make_room(&self, map: &mut HashMap<K, Cell>, newest: u64) {
        let full_before = newest.saturating_sub(self.span);
        map.retain(|_, tat| *tat.get_mut() > full_before);
        // Each pass frees at least an eighth, so the scans it takes cost a
        // constant per insert, however the flood is shaped.
        if map.len() > self.per_shard - self.per_shard / 8 {
            // Most clients are busy: the eighth nearest to a full bucket
            // go, so the heaviest users (the furthest TATs) stay limited.
            let mut tats: Vec<u64> = map.values_mut().map(|t| *t.get_mut()).collect();
            let nth = tats.len() / 8;
            let (_, &mut cut, _) = tats.select_nth_unstable(nth);
            map.retain(|_, tat| *tat.get_mut() > cut);
        }
    }
}

impl<K: Hash + Eq + Clone> StateStore for BoundedStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let shard = self.shard(key);
        {
            let map = shard.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(cell) = map.get(key) {
                return decide(cell, f);
            }
        }
        let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
        if !map.contains_key(key) && map.len() >= self.per_shard {
            // A fresh client's TAT will be about `now`; any TAT `span`
            // before the newest in the shard is a full bucket.
            let newest = map.values_mut().map(|t| *t.get_mut()).max().unwrap_or(0);
            self.make_room(&mut map, newest);
        }
        let cell = map.entry(key.clone()).or_insert_with(|| AtomicU64::new(0));
        decide(cell, f)
    }
}

impl<K: Hash + Eq + Clone> ShrinkableKeyedStateStore<K> for BoundedStore<K> {
    fn retain_recent(&self, drop_below: Nanos) {
        let drop_below = drop_below.as_u64();
        for shard in &*self.shards {
            let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
            map.retain(|_, tat| *tat.get_mut() > drop_below);
        }
    }

    fn shrink_to_fit(&self) {
        for shard in &*self.shards {
            shard
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .shrink_to_fit();
        }
    }

    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::num::NonZeroU32;

    use governor::{Quota, RateLimiter};

    use super::*;

    #[test]
    fn a_million_addresses_stay_within_the_ceiling_and_a_busy_client_stays_limited() {
        let quota = Quota::per_minute(NonZeroU32::new(5).expect("nonzero"));
        let store = BoundedStore::new(10_000, quota.burst_size_replenished_in().into());
        let limiter: RateLimiter<_, _, _, governor::middleware::StateInformationMiddleware> =
            RateLimiter::new(quota, store, governor::clock::DefaultClock::default());
        let abuser = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        for _ in 0..5 {
            assert!(limiter.check_key(&abuser).is_ok());
        }
        for i in 0..1_000_000u32 {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            let _ = limiter.check_key(&ip);
            if i % 1000 == 0 {
                // The abuser keeps knocking, so it is among the recent.
                assert!(limiter.check_key(&abuser).is_err(), "still limited at {i}");
            }
        }
        assert!(
            limiter.len() <= 10_000 + SHARDS,
            "{} clients tracked",
            limiter.len()
        );
    }
}
