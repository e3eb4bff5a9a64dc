//! A circuit breaker around Redis: after a run of failures (errors or
//! time-outs) it opens and every lookup skips L2 for a cool-down, so a slow
//! or dead Redis costs nothing; then one probe goes through (half-open); its
//! success closes the breaker, its failure opens it again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// As the metrics report it: 0 closed, 1 half-open, 2 open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed = 0,
    HalfOpen = 1,
    Open = 2,
}

#[derive(Debug)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// A probe is out; everyone else still skips. A probe that never
    /// reports (its caller was cancelled mid-command) is given up after a
    /// cool-down, and the next caller probes instead.
    HalfOpen {
        since: Instant,
    },
}

#[derive(Debug)]
pub(crate) struct Breaker {
    /// A std mutex: every critical section is a few comparisons, no await.
    state: Mutex<State>,
    /// Whether `state` is closed, written under its lock: the usual case,
    /// where every lookup may go to Redis, takes no lock and reads no
    /// clock.
    closed: AtomicBool,
    /// Failures in a row that open the breaker.
    threshold: u32,
    cool_down: Duration,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cool_down: Duration) -> Self {
        Self {
            state: Mutex::new(State::Closed { failures: 0 }),
            closed: AtomicBool::new(true),
            threshold: threshold.max(1),
            cool_down,
        }
    }

    /// A breaker that starts open: no call until the first probe.
    pub(crate) fn opened(threshold: u32, cool_down: Duration) -> Self {
        let breaker = Self::new(threshold, cool_down);
        breaker.set(
            &mut breaker.lock(),
            State::Open {
                until: Instant::now(),
            },
        );
        breaker
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves to `next`, under the lock `state` is.
    fn set(&self, state: &mut State, next: State) {
        self.closed
            .store(matches!(next, State::Closed { .. }), Ordering::Relaxed);
        *state = next;
    }

    /// Whether a call may go to Redis now. In the open state, the first
    /// caller after the cool-down becomes the probe.
    pub(crate) fn allow(&self) -> bool {
        // A failure that opens it a moment ago may let one more call
        // through: it is bounded by its time-out like any other.
        if self.closed.load(Ordering::Relaxed) {
            return true;
        }
        let mut state = self.lock();
        let now = Instant::now();
        let probe = match *state {
            State::Closed { .. } => return true,
            State::Open { until } => now >= until,
            State::HalfOpen { since } => now >= since + self.cool_down,
        };
        if probe {
            self.set(&mut state, State::HalfOpen { since: now });
        }
        probe
    }

    pub(crate) fn success(&self) {
        self.set(&mut self.lock(), State::Closed { failures: 0 });
    }

    pub(crate) fn failure(&self) {
        let mut state = self.lock();
        let failures = match *state {
            State::Closed { failures } => failures + 1,
            State::HalfOpen { .. } | State::Open { .. } => self.threshold,
        };
        let next = if failures >= self.threshold {
            State::Open {
                until: Instant::now() + self.cool_down,
            }
        } else {
            State::Closed { failures }
        };
        self.set(&mut state, next);
    }

    pub(crate) fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
            State::Open { .. } => BreakerState::Open,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_a_run_of_failures_probes_after_the_cool_down_and_closes_on_success() {
        let b = Breaker::new(3, Duration::from_secs(1));
        assert_eq!(b.state(), BreakerState::Closed);
        b.failure();
        b.failure();
        b.success();
        b.failure();
        b.failure();
        assert!(b.allow(), "two in a row after a success do not open it");
        b.failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow());
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(!b.allow(), "still cooling down");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(b.allow(), "the first caller after the cool-down probes");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(!b.allow(), "one probe at a time");
        b.success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allow());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_opens_it_for_another_cool_down() {
        let b = Breaker::new(2, Duration::from_secs(5));
        b.failure();
        b.failure();
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(b.allow());
        b.failure();
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(!b.allow());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(b.allow());
    }

    #[tokio::test(start_paused = true)]
    async fn a_breaker_made_open_probes_at_once() {
        let b = Breaker::opened(3, Duration::from_secs(5));
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.allow());
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_that_never_reports_is_given_up_after_a_cool_down() {
        let b = Breaker::opened(3, Duration::from_secs(1));
        assert!(b.allow(), "the probe goes out and its caller is cancelled");
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(!b.allow(), "the probe may still answer");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(b.allow(), "the next caller probes instead");
        assert!(!b.allow());
        b.success();
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
