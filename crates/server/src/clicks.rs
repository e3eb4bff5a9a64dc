//! Click counting off the redirect path: the handler bumps an in-memory
//! per-link counter (a few nanoseconds, never waits on the store) and a
//! worker adds the counts to the store every few hundred milliseconds. A
//! failed flush puts its counts back, and shutdown flushes what is left, so
//! no count is lost while the process lives or stops gracefully.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use kurz_core::error::StoreError;
use kurz_core::ports::{ClickSink, VisitStore};

/// Shards keep concurrent redirects of different links off one lock.
const SHARDS: usize = 16;

#[derive(Debug)]
pub struct ClickCounter {
    /// std mutexes: every critical section is a map update with no await.
    shards: Vec<Mutex<HashMap<i64, u64>>>,
}

impl Default for ClickCounter {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl ClickCounter {
    fn shard(&self, link_id: i64) -> &Mutex<HashMap<i64, u64>> {
        &self.shards[link_id.unsigned_abs() as usize % SHARDS]
    }

    /// Takes every pending count, leaving the counter empty.
    fn take(&self) -> Vec<(i64, u64)> {
        let mut out = Vec::new();
        for shard in &self.shards {
            let mut guard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            // The next interval likely counts as many links: start at that
            // size instead of growing (and rehashing) up to it again.
            let capacity = guard.len();
            let map = std::mem::replace(&mut *guard, HashMap::with_capacity(capacity));
            drop(guard);
            out.extend(map);
        }
        out
    }

    /// Puts counts back after a failed flush.
    fn restore(&self, counts: &[(i64, u64)]) {
        for &(id, n) in counts {
            *self
                .shard(id)
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(id)
                .or_insert(0) += n;
        }
    }
}

impl ClickSink for ClickCounter {
    fn record(&self, link_id: i64) {
        *self
            .shard(link_id)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(link_id)
            .or_insert(0) += 1;
    }
}

/// Writes the counter's counts to the store.
#[derive(Debug, Clone)]
pub struct ClickFlusher {
    counter: Arc<ClickCounter>,
    visits: Arc<dyn VisitStore>,
}

impl ClickFlusher {
    pub fn new(counter: Arc<ClickCounter>, visits: Arc<dyn VisitStore>) -> Self {
        Self { counter, visits }
    }

    /// One flush; the number of links written. On failure the counts go
    /// back into the counter for the next try.
    pub async fn flush_once(&self) -> Result<usize, StoreError> {
        let mut batch = self.counter.take();
        // Rows in one order on every node: two nodes' flushes never wait
        // on each other's locks crosswise (a deadlock on the servers).
        batch.sort_unstable_by_key(|&(id, _)| id);
        if batch.is_empty() {
            return Ok(0);
        }
        match self.visits.add_visits(&batch).await {
            Ok(()) => Ok(batch.len()),
            Err(e) => {
                self.counter.restore(&batch);
                Err(e)
            }
        }
    }

    /// Flushes every `interval` until `stop` turns true, then flushes what
    /// is left, retrying a few times if the store is briefly away.
    pub async fn run(self, interval: Duration, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = self.flush_once().await {
                        tracing::warn!(error = %e, "click flush failed; will retry");
                    }
                }
                _ = stop.changed() => break,
            }
        }
        for attempt in 1..=5 {
            match self.flush_once().await {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "final click flush failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        tracing::error!("clicks could not be written at shutdown and are lost");
    }
}
