//! Breath points: a low-priority thread that works for a long stretch
//! gives its CPU back for a moment now and then.
//!
//! The click worker runs under `SCHED_IDLE` (the server's
//! `analytics::thread`). That keeps it off a CPU a request thread wakes
//! on, but not off a CPU a request thread waits for: when a request thread
//! is preempted on the other CPU (by the load generator, by its sibling),
//! the kernel moves it to the worker's CPU only at its next periodic
//! balance, every few milliseconds, because a CPU running an idle-policy
//! thread is not idle. A CPU that really goes idle pulls waiting work at
//! once. Measured in issue 8 with a stand-in beside kurz (analytics off,
//! uniform L1 hits under a flood): an idle-policy thread that only
//! computed took the p99 from 1.1 ms to 3.8 ms; one that slept for a
//! moment every 300 µs, to 1.7 ms.
//!
//! What this cannot cut: a stretch inside one call that has no breath
//! point, such as SQLite's commit and its WAL checkpoint.
//!
//! The pause is a property of the thread, so it is kept per thread: the
//! worker turns it on for its own thread ([`start`]), and the code that
//! runs there, in this crate and in the server, calls [`point`] where a
//! stretch of work can be cut. On any other thread [`point`] does
//! nothing.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How long the pause asks for. The kernel's default timer slack (50 µs)
/// makes it longer; long enough for the CPU to go idle and pull a waiting
/// thread over, which is all it is for.
const PAUSE: Duration = Duration::from_micros(10);

thread_local! {
    /// The work between two pauses on this thread; `None`: no pauses.
    static EVERY: Cell<Option<Duration>> = const { Cell::new(None) };
    static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
    static PAUSES: Cell<u64> = const { Cell::new(0) };
}

/// From now on, [`point`] on this thread pauses once `every` has passed
/// since its last pause.
pub fn start(every: Duration) {
    EVERY.set(Some(every));
    LAST.set(Some(Instant::now()));
}

/// No more pauses on this thread (its last work must not wait).
pub fn stop() {
    EVERY.set(None);
}

/// A place where this thread's work may pause; returns whether it did.
pub fn point() -> bool {
    let Some(every) = EVERY.get() else {
        return false;
    };
    let now = Instant::now();
    if LAST
        .get()
        .is_some_and(|last| now.duration_since(last) < every)
    {
        return false;
    }
    std::thread::sleep(PAUSE);
    LAST.set(Some(Instant::now()));
    PAUSES.set(PAUSES.get() + 1);
    true
}

/// The pauses this thread has taken: where the work cut its stretches.
pub fn pauses() -> u64 {
    PAUSES.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_thread_that_started_pauses_and_only_once_its_stretch_is_over() {
        assert!(!point(), "off by default");
        std::thread::spawn(|| {
            start(Duration::from_millis(50));
            assert!(!point(), "the stretch has only begun");
            std::thread::sleep(Duration::from_millis(60));
            let before = Instant::now();
            assert!(point());
            assert!(before.elapsed() >= PAUSE);
            assert_eq!(pauses(), 1);
            assert!(!point(), "a new stretch begins after a pause");
            std::thread::sleep(Duration::from_millis(60));
            stop();
            assert!(!point(), "stopped");
        })
        .join()
        .expect("thread");
        assert!(!point(), "another thread's start does not reach this one");
    }
}
