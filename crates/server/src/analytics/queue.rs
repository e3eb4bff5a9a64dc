//! The bounded queue between the redirect path and the click worker.
//!
//! A redirect pushes its click under a short, uncontended lock and returns;
//! it never waits. When the queue is full the click's detail is dropped but
//! its count is kept, as its link and hour, for the next flush: a count is
//! never lost, only what was known about one click. Both happen under the
//! one lock, and what is counted is counted there, not in atomics every
//! core writes: under overload most clicks take the second way.
//!
//! Those counts are first appended to a list (16 bytes a click, in order,
//! so a redirect touches memory it touched a moment ago), which the worker
//! folds into its rollups; only past the list's bound are they added up
//! per link and hour in a table, on the redirect's thread. Adding up there
//! cost a redirect a random read and write over a table of up to a million
//! entries (2.8 % of an L1 hit's CPU under a uniform flood, in `perf`).
//! The list takes its whole bound at its first entry (address space; the
//! kernel gives it memory page by page as it fills), so it never grows by
//! copying what it holds under the lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge};
use tokio::sync::Notify;

use kurz_core::analytics::{hour_of, Click, ClickRef};
use kurz_core::ports::ClickSink;

/// Clicks of one link in one hour whose detail did not fit, past the
/// spill list's bound: under a long flood every redirect then inserts
/// here, under the queue's lock. foldhash (seeded at random for each
/// process) hashes the pair in a few nanoseconds where std's SipHash takes
/// tens.
pub type Overflow = HashMap<(i64, i64), u64, foldhash::fast::RandomState>;

/// Clicks whose detail did not fit, as `(link, hour)`, in the order they
/// came.
pub type Spill = Vec<(i64, i64)>;

/// The spill list's bound, per click the queue holds with its detail, and
/// in all: 64 × the default queue of 16,384 is 1,048,576 entries, 16 MiB.
/// Ten seconds of a flood at 100,000 redirects a second fit.
const SPILL_PER_QUEUED: usize = 64;
const MAX_SPILL: usize = 1 << 20;

#[derive(Debug)]
pub struct ClickQueue {
    events: Mutex<Waiting>,
    capacity: usize,
    spill_capacity: usize,
    /// The worker is woken when this many clicks wait, not by every click.
    batch_size: usize,
    dropped_rows: AtomicU64,
    /// The queue was full at the last look: a redirect then takes the
    /// lock with its click's headers still borrowed, since they will most
    /// likely not be kept. Otherwise it copies them before taking the
    /// lock, so the lock is held for a push. Only a hint: the lock decides.
    full: AtomicBool,
    wake: Notify,
    /// Clicks recorded, details dropped, flush times: `/metrics` reads them.
    pub(crate) metrics: ClickMetrics,
}

/// The clicks waiting with their detail, the counts of those without, and
/// how many were ever recorded and dropped.
#[derive(Debug, Default)]
struct Waiting {
    clicks: Vec<Click>,
    spill: Spill,
    overflow: Overflow,
    recorded: u64,
    dropped: u64,
}

/// The click pipeline's metrics: `kurz_clicks_total`,
/// `kurz_click_details_dropped_total`, `kurz_click_queue_depth` (read at
/// scrape time) and `kurz_click_flush_duration_seconds`.
#[derive(Debug, Clone)]
pub(crate) struct ClickMetrics {
    pub(crate) recorded: IntCounter,
    pub(crate) dropped: IntCounter,
    pub(crate) depth: IntGauge,
    pub(crate) flush_seconds: Histogram,
}

impl ClickMetrics {
    fn new() -> Self {
        // Constant names prometheus accepts: these cannot fail.
        Self {
            recorded: IntCounter::new("kurz_clicks_total", "Clicks recorded by redirects")
                .expect("valid counter"),
            dropped: IntCounter::new(
                "kurz_click_details_dropped_total",
                "Clicks counted without their detail because the click queue was full",
            )
            .expect("valid counter"),
            depth: IntGauge::new("kurz_click_queue_depth", "Clicks waiting in the queue")
                .expect("valid gauge"),
            flush_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "kurz_click_flush_duration_seconds",
                    "Time of one flush of the click worker (every batch it writes)",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0,
                ]),
            )
            .expect("valid histogram"),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ClickQueue {
    pub fn new(capacity: usize, batch_size: usize) -> Self {
        Self {
            events: Mutex::new(Waiting::default()),
            capacity,
            spill_capacity: capacity.saturating_mul(SPILL_PER_QUEUED).min(MAX_SPILL),
            batch_size: batch_size.clamp(1, capacity.max(1)),
            dropped_rows: AtomicU64::new(0),
            full: AtomicBool::new(false),
            wake: Notify::new(),
            metrics: ClickMetrics::new(),
        }
    }

    /// Moves the waiting clicks into `into` (empty), keeping its buffer as
    /// the queue's next one, so a steady stream allocates nothing.
    pub fn take(&self, into: &mut Vec<Click>) {
        std::mem::swap(&mut lock(&self.events).clicks, into);
        self.full.store(false, Ordering::Relaxed);
    }

    /// Moves the counts whose detail was dropped since the last call into
    /// `spill` and `overflow` (both empty), keeping the table's room as the
    /// queue's next one: under a flood the queue's table does not grow
    /// again from nothing (every growth a rehash on a request thread, under
    /// the lock) after each flush.
    pub fn take_counts(&self, spill: &mut Spill, overflow: &mut Overflow) {
        debug_assert!(spill.is_empty() && overflow.is_empty());
        let mut events = lock(&self.events);
        std::mem::swap(&mut events.spill, spill);
        std::mem::swap(&mut events.overflow, overflow);
    }

    /// Clicks waiting now.
    pub fn depth(&self) -> usize {
        lock(&self.events).clicks.len()
    }

    /// Brings the metrics up to date: the clicks recorded and dropped
    /// since the last call, and the depth. For the scrape.
    pub(crate) fn sync_metrics(&self) {
        let m = &self.metrics;
        // Under the lock, so two scrapes at once do not both add.
        let events = lock(&self.events);
        m.recorded
            .inc_by(events.recorded.saturating_sub(m.recorded.get()));
        m.dropped
            .inc_by(events.dropped.saturating_sub(m.dropped.get()));
        m.depth
            .set(i64::try_from(events.clicks.len()).unwrap_or(i64::MAX));
    }

    /// Details dropped since the start because the queue was full: those
    /// clicks are counted, but as neither people nor programs
    /// (`unclassified`).
    pub fn dropped_details(&self) -> u64 {
        lock(&self.events).dropped
    }

    /// Raw visit rows dropped since the start (their clicks classified and
    /// counted): too many waited for the store, or it refused them.
    pub fn dropped_visit_rows(&self) -> u64 {
        self.dropped_rows.load(Ordering::Relaxed)
    }

    pub(super) fn count_dropped_rows(&self, n: u64) {
        self.dropped_rows.fetch_add(n, Ordering::Relaxed);
    }

    /// Completes when a batch is waiting.
    pub async fn batch_ready(&self) {
        self.wake.notified().await;
    }
}

/// Where clicks go when `analytics.enabled` is off: nowhere.
#[derive(Debug)]
pub struct Untracked;

impl ClickSink for Untracked {
    fn record(&self, _: ClickRef<'_>) {}
}

impl ClickSink for ClickQueue {
    fn record(&self, click: ClickRef<'_>) {
        let full = self.full.load(Ordering::Relaxed);
        let owned = (!full).then(|| click.to_click());
        let mut events = lock(&self.events);
        events.recorded += 1;
        if events.clicks.len() < self.capacity {
            // Copied under the lock only when the hint was wrong (the
            // worker emptied the queue since), which also corrects it.
            events
                .clicks
                .push(owned.unwrap_or_else(|| click.to_click()));
            let len = events.clicks.len();
            drop(events);
            if len == self.capacity || full {
                self.full.store(len == self.capacity, Ordering::Relaxed);
            }
            if len == self.batch_size {
                self.wake.notify_one();
            }
            return;
        }
        events.dropped += 1;
        let key = (click.link_id, hour_of(click.at));
        if events.spill.len() < self.spill_capacity {
            if events.spill.capacity() == 0 {
                // Every list the queue holds is empty with no room, or
                // has room for exactly its bound (the worker keeps none
                // between floods), so this push never reallocates.
                events.spill.reserve_exact(self.spill_capacity);
            }
            events.spill.push(key);
        } else {
            *events.overflow.entry(key).or_insert(0) += 1;
        }
        drop(events);
        // Written only when it changes: under a flood every redirect
        // comes here, and a store each would bounce the line between
        // cores. A copy made for nothing is freed after the lock.
        if owned.is_some() {
            self.full.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    fn click(link_id: i64, at: i64) -> ClickRef<'static> {
        ClickRef {
            link_id,
            at: OffsetDateTime::from_unix_timestamp(at).expect("time"),
            referrer: None,
            user_agent: Some("ua"),
            ip: None,
        }
    }

    /// Takes the counts without detail, as the worker does.
    fn counts(q: &ClickQueue) -> (Spill, Overflow) {
        let (mut spill, mut overflow) = (Spill::new(), Overflow::default());
        q.take_counts(&mut spill, &mut overflow);
        (spill, overflow)
    }

    /// The "full" hint only decides where a click's headers are copied:
    /// right or stale, the lock decides what is kept.
    #[test]
    fn a_queue_taken_after_it_filled_keeps_details_again() {
        let q = ClickQueue::new(2, 2);
        let ua = String::from("Mozilla/5.0");
        let with_ua = |link_id| ClickRef {
            user_agent: Some(&ua),
            ..click(link_id, 0)
        };
        for link in 1..=3 {
            q.record(with_ua(link));
        }
        assert_eq!((q.depth(), q.dropped_details()), (2, 1));
        let mut taken = Vec::new();
        q.take(&mut taken);
        q.record(with_ua(4));
        let mut again = Vec::new();
        q.take(&mut again);
        assert_eq!(again.len(), 1, "kept with its detail");
        assert_eq!(again[0].link_id, 4);
        assert_eq!(again[0].user_agent.as_deref(), Some("Mozilla/5.0"));
        // A stale hint (set after the worker took the queue) is corrected
        // by the next click, which is kept too.
        q.full.store(true, Ordering::Relaxed);
        q.record(with_ua(5));
        q.record(with_ua(6));
        assert_eq!((q.depth(), q.dropped_details()), (2, 1));
        assert!(q.full.load(Ordering::Relaxed), "full again");
    }

    #[test]
    fn a_full_queue_keeps_the_count_per_link_and_hour() {
        // Room for one click with its detail, 64 in the spill list.
        let q = ClickQueue::new(1, 1);
        q.record(click(9, 0));
        for (link, at) in [(1, 0), (1, 10), (2, 3600), (1, 30)] {
            q.record(click(link, at));
        }
        assert_eq!(q.depth(), 1);
        assert_eq!(q.dropped_details(), 4);
        let (spill, overflow) = counts(&q);
        assert_eq!(spill, vec![(1, 0), (1, 0), (2, 1), (1, 0)], "in order");
        assert!(overflow.is_empty());
        // Past the list's bound, counts add up in the table.
        for _ in 0..SPILL_PER_QUEUED {
            q.record(click(5, 0));
        }
        for (link, at) in [(3, 0), (3, 7200), (3, 60)] {
            q.record(click(link, at));
        }
        let (spill, overflow) = counts(&q);
        assert_eq!(spill, vec![(5, 0); SPILL_PER_QUEUED]);
        assert_eq!(overflow.get(&(3, 0)), Some(&2));
        assert_eq!(overflow.get(&(3, 2)), Some(&1));
        assert_eq!(q.dropped_details(), 4 + SPILL_PER_QUEUED as u64 + 3);
        let mut taken = Vec::new();
        q.take(&mut taken);
        assert_eq!(taken.len(), 1);
        assert_eq!(q.depth(), 0);
    }

    #[test]
    fn the_counts_taken_hand_their_room_to_the_queue() {
        let q = ClickQueue::new(1, 1);
        let mut spill = Spill::with_capacity(64);
        let mut overflow = Overflow::with_capacity_and_hasher(1024, Default::default());
        q.take_counts(&mut spill, &mut overflow);
        assert!(spill.is_empty() && overflow.is_empty());
        // One queued with its detail, 64 spilled, two added up.
        for _ in 0..(1 + SPILL_PER_QUEUED + 2) {
            q.record(click(3, 0));
        }
        q.take_counts(&mut spill, &mut overflow);
        assert_eq!(spill.len(), SPILL_PER_QUEUED);
        assert_eq!(overflow.get(&(3, 0)), Some(&2));
        assert!(
            spill.capacity() == 64 && overflow.capacity() >= 1024,
            "what is handed back is what the queue was given"
        );
    }

    #[test]
    fn the_spill_list_is_bounded_in_all() {
        assert_eq!(ClickQueue::new(16_384, 1).spill_capacity, MAX_SPILL);
        assert_eq!(ClickQueue::new(10_000_000, 1).spill_capacity, MAX_SPILL);
        assert_eq!(ClickQueue::new(2, 1).spill_capacity, 128);
    }

    #[test]
    fn the_spill_list_takes_its_bound_at_once_and_never_more() {
        // 100 × 64 = 6,400 entries: not a power of two.
        let q = ClickQueue::new(100, 100);
        for link in 0..10_000 {
            q.record(click(link, 0));
        }
        let (spill, overflow) = counts(&q);
        assert_eq!(spill.len(), 6_400);
        assert_eq!(spill.capacity(), 6_400);
        let links: Vec<i64> = spill.iter().map(|&(link, _)| link).collect();
        assert_eq!(links, (100..6_500).collect::<Vec<_>>(), "in order");
        assert_eq!(overflow.len(), 10_000 - 100 - 6_400);
    }

    #[test]
    fn the_scrape_reads_what_the_queue_counted_under_its_lock() {
        let q = ClickQueue::new(2, 2);
        for at in 0..5 {
            q.record(click(1, at));
        }
        q.sync_metrics();
        // Twice: a second scrape adds nothing that was already counted.
        q.sync_metrics();
        assert_eq!(q.metrics.recorded.get(), 5);
        assert_eq!(q.metrics.dropped.get(), 3);
        assert_eq!(q.metrics.depth.get(), 2);
        let mut taken = Vec::new();
        q.take(&mut taken);
        q.record(click(1, 9));
        q.sync_metrics();
        assert_eq!(q.metrics.recorded.get(), 6);
        assert_eq!(q.metrics.dropped.get(), 3);
        assert_eq!(q.metrics.depth.get(), 1);
    }
}
