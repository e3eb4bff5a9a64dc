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
use std::sync::{Mutex, PoisonError};

use governor::nanos::Nanos;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::state::StateStore;

const SHARDS: usize = 16;

#[derive(Debug)]
pub(super) struct BoundedStore<K> {
    shards: Box<[Mutex<HashMap<K, u64>>]>,
    hasher: RandomState,
    per_shard: usize,
    /// A full bucket's span (burst × interval): a TAT this far before a
    /// newly written one is certainly in the past, so its bucket is full.
    span: u64,
}

impl<K: Hash + Eq + Clone> BoundedStore<K> {
    pub(super) fn new(max_clients: usize, span: Nanos) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            per_shard: (max_clients / SHARDS).max(1),
            span: span.as_u64(),
        }
    }

    fn shard(&self, key: &K) -> std::sync::MutexGuard<'_, HashMap<K, u64>> {
        let i = usize::try_from(self.hasher.hash_one(key)).unwrap_or(0) % SHARDS;
        self.shards[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes room in a full shard, about to store `newest`.
    fn make_room(&self, map: &mut HashMap<K, u64>, newest: u64) {
        let full_before = newest.saturating_sub(self.span);
        map.retain(|_, tat| *tat > full_before);
        if map.len() >= self.per_shard {
            // Every client is busy: the eighth nearest to a full bucket go,
            // so the heaviest users (the furthest TATs) stay limited.
            let mut tats: Vec<u64> = map.values().copied().collect();
            let nth = tats.len() / 8;
            let (_, &mut cut, _) = tats.select_nth_unstable(nth);
            map.retain(|_, tat| *tat > cut);
        }
    }
}

impl<K: Hash + Eq + Clone> StateStore for BoundedStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let mut map = self.shard(key);
        let (answer, tat) = f(map.get(key).map(|&tat| Nanos::from(tat)))?;
        let tat = tat.as_u64();
        if let Some(slot) = map.get_mut(key) {
            *slot = tat;
        } else {
            if map.len() >= self.per_shard {
                self.make_room(&mut map, tat);
            }
            map.insert(key.clone(), tat);
        }
        Ok(answer)
    }
}

impl<K: Hash + Eq + Clone> ShrinkableKeyedStateStore<K> for BoundedStore<K> {
    fn retain_recent(&self, drop_below: Nanos) {
        let drop_below = drop_below.as_u64();
        for shard in &*self.shards {
            let mut map = shard.lock().unwrap_or_else(PoisonError::into_inner);
            map.retain(|_, tat| *tat > drop_below);
        }
    }

    fn shrink_to_fit(&self) {
        for shard in &*self.shards {
            shard
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .shrink_to_fit();
        }
    }

    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
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
