//! The second level of the rate limits: budgets shared by every node
//! through Redis (ADR 0019).
//!
//! API budgets are checked in Redis on each request, all of a request's
//! buckets in one atomic call: the API already waits for the store, and a
//! fleet must not give a client one budget per node. The redirect path
//! never waits for Redis: its requests are charged afterwards, in one call
//! every [`FLUSH_EVERY`], and a client Redis finds over budget is turned
//! away on this node until its wait is over ([`Penalties`]). Redis down or
//! slow: the in-process level alone decides, never an error.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use kurz_store::cache::{Bucket, Mode, Redis, Verdict};

use super::Policy;
use crate::metrics::Limit;

/// How long the redirect path's charges wait before they reach Redis: the
/// most a client can spend past its shared budget on other nodes before
/// every node knows.
pub(super) const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Most distinct clients charged per flush, and per call to Redis.
const MAX_CHARGED: usize = 65_536;
const CALL_SIZE: usize = 512;
/// Most clients turned away at once on one node.
const MAX_PENALTIES: usize = 100_000;
/// The longest penalty, whatever a wait says (Redis caps its own at an
/// hour).
const MAX_PENALTY: Duration = Duration::from_secs(3600);
const SHARDS: usize = 16;

#[derive(Debug)]
pub(super) struct Shared {
    redis: Arc<Redis>,
    charges: Sharded<(Policy, IpAddr), u32>,
    pub(super) penalties: Arc<Penalties>,
}

impl Shared {
    pub(super) fn new(redis: Arc<Redis>) -> Self {
        Self {
            redis,
            charges: Sharded::new(MAX_CHARGED),
            penalties: Arc::default(),
        }
    }

    /// One request's buckets, all or none; `None` when Redis cannot say.
    pub(super) async fn check(&self, buckets: &[(Policy, String)]) -> Option<Vec<Verdict>> {
        let buckets: Vec<Bucket> = buckets
            .iter()
            .map(|(policy, client)| policy.bucket(client, 1))
            .collect();
        self.redis.gcra(&buckets, Mode::Check).await
    }

    /// A served redirect-path request, to be charged at the next flush.
    pub(super) fn charge(&self, policy: Policy, client: IpAddr) {
        self.charges
            .upsert((policy, client), 0, |n| *n = n.saturating_add(1));
    }

    /// Sends the charges since the last flush; clients over a shared
    /// budget get a penalty. Charges Redis could not take are dropped: the
    /// in-process level has limited those requests already.
    pub(super) async fn flush(&self) {
        let charged = self.charges.drain();
        for part in charged.chunks(CALL_SIZE) {
            let buckets: Vec<Bucket> = part
                .iter()
                .map(|((policy, ip), n)| policy.bucket(&ip.to_string(), *n))
                .collect();
            let Some(verdicts) = self.redis.gcra(&buckets, Mode::Charge).await else {
                return;
            };
            for (((policy, ip), _), verdict) in part.iter().zip(verdicts) {
                if !verdict.fits {
                    self.penalties.add(*ip, verdict.wait, policy_limit(policy));
                }
            }
        }
    }
}

/// The metric label of a redirect-path budget.
fn policy_limit(policy: &Policy) -> Limit {
    if policy.name == "not_found" {
        Limit::NotFound
    } else {
        Limit::Redirect
    }
}

/// Runs [`Shared::flush`] every [`FLUSH_EVERY`] for the life of the process.
pub(super) fn spawn_flusher(shared: Arc<Shared>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            shared.flush().await;
        }
    });
}

/// Clients turned away from the redirect path until a time: over a shared
/// budget, or out of their "no such link" budget. Empty, a check costs one
/// atomic load.
#[derive(Debug)]
pub(super) struct Penalties {
    until: Sharded<IpAddr, (Instant, Limit)>,
    count: AtomicUsize,
}

impl Default for Penalties {
    fn default() -> Self {
        Self {
            until: Sharded::new(MAX_PENALTIES),
            count: AtomicUsize::new(0),
        }
    }
}

impl Penalties {
    /// How long `client` is still turned away, if it is, and by which
    /// budget.
    pub(super) fn wait(&self, client: IpAddr) -> Option<(Duration, Limit)> {
        if self.count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let (until, which) = self.until.get(&client)?;
        Some((until.checked_duration_since(Instant::now())?, which))
    }

    /// Never refused for want of room: a full shard first drops the
    /// penalties that are over, then the one that ends soonest, so filling
    /// the table with short penalties cannot switch the gate off.
    pub(super) fn add(&self, client: IpAddr, wait: Duration, which: Limit) {
        let now = Instant::now();
        let until = now.checked_add(wait).unwrap_or(now + MAX_PENALTY);
        let mut map = self.until.shard(&client);
        if let Some(at) = map.get_mut(&client) {
            if until > at.0 {
                *at = (until, which);
            }
            return;
        }
        if map.len() >= self.until.per_shard {
            let before = map.len();
            map.retain(|_, (at, _)| *at > now);
            if map.len() >= self.until.per_shard {
                let soonest = map.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| *k);
                if let Some(k) = soonest {
                    map.remove(&k);
                }
            }
            self.count.fetch_sub(before - map.len(), Ordering::Relaxed);
        }
        map.insert(client, (until, which));
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets the penalties that are over.
    pub(super) fn forget_over(&self) {
        let now = Instant::now();
        let gone = self.until.retain(|_, (until, _)| *until > now);
        self.count.fetch_sub(gone, Ordering::Relaxed);
    }
}

/// A map in shards, each behind its own lock, holding at most its share of
/// a ceiling: past it, new keys are not taken (their requests were limited
/// in process already).
#[derive(Debug)]
struct Sharded<K, V> {
    shards: Box<[Mutex<HashMap<K, V>>]>,
    hasher: RandomState,
    per_shard: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> Sharded<K, V> {
    fn new(max: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            per_shard: (max / SHARDS).max(1),
        }
    }

    fn shard(&self, key: &K) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
        let i = usize::try_from(self.hasher.hash_one(key)).unwrap_or(0) % SHARDS;
        self.shards[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, key: &K) -> Option<V> {
        self.shard(key).get(key).cloned()
    }

    /// Applies `change` to the value of `key`, starting from `start` when
    /// the key is new and its shard has room; `true` when a key was added.
    fn upsert(&self, key: K, start: V, change: impl FnOnce(&mut V)) -> bool {
        let mut map = self.shard(&key);
        if let Some(value) = map.get_mut(&key) {
            change(value);
            return false;
        }
        if map.len() >= self.per_shard {
            return false;
        }
        let mut value = start;
        change(&mut value);
        map.insert(key, value);
        true
    }

    fn retain(&self, mut keep: impl FnMut(&K, &mut V) -> bool) -> usize {
        let mut gone = 0;
        for shard in &*self.shards {
            let mut map = shard.lock().unwrap_or_else(PoisonError::into_inner);
            let before = map.len();
            map.retain(|k, v| keep(k, v));
            gone += before - map.len();
        }
        gone
    }

    fn drain(&self) -> Vec<(K, V)> {
        let mut all = Vec::new();
        for shard in &*self.shards {
            let mut map = shard.lock().unwrap_or_else(PoisonError::into_inner);
            all.extend(map.drain());
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn a_full_penalty_table_still_takes_a_new_penalty() {
        let penalties = Penalties::default();
        // Fill every shard with penalties that end at once.
        for i in 0..(MAX_PENALTIES as u32 * 2) {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            penalties.add(ip, Duration::from_secs(1), Limit::NotFound);
        }
        let scanner = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        penalties.add(scanner, Duration::from_secs(600), Limit::NotFound);
        let (wait, which) = penalties.wait(scanner).expect("penalised");
        assert!(wait > Duration::from_secs(590));
        assert_eq!(which, Limit::NotFound);
        assert!(penalties.count.load(Ordering::Relaxed) <= MAX_PENALTIES);
    }
}
