//! The in-process cache (L1): S3-FIFO eviction (quick_cache, scan-resistant
//! like TinyLFU, with less memory per entry than moka), bounded by entries
//! and by bytes at once, a TTL with random jitter, negative entries with
//! their own short TTL in a table of their own, and request coalescing:
//! concurrent misses on one slug wait for a single load.
//!
//! Negative entries have their own table and bound
//! (`cache.l1_negative_max_entries`): in the links' table, a warm cache
//! full of links let a flood of unknown slugs either evict links or, as
//! S3-FIFO mostly did, lose its own entries, so that one request in ten of
//! a flood over slugs already known absent asked the store again (issue 8).
//!
//! An entry is one boxed byte string: its expiry (seconds since the cache
//! started, 4 bytes), the slug (checked on every hit: the table is keyed by
//! a 32-bit hash of the slug, so a collision is a miss, never the wrong
//! link), then the record in the `codec` form. About 90 bytes an entry in
//! all for a typical link (ADR 0013).

use std::future::Future;
use std::time::Duration;

use quick_cache::sync::{Cache, EntryAction, EntryResult};
use quick_cache::{OptionsBuilder, Weighter};
use tokio::time::Instant;

use kurz_core::error::StoreError;
use kurz_core::link::RedirectRecord;

use super::codec::{self, Cached};

/// The sizes and lifetimes of the in-process cache.
#[derive(Debug, Clone, Copy)]
pub struct L1Config {
    /// Most entries; 0 turns the cache off.
    pub max_entries: u64,
    /// Most bytes of entries.
    pub max_bytes: u64,
    /// Lifetime of a link's entry, before jitter.
    pub ttl: Duration,
    /// Lifetime of a "no such link" entry, before jitter.
    pub negative_ttl: Duration,
    /// Most "no such link" entries, in a table apart from the links'; 0
    /// keeps them in the links' table, under its bounds.
    pub negative_max_entries: u64,
}

/// Every entry weighs its bytes and the table's share of it, but at least
/// `floor` = bytes / entries, so one weight capacity bounds both.
#[derive(Debug, Clone, Copy)]
struct Weigh {
    floor: u64,
}

impl Weighter<Key, Box<[u8]>> for Weigh {
    fn weight(&self, _key: &Key, entry: &Box<[u8]>) -> u64 {
        (entry.len() as u64 + SLOT_OVERHEAD).max(self.floor)
    }
}

/// What an entry costs beyond its bytes: quick_cache's slot (key, pointer,
/// eviction state, list links and its share of the index; about 42 bytes
/// measured) and the allocator's rounding of the box.
const SLOT_OVERHEAD: u64 = 48;

/// The table's key: a 32-bit hash of the slug. quick_cache's slot holds
/// the key beside a 16-byte boxed slice and two bytes of state; with a
/// 64-bit key that rounds up to 32 bytes, with 32 bits to 24, which is
/// 8 MB a million entries. Among a million slugs about a hundred pairs share
/// a hash (the hasher is keyed at random, so nobody can aim for one); a
/// pair's entries then take turns, each a miss that asks the store.
type Key = u32;

/// Bytes before the slug: the expiry.
const EXPIRY_LEN: usize = 4;

/// What a negative entry weighs at least: one with a slug of up to 40
/// characters. The table holds `negative_max_entries` of those, fewer of
/// longer slugs, so its bytes are bounded too (about 100 bytes an entry
/// with the allocator's share).
const NEGATIVE_FLOOR: u64 = 96;

type Table = Cache<Key, Box<[u8]>, Weigh>;

#[derive(Debug)]
pub(crate) struct L1 {
    entries: Table,
    /// "No such link" entries; `None` when none are kept.
    absent: Option<Table>,
    /// aHash, keyed at random for each cache: cheaper than std's SipHash
    /// on every lookup, and as unpredictable to a client.
    hasher: quick_cache::DefaultHashBuilder,
    /// Entry expiries count seconds from here; `tokio`'s clock, so tests
    /// can move it.
    started: Instant,
    ttl: Duration,
    negative_ttl: Duration,
}

impl L1 {
    /// `None` when the configuration turns L1 off.
    pub(crate) fn new(config: &L1Config) -> Option<Self> {
        if config.max_entries == 0 || config.max_bytes == 0 {
            return None;
        }
        let floor = (config.max_bytes / config.max_entries).max(1);
        let absent = match config.negative_max_entries {
            0 => None,
            n => Some(table(n, n.saturating_mul(NEGATIVE_FLOOR), NEGATIVE_FLOOR)?),
        };
        Some(Self {
            entries: table(config.max_entries, config.max_bytes, floor)?,
            absent,
            hasher: quick_cache::DefaultHashBuilder::new(),
            started: Instant::now(),
            ttl: config.ttl,
            negative_ttl: config.negative_ttl,
        })
    }

    fn key(&self, slug: &str) -> Key {
        // The low half of a keyed 64-bit hash is as good a hash.
        self.hasher.hash_one(slug) as Key
    }

    /// Seconds since the cache started.
    fn now(&self) -> u32 {
        u32::try_from(self.started.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// The cached answer for `slug`, if there is a fresh one.
    ///
    /// Through `Cache::get`, which clones the entry (an allocation and a
    /// copy): reading in place through `entry` would take the shard's
    /// exclusive lock on every hit, and a miss there turns an S3-FIFO
    /// ghost into a placeholder and deletes it, so an evicted link asked
    /// for again would never be promoted (BENCHMARKS.md, "late night").
    pub(crate) fn get(&self, slug: &str) -> Option<Cached> {
        let key = self.key(slug);
        if let Some(found) = self
            .entries
            .get(&key)
            .and_then(|entry| self.read(&entry, slug))
        {
            return Some(found);
        }
        self.get_absent(key, slug)
    }

    /// The fresh negative entry of `slug`, if there is one.
    fn get_absent(&self, key: Key, slug: &str) -> Option<Cached> {
        let entry = self.absent.as_ref()?.get(&key)?;
        self.read(&entry, slug)
    }

    /// The fresh answer in `entry`, if it is `slug`'s.
    fn read(&self, entry: &[u8], slug: &str) -> Option<Cached> {
        let (expiry, rest) = entry.split_first_chunk::<EXPIRY_LEN>()?;
        if u32::from_le_bytes(*expiry) <= self.now() {
            return None;
        }
        let (&len, rest) = rest.split_first()?;
        let (stored, record) = rest.split_at_checked(usize::from(len))?;
        if stored != slug.as_bytes() {
            return None;
        }
        codec::decode(record)
    }

    fn entry(&self, slug: &str, record: Option<&RedirectRecord>) -> Option<Box<[u8]>> {
        let len = u8::try_from(slug.len()).ok()?;
        let ttl = if record.is_some() {
            self.ttl
        } else {
            self.negative_ttl
        };
        let expiry = self.now().saturating_add(jittered_secs(ttl));
        let mut out = Vec::with_capacity(EXPIRY_LEN + 1 + slug.len() + 48);
        out.extend_from_slice(&expiry.to_le_bytes());
        out.push(len);
        out.extend_from_slice(slug.as_bytes());
        codec::encode(record, &mut out);
        // A copy of exactly its length, not `into_boxed_slice`: mimalloc
        // shrinks a block in place when at least half of it stays used, so
        // a 48-byte entry would keep the 64-byte block it was built in, a
        // quarter more memory for every entry of the cache.
        Some(Box::from(out.as_slice()))
    }

    /// Caches `record` (or "no such link") for `slug`, in place of what
    /// either table held for it.
    pub(crate) fn put(&self, slug: &str, record: Option<&RedirectRecord>) {
        let key = self.key(slug);
        let entry = self.entry(slug, record);
        match (record, entry) {
            (Some(_), Some(entry)) => {
                self.remove_absent(key);
                self.entries.insert(key, entry);
            }
            (None, Some(entry)) => match &self.absent {
                Some(absent) => {
                    self.entries.remove(&key);
                    absent.insert(key, entry);
                }
                None => self.entries.insert(key, entry),
            },
            (_, None) => self.remove_key(key),
        }
    }

    pub(crate) fn remove(&self, slug: &str) {
        self.remove_key(self.key(slug));
    }

    fn remove_key(&self, key: Key) {
        self.entries.remove(&key);
        self.remove_absent(key);
    }

    fn remove_absent(&self, key: Key) {
        if let Some(absent) = &self.absent {
            absent.remove(&key);
        }
    }

    pub(crate) fn clear(&self) {
        self.entries.clear();
        if let Some(absent) = &self.absent {
            absent.clear();
        }
    }

    /// Entries of both tables.
    pub(crate) fn len(&self) -> usize {
        self.entries.len() + self.absent.as_ref().map_or(0, Table::len)
    }

    /// Bytes of the links' table (slots and index, as allocated) and the
    /// weight it holds (what `l1_max_bytes` bounds: entry bytes plus the
    /// slot overhead, at least the floor each).
    pub(crate) fn memory(&self) -> (usize, u64) {
        (self.entries.memory_used().total(), self.entries.weight())
    }

    /// The cached answer, or `load`'s, cached on the way if the slug's
    /// `generation` did not move while `load` ran (`load` gets the
    /// generation it started from, for the levels below). Concurrent
    /// calls for one slug that all miss run `load` once; the others wait
    /// for its answer (or, if it fails or is not cached, the next one
    /// loads).
    pub(crate) async fn get_or_load<F>(
        &self,
        slug: &str,
        load: impl FnOnce(u64) -> F,
        generation: impl Fn() -> u64,
    ) -> Result<Option<RedirectRecord>, StoreError>
    where
        F: Future<Output = Result<Option<RedirectRecord>, StoreError>>,
    {
        let key = self.key(slug);
        if let Some(Cached::Absent) = self.get_absent(key, slug) {
            return Ok(None);
        }
        let mut waited = None;
        let guard = match self
            .entries
            .entry_async(&key, |_, entry| match self.read(entry, slug) {
                Some(cached) => {
                    waited = Some(cached);
                    EntryAction::Retain(())
                }
                None => EntryAction::ReplaceWithGuard,
            })
            .await
        {
            // Found, or loaded by another task while this one waited.
            EntryResult::Retained(()) => {
                return Ok(waited.and_then(Cached::into_option));
            }
            EntryResult::Vacant(guard) | EntryResult::Replaced(guard, _) => guard,
            EntryResult::Removed(..) | EntryResult::Timeout => return load(generation()).await,
        };
        // The loader this task waited for found no such link: its answer
        // went to the other table before it let the waiters go.
        if let Some(Cached::Absent) = self.get_absent(key, slug) {
            return Ok(None);
        }
        // Read once this task is the loader: a waiter that takes over from
        // a loader whose answer an invalidation overtook reads the store
        // after that invalidation, and its answer is cached.
        let since = generation();
        let found = load(since).await?;
        let still_fresh = || generation() == since;
        if still_fresh() {
            match (&found, self.entry(slug, found.as_ref())) {
                (Some(_), Some(entry)) => {
                    self.remove_absent(key);
                    // An invalidation removes the placeholder too; a loader
                    // that took over after it holds a guard of the removed
                    // one, yet read after the change: its answer goes in
                    // all the same.
                    if let Err(entry) = guard.insert(entry) {
                        self.entries.insert(key, entry);
                    }
                }
                (None, Some(entry)) => match &self.absent {
                    Some(absent) => {
                        absent.insert(key, entry);
                        // Only now: the waiters it wakes find the entry.
                        drop(guard);
                    }
                    // No table of their own: in the links' table, through
                    // the guard, which answers every waiter at once.
                    None => {
                        if let Err(entry) = guard.insert(entry) {
                            self.entries.insert(key, entry);
                        }
                    }
                },
                (_, None) => {}
            }
            // An invalidation between the check and the insert found
            // nothing to remove: take the entry out here instead.
            if !still_fresh() {
                self.remove_key(key);
            }
        }
        Ok(found)
    }
}

/// A table of at most about `entries` entries and `bytes` of weight, each
/// weighing at least `floor`. The hash index grows as entries come, so an
/// empty table costs next to nothing.
fn table(entries: u64, bytes: u64, floor: u64) -> Option<Table> {
    let options = OptionsBuilder::new()
        .estimated_items_capacity(usize::try_from(entries).unwrap_or(usize::MAX))
        .weight_capacity(bytes)
        .build()
        .ok()?;
    Some(Cache::with_options(
        options,
        Weigh { floor },
        quick_cache::DefaultHashBuilder::default(),
        Default::default(),
    ))
}

/// `ttl` give or take 10 %, in whole seconds (at least 1): entries filled
/// together do not all expire together.
pub(crate) fn jittered_secs(ttl: Duration) -> u32 {
    let secs = ttl.as_secs_f64();
    let factor = 0.9 + rand::random::<f64>() * 0.2;
    let out = (secs * factor).round().max(1.0);
    if out >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        out as u32
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::codec::plain_record as record;
    use super::*;

    fn config() -> L1Config {
        L1Config {
            max_entries: 1000,
            max_bytes: 1_000_000,
            ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(10),
            negative_max_entries: 1000,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn entries_live_for_their_ttl_give_or_take_ten_percent() {
        let l1 = L1::new(&config()).expect("on");
        l1.put("a", Some(&record(1)));
        l1.put("gone", None);
        assert_eq!(l1.get("a"), Some(Cached::Present(record(1))));
        assert_eq!(l1.get("gone"), Some(Cached::Absent));
        tokio::time::advance(Duration::from_secs(8)).await;
        assert_eq!(l1.get("gone"), Some(Cached::Absent), "within 10 s - 10 %");
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(l1.get("gone"), None, "past 10 s + 10 %");
        assert!(l1.get("a").is_some());
        // 262 s in: below the earliest expiry of 270 s.
        tokio::time::advance(Duration::from_secs(250)).await;
        assert!(l1.get("a").is_some(), "within 300 s - 10 %");
        tokio::time::advance(Duration::from_secs(70)).await;
        assert_eq!(l1.get("a"), None, "past 300 s + 10 %");
    }

    #[test]
    fn jitter_spreads_expiries_within_ten_percent() {
        let ttl = Duration::from_secs(3600);
        let samples: Vec<u32> = (0..2000).map(|_| jittered_secs(ttl)).collect();
        assert!(samples.iter().all(|s| (3240..=3960).contains(s)));
        let distinct: std::collections::HashSet<_> = samples.iter().collect();
        assert!(distinct.len() > 300, "{} distinct expiries", distinct.len());
        assert_eq!(jittered_secs(Duration::from_millis(10)), 1);
    }

    /// Loads of `slug` made by `n` lookups that all miss at once, each
    /// load answering `answer` after 50 ms; every lookup must get it.
    async fn loads_of_concurrent_misses(
        l1: &Arc<L1>,
        slug: &'static str,
        answer: Option<RedirectRecord>,
        n: usize,
    ) -> usize {
        let loads = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (l1, loads, answer) = (l1.clone(), loads.clone(), answer.clone());
                tokio::spawn(async move {
                    l1.get_or_load(
                        slug,
                        |_| async move {
                            loads.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Ok(answer)
                        },
                        || 0,
                    )
                    .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.expect("join").expect("load"), answer);
        }
        loads.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn concurrent_misses_on_one_slug_make_one_load() {
        let l1 = Arc::new(L1::new(&config()).expect("on"));
        assert_eq!(
            loads_of_concurrent_misses(&l1, "hot", Some(record(7)), 32).await,
            1
        );
    }

    /// `get` runs on the request threads: a slug being loaded must not
    /// make it wait, nor take the load from the loader or its waiters.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_get_during_a_load_neither_waits_nor_disturbs_it() {
        let l1 = Arc::new(L1::new(&config()).expect("on"));
        let loads = Arc::new(AtomicUsize::new(0));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let released = Arc::new(tokio::sync::Mutex::new(Some(released)));
        let load = |l1: Arc<L1>| {
            let (loads, released) = (loads.clone(), released.clone());
            tokio::spawn(async move {
                l1.get_or_load(
                    "slow",
                    |_| async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        if let Some(rx) = released.lock().await.take() {
                            let _ = rx.await;
                        }
                        Ok(Some(record(3)))
                    },
                    || 0,
                )
                .await
            })
        };
        let loader = load(l1.clone());
        while loads.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let waiter = load(l1.clone());
        for _ in 0..100 {
            assert_eq!(l1.get("slow"), None, "being loaded: a miss, at once");
            assert_eq!(l1.get("other"), None);
        }
        release.send(()).expect("the loader waits");
        assert_eq!(loader.await.expect("join").expect("load"), Some(record(3)));
        assert_eq!(waiter.await.expect("join").expect("load"), Some(record(3)));
        assert_eq!(loads.load(Ordering::SeqCst), 1, "one load for both");
        assert_eq!(l1.get("slow"), Some(Cached::Present(record(3))));
        assert_eq!(l1.get("other"), None, "a miss leaves nothing behind");
    }

    #[tokio::test]
    async fn a_failed_load_is_not_cached_and_the_next_caller_tries_again() {
        let l1 = L1::new(&config()).expect("on");
        let failed = l1
            .get_or_load(
                "x",
                |_| async { Err(StoreError::Unavailable("down".into())) },
                || 0,
            )
            .await;
        assert!(failed.is_err());
        assert_eq!(l1.get("x"), None);
        let found = l1
            .get_or_load("x", |_| async { Ok(None) }, || 0)
            .await
            .expect("load");
        assert_eq!(found, None);
        assert_eq!(l1.get("x"), Some(Cached::Absent));
    }

    #[tokio::test]
    async fn a_load_overtaken_by_an_invalidation_is_answered_but_not_cached() {
        let l1 = L1::new(&config()).expect("on");
        // Every read of the generation finds it moved on.
        let generation = AtomicUsize::new(0);
        let found = l1
            .get_or_load(
                "x",
                |_| async { Ok(Some(record(1))) },
                || generation.fetch_add(1, Ordering::SeqCst) as u64,
            )
            .await
            .expect("load");
        assert_eq!(found, Some(record(1)), "the caller still gets its answer");
        assert_eq!(l1.get("x"), None, "but the next one asks again");
    }

    #[test]
    fn entries_are_bounded_by_count_and_by_bytes() {
        let by_count = L1::new(&L1Config {
            max_entries: 100,
            max_bytes: 1_000_000,
            ..config()
        })
        .expect("on");
        let by_bytes = L1::new(&L1Config {
            max_entries: 1_000_000,
            max_bytes: 10_000,
            ..config()
        })
        .expect("on");
        for i in 0..5_000 {
            by_count.put(&format!("s{i}"), Some(&record(i)));
            by_bytes.put(&format!("s{i}"), Some(&record(i)));
        }
        assert!(by_count.len() <= 100, "{}", by_count.len());
        assert!(
            by_bytes.entries.weight() <= 10_000,
            "{}",
            by_bytes.entries.weight()
        );
        assert!(by_bytes.len() > 50, "{}", by_bytes.len());
        assert!(L1::new(&L1Config {
            max_entries: 0,
            ..config()
        })
        .is_none());
    }

    /// Links and negative entries have a table and a bound each: a flood
    /// of unknown slugs evicts no link, a flood of links no negative entry.
    /// Unknown slugs go in as lookups put them: through `get_or_load`.
    #[tokio::test]
    async fn links_and_negative_entries_do_not_evict_each_other() {
        let l1 = L1::new(&L1Config {
            max_entries: 200,
            negative_max_entries: 300,
            ..config()
        })
        .expect("on");
        let unknown = |i: usize| {
            let l1 = &l1;
            async move {
                let slug = format!("nope{i}");
                let found = l1.get_or_load(&slug, |_| async { Ok(None) }, || 0).await;
                assert_eq!(found.expect("load"), None);
            }
        };
        for i in 0..150 {
            unknown(i).await;
        }
        for i in 0..5_000 {
            l1.put(&format!("link{i}"), Some(&record(i)));
        }
        let absent = |from: usize, to: usize| {
            (from..to)
                .filter(|i| l1.get(&format!("nope{i}")) == Some(Cached::Absent))
                .count()
        };
        assert_eq!(absent(0, 150), 150, "links pushed out no negative entry");
        let cached: Vec<String> = (0..5_000)
            .map(|i| format!("link{i}"))
            .filter(|s| l1.get(s).is_some())
            .collect();
        assert!((150..=200).contains(&cached.len()), "{}", cached.len());
        for i in 150..5_000 {
            unknown(i).await;
        }
        assert!(
            cached.iter().all(|s| l1.get(s).is_some()),
            "nor the other way"
        );
        let kept = l1.absent.as_ref().expect("kept").len();
        assert!((250..=300).contains(&kept), "{kept}");
        assert_eq!(l1.entries.len(), cached.len(), "none in the links' table");
    }

    /// A slug cached as absent, then created: once its link leaves the
    /// cache, the old negative entry must not answer again.
    #[test]
    fn an_answer_replaces_the_other_kind_for_its_slug() {
        let l1 = L1::new(&config()).expect("on");
        l1.put("new", None);
        l1.put("new", Some(&record(1)));
        assert_eq!(l1.get("new"), Some(Cached::Present(record(1))));
        // As an eviction would.
        l1.entries.remove(&l1.key("new"));
        assert_eq!(l1.get("new"), None, "evicted, and no longer absent");
        l1.put("gone", Some(&record(2)));
        l1.put("gone", None);
        assert_eq!(l1.get("gone"), Some(Cached::Absent));
        l1.remove("gone");
        assert_eq!(l1.get("gone"), None);
    }

    #[tokio::test]
    async fn concurrent_misses_on_an_unknown_slug_make_one_load() {
        let l1 = Arc::new(L1::new(&config()).expect("on"));
        assert_eq!(loads_of_concurrent_misses(&l1, "nobody", None, 32).await, 1);
        assert_eq!(l1.get("nobody"), Some(Cached::Absent));
        let absent = l1.absent.as_ref().expect("kept").len();
        assert_eq!((l1.entries.len(), absent), (0, 1), "in its own table");
    }

    /// `negative_max_entries = 0`: negative entries share the links'
    /// table, and concurrent misses still make one load.
    #[tokio::test]
    async fn with_no_table_of_their_own_negative_entries_share_the_links() {
        let l1 = Arc::new(
            L1::new(&L1Config {
                negative_max_entries: 0,
                ..config()
            })
            .expect("on"),
        );
        assert_eq!(loads_of_concurrent_misses(&l1, "nobody", None, 8).await, 1);
        assert_eq!(l1.get("nobody"), Some(Cached::Absent));
        l1.put("a", None);
        l1.put("b", Some(&record(2)));
        assert_eq!(l1.get("a"), Some(Cached::Absent));
        l1.put("a", Some(&record(1)));
        assert_eq!(l1.get("a"), Some(Cached::Present(record(1))));
        assert_eq!(l1.entries.len(), 3);
    }

    #[test]
    fn a_removed_or_cleared_slug_is_a_miss() {
        let l1 = L1::new(&config()).expect("on");
        l1.put("a", Some(&record(1)));
        l1.put("b", Some(&record(2)));
        l1.put("c", None);
        l1.remove("a");
        assert_eq!(l1.get("a"), None);
        assert!(l1.get("b").is_some());
        l1.clear();
        assert_eq!((l1.get("b"), l1.get("c")), (None, None));
    }
}
