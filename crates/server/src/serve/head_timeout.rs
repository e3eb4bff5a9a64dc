//! The header time-out, kept once per connection instead of once per
//! request.
//!
//! hyper's own (`header_read_timeout`) starts a timer each time it waits
//! for a request head and drops it when the head is in: on a kept-alive
//! connection that is a clock read, an allocation and an entry added to and
//! taken from tokio's timer wheel for every request. Measured on L1 hits
//! (issue 8, BENCHMARKS.md 2026-11-29 (evening), "the header time-out"),
//! leaving it out raised the median throughput by 7 % (clicks off). Here a
//! connection counts the request heads it has read and the answers it has
//! finished, and a watchdog beside it looks at the two counts four times a
//! time-out: a connection with no request in progress whose counts have
//! not moved for a whole time-out is closed. A request costs two counter
//! increments and a reference count; a connection one timer, re-armed
//! every quarter time-out. ADR 0010.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};
use hyper::Response;
use tokio::time::{Instant, MissedTickBehavior};

/// Looks per time-out: a connection is closed between one and
/// `1 + 1/LOOKS` time-outs after it started waiting for a head.
const LOOKS: u32 = 4;

/// What one connection has done, as its watchdog sees it.
#[derive(Debug, Default)]
pub(super) struct Activity {
    /// Request heads read (hyper called the service).
    heads: AtomicU64,
    /// Answers finished: their body was sent whole, or given up.
    answered: AtomicU64,
}

impl Activity {
    /// Heads read and answers finished. Answers first: a request that
    /// starts and ends between the two loads shows as one in progress,
    /// never as a quiet connection.
    fn counts(&self) -> (u64, u64) {
        let answered = self.answered.load(Ordering::Relaxed);
        (self.heads.load(Ordering::Relaxed), answered)
    }

    /// A request head has been read.
    pub(super) fn head(&self) {
        self.heads.fetch_add(1, Ordering::Relaxed);
    }

    /// `response`, whose answer counts as finished once hyper has sent its
    /// body (or dropped it): a body that streams slowly from the server
    /// (the visits CSV, page by page) is a request in progress, not a
    /// connection waiting for a head.
    pub(super) fn track<B>(self: Arc<Self>, response: Response<B>) -> Response<Tracked<B>> {
        response.map(|body| Tracked {
            body,
            activity: self,
        })
    }

    /// Completes once the connection has waited for a request head, with
    /// no request in progress, for `timeout`: a client that sends nothing,
    /// sends its headers slowly, or idles between requests.
    pub(super) async fn waited_too_long(&self, timeout: Duration) {
        let look = (timeout / LOOKS).max(Duration::from_millis(1));
        let mut looks = tokio::time::interval_at(Instant::now() + look, look);
        looks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut seen = self.counts();
        let mut quiet = 0;
        loop {
            looks.tick().await;
            // A head read or an answer finished since the last look counts
            // as activity: the wait for the next head starts at this look
            // at the earliest.
            let now = self.counts();
            let (heads, answered) = now;
            if now != seen || heads != answered {
                seen = now;
                quiet = 0;
                continue;
            }
            quiet += 1;
            if quiet == LOOKS {
                return;
            }
        }
    }
}

/// A response body that marks its answer finished when dropped.
#[derive(Debug)]
pub(super) struct Tracked<B> {
    body: B,
    activity: Arc<Activity>,
}

impl<B> Drop for Tracked<B> {
    fn drop(&mut self) {
        self.activity.answered.fetch_add(1, Ordering::Relaxed);
    }
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::Empty;
    use hyper::body::Bytes;

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(8);

    /// A request whose head has been read: its answer is in progress until
    /// the returned response is dropped.
    fn request(activity: &Arc<Activity>) -> Response<Tracked<Empty<Bytes>>> {
        activity.head();
        activity.clone().track(Response::new(Empty::new()))
    }

    /// Runs the watchdog until it fires, or `limit` passes; returns when
    /// it fired, counted from the start.
    async fn fires_after(activity: &Activity, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        tokio::select! {
            () = activity.waited_too_long(TIMEOUT) => Some(started.elapsed()),
            () = tokio::time::sleep(limit) => None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_nothing_is_closed_within_a_time_out_and_a_quarter() {
        let activity = Activity::default();
        let after = fires_after(&activity, TIMEOUT * 2).await;
        assert_eq!(after, Some(TIMEOUT), "closed after {after:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn each_request_head_restarts_the_wait() {
        let activity = Arc::new(Activity::default());
        let client = {
            let activity = activity.clone();
            async move {
                // A request every 5 s, each answered at once: never a
                // whole time-out without a head.
                for _ in 0..6 {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    drop(request(&activity));
                }
            }
        };
        let watched = fires_after(&activity, Duration::from_secs(60));
        let (after, ()) = tokio::join!(watched, client);
        // The last head came at 30 s: closed 8 to 10 s later.
        let after = after.expect("idle after the last request");
        assert!(
            (Duration::from_secs(38)..=Duration::from_secs(40)).contains(&after),
            "closed after {after:?}"
        );
    }

    /// The wait starts when the answer is finished, not at the look before
    /// it, when the request was still in progress.
    #[tokio::test(start_paused = true)]
    async fn an_answer_finished_between_two_looks_starts_a_whole_wait() {
        let activity = Arc::new(Activity::default());
        let answer = request(&activity);
        let answering = async {
            // Looks every 2 s: in progress at the look at 2 s, finished at
            // 3.9 s.
            tokio::time::sleep(Duration::from_millis(3900)).await;
            drop(answer);
        };
        let (after, ()) = tokio::join!(fires_after(&activity, TIMEOUT * 3), answering);
        let after = after.expect("idle after the answer");
        // At least a whole time-out after the answer.
        assert!(
            after >= Duration::from_millis(3900) + TIMEOUT,
            "closed after {after:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_progress_is_never_cut_however_long_it_takes() {
        let activity = Arc::new(Activity::default());
        // The handler, or a body streamed slowly, holds the answer for
        // five time-outs.
        let answer = request(&activity);
        assert_eq!(fires_after(&activity, TIMEOUT * 5).await, None);
        drop(answer);
        let after = fires_after(&activity, TIMEOUT * 2).await;
        assert_eq!(after, Some(TIMEOUT), "closed after {after:?}");
    }
}
