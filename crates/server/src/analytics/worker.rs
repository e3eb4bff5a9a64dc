//! The click worker: every flush interval (or as soon as a batch waits) it
//! takes the queue, enriches the clicks, adds them to hourly rollups and
//! writes them, in transactions of as many hourly rows as the store takes
//! ([`AnalyticsStore::hours_per_transaction`]). What a failed write held
//! stays pending for the next try; shutdown drains and flushes everything.
//! After a long flush (a flood) it rests three times as long first.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::Instrument;

use kurz_core::analytics::{hour_of, Click, ClickBatch, Facet, FacetCount, HourCount, StoredVisit};
use kurz_core::clock::Clock;
use kurz_core::error::StoreError;
use kurz_core::ports::AnalyticsStore;
use kurz_store::breath;

use super::enrich::Enricher;
use super::queue::{ClickQueue, Overflow, Spill};

/// Breakdown entries waiting for the store past which the queue is left to
/// fill (about 100 bytes each): [`WorkerSettings::max_pending_facets`].
pub const MAX_PENDING_FACETS: usize = 1_000_000;
/// Longest wait between tries while the store fails.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Spilled clicks added up between two looks at the clock (`breath`).
const BREATH_EVERY: usize = 4_096;
/// Entries the pending maps keep room for between flushes.
const KEEP_CAPACITY: usize = 65_536;
/// A flush that takes longer than this means clicks come faster than the
/// worker writes them (a flood): it then rests [`REST_PER_WORK`] times as
/// long before the next.
const LONG_FLUSH: Duration = Duration::from_secs(1);
/// Under a flood the worker works at most one part in `1 + REST_PER_WORK`
/// of the time. ADR 0029, third amendment.
const REST_PER_WORK: u32 = 3;
/// The longest rest: counts wait in memory for at most this long plus a
/// flush.
const MAX_REST: Duration = Duration::from_secs(30);

/// How long the worker waits after a flush that took `took`: the interval,
/// or after a long flush a rest of three times as long (at most
/// [`MAX_REST`]), during which a full queue does not wake it.
///
/// Under a flood over many links a flush writes one row per link and hour
/// however many clicks each got, and a row costs about as much as the page
/// it lands on: waiting longer gathers more clicks into the same rows and
/// pages, so each click costs less, and the CPU the worker leaves idle
/// goes to redirects without being taken back (its stretches of work are
/// what stretch their tail latency).
fn wait_after(took: Duration, interval: Duration) -> Duration {
    if took > LONG_FLUSH {
        (took * REST_PER_WORK).min(MAX_REST).max(interval)
    } else {
        interval
    }
}

/// What the worker tells the thread it runs on.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// A flush ended, after this long (wall time).
    Flushed(Duration),
    /// The last flushes are about to run: they must not wait for the CPU.
    Stopping,
}

/// How the worker runs.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    pub flush_interval: Duration,
    /// Keep raw visit rows (`analytics.raw_visits`).
    pub raw_visits: bool,
    /// Raw visits held while the store is away; past it their detail is
    /// dropped (and counted), never their count.
    pub max_pending_visits: usize,
    /// Breakdown entries held while the store is away; past it clicks stay
    /// in the queue, which fills, and further ones are only counted.
    pub max_pending_facets: usize,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    total: u64,
    humans: u64,
    bots: u64,
}

/// What is counted and not written yet.
#[derive(Debug, Default)]
struct Pending {
    /// foldhash: under a flood every click is added here (the spill list
    /// one by one), where std's SipHash took tens of nanoseconds each.
    hours: HashMap<(i64, i64), Counts, foldhash::fast::RandomState>,
    facets: HashMap<(i64, i64, Facet, Arc<str>), u64>,
    visits: Vec<StoredVisit>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.hours.is_empty() && self.visits.is_empty()
    }

    /// The pending counts as batches of at most `rows` hours each (with
    /// their facets and a share of the visits), every row in key order;
    /// `self` is left empty.
    fn drain(&mut self, rows: usize) -> Vec<ClickBatch> {
        let batches = self.batches(rows.max(1));
        // A burst over many links grows the maps to hundreds of thousands
        // of entries; keep that memory only while it is used.
        if self.hours.capacity() > KEEP_CAPACITY {
            self.hours = HashMap::default();
        }
        if self.facets.capacity() > KEEP_CAPACITY {
            self.facets = HashMap::new();
        }
        batches
    }

    fn batches(&mut self, rows: usize) -> Vec<ClickBatch> {
        let mut hours: Vec<HourCount> = self
            .hours
            .drain()
            .map(|((link_id, hour), c)| HourCount {
                link_id,
                hour,
                total: c.total,
                humans: c.humans,
                bots: c.bots,
            })
            .collect();
        hours.sort_unstable_by_key(|h| (h.link_id, h.hour));
        let mut facets: Vec<FacetCount> = self
            .facets
            .drain()
            .map(|((link_id, hour, facet, name), n)| FacetCount {
                link_id,
                hour,
                facet,
                name,
                n,
            })
            .collect();
        facets.sort_unstable_by(|a, b| {
            (a.link_id, a.hour, a.facet, &a.name).cmp(&(b.link_id, b.hour, b.facet, &b.name))
        });
        let mut facets = facets.into_iter().peekable();
        let mut out = Vec::new();
        for chunk in hours.chunks(rows) {
            let last = chunk.last().map(|h| (h.link_id, h.hour));
            let mut batch = ClickBatch {
                hours: chunk.to_vec(),
                ..ClickBatch::default()
            };
            while let Some(f) = facets.next_if(|f| Some((f.link_id, f.hour)) <= last) {
                batch.facets.push(f);
            }
            out.push(batch);
        }
        // Raw visits ride along, as many per transaction as hourly rows at
        // most; the rest in transactions of their own. In link order (each
        // link's in the order they came), so a transaction's entries in the
        // `(link_id, at)` index share pages instead of landing one a page.
        // The sort is a stretch without a pause point: about 4 ms for a
        // full queue (16,384), 33 ms for eight queues' worth after an
        // outage (measured apart; sorting keys and gathering was slower).
        let mut visits = std::mem::take(&mut self.visits);
        visits.sort_by_key(|v| v.link_id);
        let mut visits = visits.into_iter();
        for i in 0.. {
            let chunk: Vec<StoredVisit> = visits.by_ref().take(rows).collect();
            if chunk.is_empty() {
                break;
            }
            match out.get_mut(i) {
                Some(batch) => batch.visits = chunk,
                None => out.push(ClickBatch {
                    visits: chunk,
                    ..ClickBatch::default()
                }),
            }
        }
        out
    }

    /// Puts an unwritten batch back.
    fn restore(&mut self, batch: ClickBatch) {
        for h in batch.hours {
            let c = self.hours.entry((h.link_id, h.hour)).or_default();
            c.total += h.total;
            c.humans += h.humans;
            c.bots += h.bots;
        }
        for f in batch.facets {
            *self
                .facets
                .entry((f.link_id, f.hour, f.facet, f.name))
                .or_insert(0) += f.n;
        }
        self.visits.extend(batch.visits);
    }
}

/// Takes the queue, writes the rollups.
#[derive(Debug)]
pub struct ClickWorker {
    queue: Arc<ClickQueue>,
    store: Arc<dyn AnalyticsStore>,
    enricher: Enricher,
    settings: WorkerSettings,
    pending: Pending,
    /// The queue's spare buffer (see [`ClickQueue::take`]).
    buffer: Vec<Click>,
    /// The queue's spare list and table of counts without detail
    /// ([`ClickQueue::take_counts`]).
    spill: Spill,
    overflow: Overflow,
    dropped_seen: u64,
}

impl ClickWorker {
    pub fn new(
        queue: Arc<ClickQueue>,
        store: Arc<dyn AnalyticsStore>,
        enricher: Enricher,
        settings: WorkerSettings,
    ) -> Self {
        Self {
            queue,
            store,
            enricher,
            settings,
            pending: Pending::default(),
            buffer: Vec::new(),
            spill: Spill::new(),
            overflow: Overflow::default(),
            dropped_seen: 0,
        }
    }

    /// Moves what the queue holds into the pending rollups. While the store
    /// is away and too much waits for it, clicks are left in the queue: it
    /// fills, and further clicks are only counted (16 bytes each in the
    /// spill list, then a table entry per link and hour, instead of a
    /// breakdown each).
    fn absorb(&mut self) {
        self.queue.take_counts(&mut self.spill, &mut self.overflow);
        if self.pending.facets.len() < self.settings.max_pending_facets {
            self.queue.take(&mut self.buffer);
        }
        let mut clicks = std::mem::take(&mut self.buffer);
        let mut dropped = 0;
        // On its own thread (`thread`): a cold start parsing thousands of
        // user agents holds up no redirect.
        for click in clicks.drain(..) {
            breath::point();
            let (link_id, detail) = self.enricher.enrich(click);
            let hour = hour_of(detail.at);
            let c = self.pending.hours.entry((link_id, hour)).or_default();
            c.total += 1;
            if detail.bot {
                c.bots += 1;
            } else {
                c.humans += 1;
            }
            let device = self.enricher.name(detail.device.as_str());
            for (facet, name) in [
                (Facet::Referrer, &detail.referrer),
                (Facet::Country, &detail.country),
                (Facet::Browser, &detail.browser),
                (Facet::Os, &detail.os),
                (Facet::Device, &device),
            ] {
                let name = name.clone();
                *self
                    .pending
                    .facets
                    .entry((link_id, hour, facet, name))
                    .or_insert(0) += 1;
            }
            if self.settings.raw_visits {
                if self.pending.visits.len() < self.settings.max_pending_visits {
                    self.pending.visits.push(StoredVisit { link_id, detail });
                } else {
                    dropped += 1;
                }
            }
        }
        self.buffer = clicks;
        // Clicks counted while the queue was full: whether a person or a
        // program clicked is not known, so neither humans nor bots.
        // A look at the clock (`breath`) per chunk: each entry takes
        // nanoseconds, the look tens.
        for chunk in self.spill.chunks(BREATH_EVERY) {
            breath::point();
            for &key in chunk {
                self.pending.hours.entry(key).or_default().total += 1;
            }
        }
        // The queue fills this list next: kept whole while a flood lasts
        // (it filled more than a quarter), freed once it is over.
        if self.spill.len() < self.spill.capacity() / 4 {
            self.spill = Spill::new();
        }
        self.spill.clear();
        let counted = self.overflow.len();
        for ((link_id, hour), n) in self.overflow.drain() {
            breath::point();
            self.pending.hours.entry((link_id, hour)).or_default().total += n;
        }
        // The table goes back to the queue at the next take: kept at the
        // size a flood needs, given back once it is over.
        if self.overflow.capacity() > (counted * 4).max(KEEP_CAPACITY) {
            self.overflow.shrink_to(counted * 2);
        }
        if dropped > 0 {
            self.queue.count_dropped_rows(dropped);
        }
        let now_dropped = self.queue.dropped_details();
        if now_dropped > self.dropped_seen {
            tracing::warn!(
                dropped = now_dropped - self.dropped_seen,
                total = now_dropped,
                "click details dropped: the analytics queue was full (their counts are kept)"
            );
            self.dropped_seen = now_dropped;
        }
    }

    /// Writes everything pending; on failure what was not written stays
    /// pending.
    pub async fn flush(&mut self) -> Result<(), StoreError> {
        self.absorb();
        if self.pending.is_empty() {
            return Ok(());
        }
        // Timed (and traced) only when there is something to write: idle
        // ticks would drown the histogram in zeros.
        let timer = self.queue.metrics.flush_seconds.start_timer();
        let span = tracing::info_span!("clicks.flush");
        let result = self.write_pending().instrument(span).await;
        timer.observe_duration();
        result
    }

    async fn write_pending(&mut self) -> Result<(), StoreError> {
        let rows = self.store.hours_per_transaction();
        let mut batches = self.pending.drain(rows).into_iter();
        while let Some(mut batch) = batches.next() {
            if let Err(e) = self.store.write_clicks(&batch).await {
                // The store refused rows rather than being away: the raw
                // visits are the likely culprit, and must not hold every
                // count back behind them for ever.
                if matches!(e, StoreError::Other(_)) && !batch.visits.is_empty() {
                    tracing::error!(error = %e, rows = batch.visits.len(),
                        "the store refused a batch; its raw visits are dropped, its counts kept");
                    self.queue.count_dropped_rows(batch.visits.len() as u64);
                    batch.visits.clear();
                }
                self.pending.restore(batch);
                for rest in batches {
                    self.pending.restore(rest);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Flushes every interval, or as soon as a batch waits, until `stop`;
    /// then drains the queue and flushes what is left, retrying a few
    /// times if the store is briefly away. `pace` hears how long each
    /// flush took, and when the worker stops (the thread's priority
    /// follows them, ADR 0029).
    pub async fn run(mut self, mut stop: watch::Receiver<bool>, mut pace: impl FnMut(Pace)) {
        let interval = self.settings.flush_interval;
        let queue = self.queue.clone();
        let mut wait = interval;
        // The wait after a failure, doubled by each one after it.
        let mut backoff = interval;
        loop {
            // After a failure or a long flush, wait it out whatever piles up.
            let healthy = wait == interval;
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = queue.batch_ready(), if healthy => {}
                _ = stop.changed() => break,
            }
            let started = tokio::time::Instant::now();
            let outcome = self.flush().await;
            let took = started.elapsed();
            pace(Pace::Flushed(took));
            match outcome {
                Ok(()) => {
                    wait = wait_after(took, interval);
                    backoff = interval;
                }
                Err(e) => {
                    backoff = (backoff * 2).min(MAX_BACKOFF).max(interval);
                    wait = backoff;
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64,
                        "click flush failed; will retry");
                }
            }
        }
        pace(Pace::Stopping);
        for attempt in 1..=5 {
            match self.flush().await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "final click flush failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        let lost: u64 = self.pending.hours.values().map(|c| c.total).sum();
        tracing::error!(
            clicks = lost,
            "clicks could not be written at shutdown and are lost"
        );
    }
}

/// Deletes raw visits older than `days`, in bounded batches, every hour.
pub async fn run_retention(
    store: Arc<dyn AnalyticsStore>,
    clock: Arc<dyn Clock>,
    days: u32,
    mut stop: watch::Receiver<bool>,
) {
    const BATCH: u32 = 5000;
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let before = clock.now() - time::Duration::days(i64::from(days));
        let mut deleted = 0;
        loop {
            match store.purge_visits(before, BATCH).await {
                Ok(n) => {
                    deleted += n;
                    if n < u64::from(BATCH) || *stop.borrow() {
                        break;
                    }
                    // Room for the click worker and the API between batches.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "deleting old visits failed; will retry");
                    break;
                }
            }
        }
        if deleted > 0 {
            tracing::info!(deleted, days, "old raw visits deleted");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use kurz_core::analytics::{ClickRef, StatsRows, StatsScope, VisitCursor, VisitRecord};
    use kurz_core::ports::ClickSink;
    use time::OffsetDateTime;

    use super::*;

    /// Remembers batches; fails while `down`; each write takes `write_time`
    /// (on tokio's clock) and its start is kept.
    #[derive(Debug, Default)]
    struct Recorder {
        batches: Mutex<Vec<ClickBatch>>,
        down: std::sync::atomic::AtomicBool,
        write_time: Duration,
        writes_started: Mutex<Vec<tokio::time::Instant>>,
    }

    impl Recorder {
        /// Clicks written, over every hourly row.
        fn total(&self) -> u64 {
            self.batches
                .lock()
                .expect("lock")
                .iter()
                .flat_map(|b| &b.hours)
                .map(|h| h.total)
                .sum()
        }
    }

    #[async_trait]
    impl AnalyticsStore for Recorder {
        fn hours_per_transaction(&self) -> usize {
            500
        }
        async fn write_clicks(&self, batch: &ClickBatch) -> Result<(), StoreError> {
            if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(StoreError::Unavailable("down".into()));
            }
            self.writes_started
                .lock()
                .expect("lock")
                .push(tokio::time::Instant::now());
            tokio::time::sleep(self.write_time).await;
            self.batches.lock().expect("lock").push(batch.clone());
            Ok(())
        }
        async fn stats(
            &self,
            _: StatsScope,
            _: std::ops::Range<i64>,
            _: u32,
        ) -> Result<StatsRows, StoreError> {
            Ok(StatsRows::default())
        }
        async fn visits(
            &self,
            _: i64,
            _: Option<VisitCursor>,
            _: u32,
        ) -> Result<Vec<VisitRecord>, StoreError> {
            Ok(Vec::new())
        }
        async fn purge_visits(&self, _: OffsetDateTime, _: u32) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    fn worker(capacity: usize, store: Arc<Recorder>) -> (Arc<ClickQueue>, ClickWorker) {
        let queue = Arc::new(ClickQueue::new(capacity, capacity));
        let w = ClickWorker::new(
            queue.clone(),
            store,
            Enricher::new(None),
            WorkerSettings {
                flush_interval: Duration::from_millis(10),
                raw_visits: true,
                max_pending_visits: 100,
                max_pending_facets: 50,
            },
        );
        (queue, w)
    }

    fn click(link: i64, ua: Option<&str>) -> ClickRef<'_> {
        ClickRef {
            link_id: link,
            at: OffsetDateTime::from_unix_timestamp(7200 + link).expect("time"),
            referrer: Some("https://a.example/x"),
            user_agent: ua,
            ip: None,
        }
    }

    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";

    /// The list and the table of counts without detail keep the room a
    /// flood needed while the flood lasts, and give it back once it is
    /// over.
    #[tokio::test]
    async fn the_counts_without_detail_keep_their_room_for_a_flood_and_give_it_back() {
        const FLOOD: i64 = 200_000;
        let store = Arc::new(Recorder::default());
        // 2,048 queued with their detail, 131,072 spilled, 66,881 added up.
        let (queue, mut w) = worker(2_048, store.clone());
        for link in 0..=FLOOD {
            queue.record(click(link, None));
        }
        w.flush().await.expect("flush");
        assert_eq!(
            w.spill.capacity(),
            64 * 2_048,
            "kept for the queue's next take"
        );
        assert!(w.overflow.capacity() >= 66_881);
        // Over: the big ones go to the queue and back, empty.
        w.flush().await.expect("flush");
        w.flush().await.expect("flush");
        assert_eq!(w.spill.capacity(), 0);
        assert!(w.overflow.capacity() < KEEP_CAPACITY);
        assert_eq!(store.total(), FLOOD as u64 + 1, "every click counted once");
    }

    /// What a stop finds listed in the spill and added up in the table is
    /// written, each count once.
    #[tokio::test]
    async fn a_stop_writes_the_counts_listed_and_added_up() {
        let store = Arc::new(Recorder::default());
        // One click with its detail, 64 listed, 35 added up.
        let (queue, w) = worker(1, store.clone());
        for n in 0..100 {
            queue.record(click(n % 3, None));
        }
        assert_eq!(queue.dropped_details(), 99);
        let (stop, stopped) = watch::channel(false);
        stop.send(true).expect("receiver alive");
        w.run(stopped, |_| {}).await;
        assert_eq!(store.total(), 100);
        let mut per_link = std::collections::BTreeMap::new();
        for b in store.batches.lock().expect("lock").iter() {
            for h in &b.hours {
                *per_link.entry(h.link_id).or_insert(0) += h.total;
            }
        }
        assert_eq!(
            per_link.into_iter().collect::<Vec<_>>(),
            [(0, 34), (1, 33), (2, 33)]
        );
    }

    #[tokio::test]
    async fn clicks_become_hourly_rollups_with_bots_and_overflow_apart() {
        let store = Arc::new(Recorder::default());
        let (queue, mut w) = worker(3, store.clone());
        queue.record(click(1, Some(FIREFOX)));
        queue.record(click(1, Some("curl/8.0")));
        queue.record(click(2, Some(FIREFOX)));
        queue.record(click(1, Some(FIREFOX))); // over capacity: count only
        w.flush().await.expect("flush");
        let batches = store.batches.lock().expect("lock").clone();
        assert_eq!(batches.len(), 1);
        let b = &batches[0];
        assert_eq!(
            b.hours,
            vec![
                HourCount {
                    link_id: 1,
                    hour: 2,
                    total: 3,
                    humans: 1,
                    bots: 1
                },
                HourCount {
                    link_id: 2,
                    hour: 2,
                    total: 1,
                    humans: 1,
                    bots: 0
                },
            ]
        );
        assert_eq!(b.link_totals(), vec![(1, 3), (2, 1)]);
        assert_eq!(b.visits.len(), 3);
        let browsers: Vec<_> = b
            .facets
            .iter()
            .filter(|f| f.link_id == 1 && f.facet == Facet::Browser)
            .map(|f| (f.name.to_string(), f.n))
            .collect();
        assert_eq!(
            browsers,
            vec![("Firefox".into(), 1), ("HTTP Library".into(), 1)]
        );
        assert_eq!(queue.dropped_details(), 1);
    }

    #[tokio::test]
    async fn a_failed_write_keeps_every_count_for_the_next() {
        let store = Arc::new(Recorder::default());
        let (queue, mut w) = worker(10, store.clone());
        store.down.store(true, std::sync::atomic::Ordering::SeqCst);
        queue.record(click(1, Some(FIREFOX)));
        assert!(w.flush().await.is_err());
        queue.record(click(1, Some(FIREFOX)));
        assert!(w.flush().await.is_err());
        store.down.store(false, std::sync::atomic::Ordering::SeqCst);
        w.flush().await.expect("flush");
        let batches = store.batches.lock().expect("lock").clone();
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].hours[0].total, 2);
        assert_eq!(batches[0].visits.len(), 2);
    }

    #[tokio::test]
    async fn raw_visits_waiting_for_the_store_are_capped_but_their_counts_are_not() {
        let store = Arc::new(Recorder::default());
        let (queue, mut w) = worker(1000, store.clone());
        store.down.store(true, std::sync::atomic::Ordering::SeqCst);
        for _ in 0..150 {
            queue.record(click(1, Some(FIREFOX)));
        }
        assert!(w.flush().await.is_err());
        assert_eq!(w.pending.visits.len(), 100, "max_pending_visits");
        assert_eq!(queue.dropped_visit_rows(), 50);
        assert_eq!(queue.dropped_details(), 0, "every click kept its detail");
        store.down.store(false, std::sync::atomic::Ordering::SeqCst);
        w.flush().await.expect("flush");
        let batches = store.batches.lock().expect("lock").clone();
        assert_eq!(batches[0].hours[0].total, 150);
        assert_eq!(batches[0].hours[0].humans, 150);
        assert_eq!(batches[0].visits.len(), 100);
    }

    #[tokio::test]
    async fn past_the_breakdown_cap_clicks_wait_in_the_queue_and_overflow_as_counts() {
        let store = Arc::new(Recorder::default());
        let (queue, mut w) = worker(1000, store.clone());
        store.down.store(true, std::sync::atomic::Ordering::SeqCst);
        // Ten links, five breakdowns each: the cap of 50 is reached.
        for link in 0..10 {
            queue.record(click(link, Some(FIREFOX)));
        }
        assert!(w.flush().await.is_err());
        assert_eq!(w.pending.facets.len(), 50);
        for link in 10..20 {
            queue.record(click(link, Some(FIREFOX)));
        }
        assert!(w.flush().await.is_err());
        assert_eq!(w.pending.facets.len(), 50, "nothing more taken");
        assert_eq!(queue.depth(), 10, "left in the queue");
        store.down.store(false, std::sync::atomic::Ordering::SeqCst);
        w.flush().await.expect("flush");
        w.flush().await.expect("flush");
        let batches = store.batches.lock().expect("lock").clone();
        let total: u64 = batches.iter().flat_map(|b| &b.hours).map(|h| h.total).sum();
        assert_eq!(total, 20, "every click written once the store is back");
    }

    /// On the worker's own thread, classifying a backlog pauses in its
    /// stretches of work (`breath`), and nothing is lost by it.
    #[test]
    fn a_backlog_is_classified_with_pauses_on_the_worker_thread() {
        let store = Arc::new(Recorder::default());
        let (queue, mut w) = worker(1000, store.clone());
        for i in 0..1000 {
            queue.record(click(i % 10, Some(FIREFOX)));
        }
        let paused = std::thread::spawn(move || {
            breath::start(Duration::ZERO);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(w.flush()).expect("flush");
            breath::pauses()
        })
        .join()
        .expect("thread");
        assert!(paused >= 1000, "a pause point per click: {paused}");
        let batches = store.batches.lock().expect("lock").clone();
        let total: u64 = batches.iter().flat_map(|b| &b.hours).map(|h| h.total).sum();
        assert_eq!(total, 1000);
    }

    #[test]
    fn a_backlog_goes_out_in_bounded_transactions_with_its_facets() {
        const ROWS: usize = 50;
        let mut p = Pending::default();
        for link in 0..(ROWS as i64 + 10) {
            p.hours.insert(
                (link, 1),
                Counts {
                    total: 1,
                    humans: 1,
                    bots: 0,
                },
            );
            p.facets.insert((link, 1, Facet::Os, "x".into()), 1);
        }
        let visit = StoredVisit {
            link_id: 1,
            detail: Enricher::new(None).enrich(click(1, None).to_click()).1,
        };
        p.visits = vec![visit; 3 * ROWS + 1];
        let batches = p.drain(ROWS);
        assert_eq!(batches.len(), 4, "two of counts, two more of visits alone");
        assert_eq!(batches[0].hours.len(), ROWS);
        assert_eq!(batches[0].facets.len(), ROWS);
        assert_eq!(batches[1].facets.len(), 10);
        let visits: Vec<usize> = batches.iter().map(|b| b.visits.len()).collect();
        assert_eq!(visits, [ROWS, ROWS, ROWS, 1]);
        assert!(batches[3].hours.is_empty() && !batches[3].is_empty());
        assert!(batches[1].facets.iter().all(|f| f.link_id >= ROWS as i64));
        assert!(p.is_empty());
    }

    /// Across the whole flush, not per transaction: each transaction
    /// covers a range of links the next one starts after.
    #[test]
    fn raw_visits_go_out_in_link_order_each_links_in_the_order_they_came() {
        const ROWS: usize = 7;
        let mut p = Pending::default();
        let mut enricher = Enricher::new(None);
        // 40 visits over 9 links, arriving shuffled; `at` numbers them.
        for seq in 0..40i64 {
            let link = (seq * 5) % 9;
            let mut detail = enricher.enrich(click(link, None).to_click()).1;
            detail.at = OffsetDateTime::from_unix_timestamp(seq).expect("time");
            p.visits.push(StoredVisit {
                link_id: link,
                detail,
            });
        }
        let batches = p.drain(ROWS);
        assert_eq!(batches.len(), 6);
        assert!(batches.iter().all(|b| b.visits.len() <= ROWS));
        for pair in batches.windows(2) {
            let last = pair[0].visits.last().map(|v| v.link_id);
            let first = pair[1].visits.first().map(|v| v.link_id);
            assert!(last <= first, "{last:?} then {first:?}");
        }
        let out: Vec<(i64, i64)> = batches
            .iter()
            .flat_map(|b| &b.visits)
            .map(|v| (v.link_id, v.detail.at.unix_timestamp()))
            .collect();
        assert_eq!(out.len(), 40);
        for pair in out.windows(2) {
            assert!(pair[0] < pair[1], "link, then arrival: {pair:?}");
        }
    }
    #[test]
    fn after_a_long_flush_the_worker_rests_three_times_as_long_at_most_30_s() {
        let interval = Duration::from_millis(250);
        assert_eq!(wait_after(Duration::from_millis(40), interval), interval);
        assert_eq!(wait_after(Duration::from_secs(1), interval), interval);
        assert_eq!(
            wait_after(Duration::from_secs(2), interval),
            Duration::from_secs(6)
        );
        assert_eq!(wait_after(Duration::from_secs(20), interval), MAX_REST);
    }

    /// Under a flood the worker works a quarter of the time: a full queue
    /// does not wake it while it rests, and every click is still written
    /// once it stops.
    #[tokio::test(start_paused = true)]
    async fn a_flood_is_written_in_long_flushes_with_rests_between() {
        let store = Arc::new(Recorder {
            write_time: Duration::from_secs(2),
            ..Recorder::default()
        });
        let (queue, w) = worker(2, store.clone());
        let (stop, stopped) = watch::channel(false);
        let running = tokio::spawn(w.run(stopped, |_| {}));
        // A full queue every 100 ms for 20 s: the worker is woken by each.
        for link in 0..200 {
            queue.record(click(link, None));
            queue.record(click(link, None));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.send(true).expect("worker running");
        running.await.expect("worker");
        let starts = store.writes_started.lock().expect("lock").clone();
        assert!(starts.len() >= 3, "{} writes", starts.len());
        // Each flush is one write of 2 s, then a rest of 6 s; the stop cuts
        // the last rest short.
        let (last, regular) = starts.split_last().expect("writes");
        for pair in regular.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(gap >= Duration::from_secs(8), "flushes {gap:?} apart");
        }
        let stopped_after = *last - regular[regular.len() - 1];
        assert!(stopped_after < Duration::from_secs(8), "{stopped_after:?}");
        assert_eq!(store.total(), 400, "every click written");
    }
}
