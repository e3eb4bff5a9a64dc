//! The click worker's own thread, below the priority of the threads that
//! answer requests (ADR 0027, ADR 0029).
//!
//! Under a redirect flood, writing clicks is the one piece of work that
//! can wait: the queue is bounded, and what does not fit is counted
//! without its detail. Where the process may raise the thread again, it
//! runs under `SCHED_IDLE`: while other threads want the CPU it gets a
//! sliver of it (a weight of 3 against a request thread's 1,024) and is
//! set aside the moment one wakes. A flush that takes longer than
//! [`STARVED_AFTER`] raises it to `nice` +10 until flushes are quick
//! again, and the last flushes at shutdown run at `nice` +10. Where the
//! process may not raise it (no `CAP_SYS_NICE`, an `RLIMIT_NICE` below
//! 20), it stays at `nice` +10. Either way it pauses for a moment after
//! every [`BREATH_EVERY`] of work, so that a request thread waiting for
//! its CPU gets it at once (`kurz_store::breath`). Its store connection is
//! opened from this thread; on SQLite the writes run on this thread
//! itself (ADR 0028).

use std::io;
use std::thread;
use std::time::Duration;

use kurz_store::breath;
use tokio::sync::{oneshot, watch};

use super::worker::Pace;
use super::ClickWorker;

/// The worker's longest stretch of work between two pauses (`breath`):
/// a request thread that waits for the CPU the worker holds is pulled
/// over within about this long, not at the kernel's next periodic
/// balance. Measured in issue 8 (uniform L1 hits under a flood, median
/// p99 of many rounds): 2.8 ms without pauses, 2.1–2.3 ms with them,
/// whether every 100 µs, 250 µs or 1 ms; at 250 µs they cost the worker
/// about a fifth of its time.
pub const BREATH_EVERY: Duration = Duration::from_micros(250);

/// How much lower the worker's priority is: `nice` 10, a tenth of the
/// CPU share of a request thread when both want it.
pub const NICENESS: i32 = 10;

/// A flush that takes longer than this under `SCHED_IDLE` raises the
/// worker to `nice` +10.
pub const STARVED_AFTER: Duration = Duration::from_secs(5);

/// A flush this short at `nice` +10 means the worker keeps up again: back
/// to `SCHED_IDLE`.
pub const CAUGHT_UP: Duration = Duration::from_secs(1);

/// Runs `worker` on a thread of its own until `stop` turns true and the
/// worker has flushed. The receiver completes when the thread ends (an
/// error if it panicked).
pub fn spawn(
    worker: ClickWorker,
    stop: watch::Receiver<bool>,
) -> io::Result<oneshot::Receiver<()>> {
    let (done, finished) = oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let idle = idle_is_reversible();
    thread::Builder::new()
        .name("kurz-clicks".into())
        .spawn(move || {
            let mut priority = Priority::lower(idle);
            breath::start(BREATH_EVERY);
            runtime.block_on(worker.run(stop, |pace| priority.follow(pace)));
            let _ = done.send(());
        })?;
    Ok(finished)
}

/// The worker thread's scheduling: idle while its flushes are quick,
/// `nice` +10 after a slow one and while it stops.
#[derive(Debug)]
pub struct Priority {
    /// The nice value the thread started with.
    base: i32,
    /// `SCHED_IDLE` may be used (it can be left again); not any more once
    /// the worker stops.
    idle_allowed: bool,
}

impl Priority {
    /// Lowers the calling thread by [`NICENESS`] (19 at most; on Linux the
    /// nice value belongs to the thread, and threads it starts inherit
    /// it), and puts it under
    /// `SCHED_IDLE` when `idle_allowed` (see [`idle_is_reversible`]).
    pub fn lower(idle_allowed: bool) -> Self {
        let base = os::nice().unwrap_or(0);
        if idle_allowed {
            if let Err(e) = os::set_idle(true) {
                tracing::warn!(error = %e, "could not put the click worker under SCHED_IDLE");
            }
        }
        let priority = Self { base, idle_allowed };
        priority.set_nice();
        priority
    }

    fn set_nice(&self) {
        if let Err(e) = os::set_nice(lowered(self.base)) {
            tracing::warn!(error = %e,
                "could not lower the click worker's priority; it competes with redirects");
        }
    }

    /// Follows the worker: after a slow flush under `SCHED_IDLE` the
    /// thread is raised, after a quick one at `nice` +10 lowered again;
    /// stopping, it is raised for good.
    pub fn follow(&mut self, pace: Pace) {
        if matches!(pace, Pace::Stopping) {
            breath::stop();
        }
        if !self.idle_allowed {
            return;
        }
        let now = os::is_idle();
        let idle = match pace {
            Pace::Flushed(took) => next_idle(now, took),
            Pace::Stopping => {
                self.idle_allowed = false;
                false
            }
        };
        if idle == now {
            return;
        }
        let changed = os::set_idle(idle);
        // Even when the change failed half-way: the policy may have moved
        // and the nice value not.
        self.set_nice();
        match (changed, pace) {
            (Err(e), _) => tracing::warn!(error = %e, idle = os::is_idle(),
                "could not change the click worker's scheduling"),
            (Ok(()), Pace::Flushed(took)) if !idle => tracing::info!(
                flush_ms = took.as_millis() as u64,
                "a click flush was slow (starved of CPU, or a slow store); the click worker \
                 runs at nice +10 until flushes are quick again"
            ),
            _ => {}
        }
    }
}

/// The worker's nice value for a thread that started at `base`; 19 is the
/// lowest there is.
fn lowered(base: i32) -> i32 {
    (base + NICENESS).min(19)
}

/// Whether the worker should be under `SCHED_IDLE` after a flush of `took`,
/// given whether it was.
fn next_idle(idle: bool, took: Duration) -> bool {
    if idle {
        took <= STARVED_AFTER
    } else {
        took < CAUGHT_UP
    }
}

/// Whether this process may put a thread under `SCHED_IDLE` and take it
/// out again (leaving it takes `CAP_SYS_NICE` or an `RLIMIT_NICE` of 20,
/// systemd's `LimitNICE=+0`). Tried on a thread of its own, thrown away
/// after.
pub fn idle_is_reversible() -> bool {
    thread::Builder::new()
        .name("kurz-probe".into())
        .spawn(|| {
            let base = os::nice().unwrap_or(0);
            os::set_idle(true).is_ok()
                && os::set_idle(false).is_ok()
                && os::set_nice(lowered(base)).is_ok()
        })
        .ok()
        .and_then(|probe| probe.join().ok())
        .unwrap_or(false)
}

#[cfg(target_os = "linux")]
mod os {
    use rustix::process::{getpriority_process, setpriority_process};
    use rustix::thread::gettid;
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
        ThreadPriority, ThreadSchedulePolicy,
    };

    /// Puts the calling thread under `SCHED_IDLE`, or back under
    /// `SCHED_OTHER`. It also sets the nice value (0 for the first, 19 for
    /// the second): the caller sets it right after.
    pub(super) fn set_idle(idle: bool) -> Result<(), thread_priority::Error> {
        let policy = if idle {
            NormalThreadSchedulePolicy::Idle
        } else {
            NormalThreadSchedulePolicy::Other
        };
        set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(policy),
        )
    }

    /// The calling thread runs under `SCHED_IDLE`.
    pub(super) fn is_idle() -> bool {
        thread_priority::thread_schedule_policy()
            .is_ok_and(|p| p == ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle))
    }

    /// The calling thread's nice value.
    pub(super) fn nice() -> std::io::Result<i32> {
        Ok(getpriority_process(Some(gettid()))?)
    }

    /// Sets the calling thread's nice value.
    pub(super) fn set_nice(nice: i32) -> std::io::Result<()> {
        Ok(setpriority_process(Some(gettid()), nice)?)
    }
}

/// Elsewhere the priority is the process's, and stays as it is.
#[cfg(not(target_os = "linux"))]
mod os {
    pub(super) fn set_idle(_idle: bool) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    pub(super) fn is_idle() -> bool {
        false
    }

    pub(super) fn nice() -> std::io::Result<i32> {
        Ok(0)
    }

    pub(super) fn set_nice(_nice: i32) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn nice_of_this_thread() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).expect("nice")
    }

    #[test]
    fn a_starved_flush_raises_the_worker_and_a_quick_one_lowers_it_again() {
        assert!(next_idle(true, Duration::from_millis(300)));
        assert!(next_idle(true, STARVED_AFTER));
        assert!(!next_idle(true, STARVED_AFTER + Duration::from_millis(1)));
        assert!(!next_idle(false, CAUGHT_UP));
        assert!(
            !next_idle(false, Duration::from_secs(3)),
            "between the two, it stays raised"
        );
        assert!(next_idle(false, Duration::from_millis(300)));
    }

    /// Under `SCHED_IDLE` where this process may leave it again (root, or
    /// `CAP_SYS_NICE`), at `nice` +10 otherwise; after a slow flush and
    /// while stopping, at `nice` +10.
    #[test]
    fn the_worker_is_idle_where_it_can_be_raised_again_and_raised_when_starved() {
        let base = nice_of_this_thread();
        let lowered = (base + NICENESS).min(19);
        let reversible = idle_is_reversible();
        assert!(!os::is_idle(), "the probe leaves the caller as it was");
        assert_eq!(nice_of_this_thread(), base);
        thread::spawn(move || {
            let mut priority = Priority::lower(reversible);
            assert_eq!(os::is_idle(), reversible);
            assert_eq!(nice_of_this_thread(), lowered);
            priority.follow(Pace::Flushed(STARVED_AFTER * 2));
            assert!(
                !os::is_idle(),
                "a starved worker runs under the normal policy"
            );
            assert_eq!(nice_of_this_thread(), lowered, "at nice +10");
            priority.follow(Pace::Flushed(Duration::from_millis(10)));
            assert_eq!(os::is_idle(), reversible, "keeping up, it is idle again");
            assert_eq!(nice_of_this_thread(), lowered);
            breath::start(Duration::ZERO);
            priority.follow(Pace::Stopping);
            assert!(!os::is_idle(), "the last flushes do not wait for the CPU");
            assert!(!breath::point(), "nor pause");
            priority.follow(Pace::Flushed(Duration::from_millis(10)));
            assert!(!os::is_idle(), "nor does any after them");
            assert_eq!(nice_of_this_thread(), lowered);
        })
        .join()
        .expect("thread");
    }

    #[test]
    fn the_worker_thread_and_the_threads_it_starts_run_at_lower_priority() {
        let base = nice_of_this_thread();
        let (own, child) = thread::spawn(move || {
            Priority::lower(false);
            let child = thread::spawn(nice_of_this_thread).join().expect("child");
            (nice_of_this_thread(), child)
        })
        .join()
        .expect("thread");
        let expected = (base + NICENESS).min(19);
        assert_eq!(own, expected);
        assert_eq!(
            child, expected,
            "a thread started from it inherits the priority"
        );
        assert_eq!(
            nice_of_this_thread(),
            base,
            "the caller's priority is untouched"
        );
    }
}
