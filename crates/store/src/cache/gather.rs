//! Reads of L2, gathered: the lookups that reach Redis at about the same
//! moment go to it as one `MGET` (ADR 0030).
//!
//! Sent as one `GET` each, concurrent lookups cost Redis a command, a
//! socket read and a reply each, and the node as much again; Redis's own
//! CPU, on the same machine as the node, was a fifth of each lookup's
//! cost. Here a lookup joins the batch being gathered and waits for its
//! answer; one task sends batches, one at a time: it first lets the
//! requests that are ready now run (so they join), and while a batch is
//! out the next one gathers. A batch is answered by the time-out counted
//! from its oldest lookup, so no lookup waits longer than one command
//! would have, and each lookup needs no timer of its own.

use std::future::Future;
use std::mem;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

/// Most keys in one `MGET`; more waiting go in the next batch.
const MAX_BATCH: usize = 512;

/// A value as Redis holds it: `None` when the key is not there.
pub(crate) type Value = Option<Vec<u8>>;

/// What sends a batch.
pub(crate) trait Fetch: Send + Sync + 'static {
    /// The values of `keys`, in their order; `None` when the batch failed
    /// or was not answered by `deadline`.
    fn fetch(
        &self,
        keys: Vec<String>,
        deadline: Instant,
    ) -> impl Future<Output = Option<Vec<Value>>> + Send;
}

#[derive(Debug)]
pub(crate) struct Gather {
    waiting: Mutex<Waiting>,
    timeout: Duration,
}

/// The lookups not sent yet.
#[derive(Debug, Default)]
struct Waiting {
    keys: Vec<String>,
    answers: Vec<oneshot::Sender<Value>>,
    /// When each joined: a batch's deadline counts from its oldest.
    joined: Vec<Instant>,
    /// A [`Sender`] exists; it takes these before it stops.
    sending: bool,
}

/// What [`Gather::join`] hands back.
pub(crate) struct Joined {
    /// The key's value; an error (the sender is gone) is a miss.
    pub(crate) answer: oneshot::Receiver<Value>,
    /// No task is sending: the caller runs this one in a task of its own.
    pub(crate) sender: Option<Sender>,
}

impl Gather {
    /// `timeout`: the longest any lookup waits, from when it joined.
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            waiting: Mutex::default(),
            timeout,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `key` to the batch being gathered.
    pub(crate) fn join(self: &Arc<Self>, key: String) -> Joined {
        let (tx, answer) = oneshot::channel();
        let now = Instant::now();
        let mut waiting = self.lock();
        waiting.joined.push(now);
        waiting.keys.push(key);
        waiting.answers.push(tx);
        let start = !mem::replace(&mut waiting.sending, true);
        Joined {
            answer,
            sender: start.then(|| Sender {
                gather: Arc::clone(self),
                armed: true,
            }),
        }
    }

    /// The oldest waiting lookups, at most a batch; `None` (and no task
    /// sending any more) when none waits.
    fn take(&self) -> Option<(Vec<String>, Vec<oneshot::Sender<Value>>, Instant)> {
        let mut waiting = self.lock();
        if waiting.keys.is_empty() {
            waiting.sending = false;
            return None;
        }
        let n = waiting.keys.len().min(MAX_BATCH);
        let since = waiting.joined.first().copied().unwrap_or_else(Instant::now);
        let keys = waiting.keys.drain(..n).collect();
        let answers = waiting.answers.drain(..n).collect();
        waiting.joined.drain(..n);
        Some((keys, answers, since))
    }
}

/// The one task sending batches, made by the [`Gather::join`] that found
/// none. Whatever ends it early (a panic, or the runtime stopping, even
/// before the task first ran: dropping the task drops this), the lookups
/// still waiting read a miss, and the next lookup makes a new one.
#[derive(Debug)]
pub(crate) struct Sender {
    gather: Arc<Gather>,
    armed: bool,
}

impl Sender {
    /// Sends batches through `fetch` until none is waiting, one at a time.
    /// Runs in a task of its own: a request cancelled meanwhile does not
    /// stop it.
    pub(crate) async fn run(mut self, fetch: &impl Fetch) {
        let gather = Arc::clone(&self.gather);
        loop {
            // Lets the requests that are ready now reach their lookup
            // first, and join this batch.
            tokio::task::yield_now().await;
            let Some((keys, answers, since)) = gather.take() else {
                self.armed = false;
                return;
            };
            let deadline = since + gather.timeout;
            // Gathered behind a slow batch or a busy runtime: too late to
            // ask, and not Redis's failure (the breaker is not told).
            if deadline <= Instant::now() {
                continue;
            }
            let values = fetch.fetch(keys, deadline).await;
            match values {
                Some(values) if values.len() == answers.len() => {
                    for (answer, value) in answers.into_iter().zip(values) {
                        // A lookup cancelled meanwhile does not read it.
                        let _ = answer.send(value);
                    }
                }
                // Dropped unanswered: each lookup reads a miss.
                _ => drop(answers),
            }
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        if self.armed {
            let mut waiting = self.gather.lock();
            waiting.keys.clear();
            waiting.answers.clear();
            waiting.joined.clear();
            waiting.sending = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// A store of values in memory that counts the batches it is sent,
    /// and can be told to never answer.
    #[derive(Debug)]
    struct Fake {
        gather: Arc<Gather>,
        values: HashMap<String, Vec<u8>>,
        batches: AtomicUsize,
        largest: AtomicUsize,
        silent: bool,
    }

    impl Fetch for Fake {
        async fn fetch(&self, keys: Vec<String>, deadline: Instant) -> Option<Vec<Value>> {
            self.batches.fetch_add(1, Ordering::SeqCst);
            self.largest.fetch_max(keys.len(), Ordering::SeqCst);
            if self.silent {
                tokio::time::sleep_until(deadline).await;
                return None;
            }
            Some(keys.iter().map(|k| self.values.get(k).cloned()).collect())
        }
    }

    fn fake(silent: bool) -> Arc<Fake> {
        let values = (0..100)
            .map(|i| (format!("k{i}"), format!("v{i}").into_bytes()))
            .collect();
        Arc::new(Fake {
            gather: Arc::new(Gather::new(Duration::from_millis(50))),
            values,
            batches: AtomicUsize::new(0),
            largest: AtomicUsize::new(0),
            silent,
        })
    }

    async fn get(fake: &Arc<Fake>, key: String) -> Value {
        let joined = fake.gather.join(key);
        if let Some(sender) = joined.sender {
            let fake = Arc::clone(fake);
            tokio::spawn(async move { sender.run(&*fake).await });
        }
        joined.answer.await.ok().flatten()
    }

    #[tokio::test]
    async fn concurrent_lookups_go_together_and_each_reads_its_own_value() {
        let fake = fake(false);
        let lookups: Vec<_> = (0..200)
            .map(|i| {
                let fake = Arc::clone(&fake);
                tokio::spawn(async move { (i, get(&fake, format!("k{i}")).await) })
            })
            .collect();
        for lookup in lookups {
            let (i, value) = lookup.await.expect("lookup");
            let want = (i < 100).then(|| format!("v{i}").into_bytes());
            assert_eq!(value, want, "k{i}");
        }
        let batches = fake.batches.load(Ordering::SeqCst);
        assert!(
            batches < 10,
            "200 lookups at once went in {batches} batches"
        );
        // Alone, a lookup is sent at once, as a batch of one.
        assert_eq!(get(&fake, "k7".into()).await, Some(b"v7".to_vec()));
        assert_eq!(fake.batches.load(Ordering::SeqCst), batches + 1);
    }

    #[tokio::test]
    async fn a_batch_holds_at_most_its_limit_and_the_rest_follows() {
        let fake = fake(false);
        let lookups: Vec<_> = (0..MAX_BATCH * 2 + 1)
            .map(|i| {
                let fake = Arc::clone(&fake);
                tokio::spawn(async move { get(&fake, format!("k{}", i % 100)).await })
            })
            .collect();
        for (i, lookup) in lookups.into_iter().enumerate() {
            let want = format!("v{}", i % 100).into_bytes();
            assert_eq!(lookup.await.expect("lookup"), Some(want));
        }
        assert_eq!(fake.largest.load(Ordering::SeqCst), MAX_BATCH);
        assert!(fake.batches.load(Ordering::SeqCst) >= 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_redis_answers_every_lookup_with_a_miss_within_the_time_out() {
        let fake = fake(true);
        let started = Instant::now();
        let first = {
            let fake = Arc::clone(&fake);
            tokio::spawn(async move { get(&fake, "k1".into()).await })
        };
        // Joins while the first batch is out: answered by its own deadline.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let second = {
            let fake = Arc::clone(&fake);
            tokio::spawn(async move { (get(&fake, "k2".into()).await, Instant::now()) })
        };
        assert_eq!(first.await.expect("first"), None);
        assert_eq!(started.elapsed(), Duration::from_millis(50));
        let (value, answered) = second.await.expect("second");
        assert_eq!(value, None);
        assert_eq!(answered - started, Duration::from_millis(80));
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_already_past_its_deadline_is_not_sent() {
        /// Answers 10 ms after the deadline, as a slow Redis whose reply
        /// lands late.
        struct Late(Arc<Gather>, AtomicUsize);
        impl Fetch for Late {
            async fn fetch(&self, _: Vec<String>, deadline: Instant) -> Option<Vec<Value>> {
                self.1.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep_until(deadline + Duration::from_millis(10)).await;
                None
            }
        }
        let late = Arc::new(Late(
            Arc::new(Gather::new(Duration::from_millis(50))),
            AtomicUsize::new(0),
        ));
        let ask = |delay| {
            let late = Arc::clone(&late);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                let joined = late.0.join("k".into());
                if let Some(sender) = joined.sender {
                    let late = Arc::clone(&late);
                    tokio::spawn(async move { sender.run(&*late).await });
                }
                joined.answer.await.ok().flatten()
            })
        };
        let (first, second) = (ask(0), ask(1));
        assert_eq!(first.await.expect("first"), None);
        assert_eq!(second.await.expect("second"), None);
        assert_eq!(
            late.1.load(Ordering::SeqCst),
            1,
            "the second batch was too late to send"
        );
    }

    #[tokio::test]
    async fn a_sender_that_dies_leaves_no_lookup_waiting() {
        struct Panics;
        impl Fetch for Panics {
            async fn fetch(&self, _: Vec<String>, _: Instant) -> Option<Vec<Value>> {
                panic!("a bug in the sender");
            }
        }
        let gather = Arc::new(Gather::new(Duration::from_secs(60)));
        for _ in 0..2 {
            let joined = gather.join("k".into());
            let sender = joined.sender.expect("the task before is gone");
            let task = tokio::spawn(async move { sender.run(&Panics).await });
            assert!(task.await.is_err(), "it panicked");
            assert!(joined.answer.await.is_err(), "a miss, not a wait");
        }
        // A task dropped before it first runs (the runtime stopping) drops
        // its sender unpolled: the same.
        let joined = gather.join("k".into());
        let sender = joined.sender.expect("the task before is gone");
        drop(async move { sender.run(&Panics).await });
        assert!(joined.answer.await.is_err(), "a miss, not a wait");
        let again = gather.join("k".into());
        assert!(again.sender.is_some(), "the next lookup starts a sender");
    }
}
