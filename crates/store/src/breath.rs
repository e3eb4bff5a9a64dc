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
//! The stretch is counted in the thread's own CPU time, not the wall
//! clock's: a thread that was preempted for a while has not worked, and
//! pausing as soon as it gets the CPU back would only starve it further.
//!
//! The pause is a property of the thread, so it is kept per thread: the
//! worker turns it on for its own thread ([`start`]), and the code that
//! runs there, in this crate and in the server, calls [`point`] where a
//! stretch of work can be cut. On any other thread [`point`] does
//! nothing. It lives in the store because the store's SQLite writer is
//! where most of that work is, and the server depends on the store.
//!
//! What this cannot cut: a stretch inside one call that has no breath
//! point, such as SQLite's commit and its WAL checkpoint.

use std::cell::Cell;
use std::time::{Duration, Instant};

use rustix::time::{clock_gettime, ClockId};

/// How long the pause asks for. The kernel's default timer slack (50 µs)
/// makes it longer; long enough for the CPU to go idle and pull a waiting
/// thread over, which is all it is for.
const PAUSE: Duration = Duration::from_micros(10);

/// A thread's pacing: how much work between two pauses, and since when
/// its current stretch counts, by the wall clock and by its own CPU clock.
#[derive(Clone, Copy)]
struct Stretch {
    every: Duration,
    wall: Instant,
    cpu: Duration,
}

thread_local! {
    /// `None`: this thread does not pause.
    static STRETCH: Cell<Option<Stretch>> = const { Cell::new(None) };
    static PAUSES: Cell<u64> = const { Cell::new(0) };
}

/// The CPU time this thread has used.
fn cpu_time() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// From now on, [`point`] on this thread pauses once the thread has
/// worked for `every` since its last pause.
pub fn start(every: Duration) {
    STRETCH.set(Some(Stretch {
        every,
        wall: Instant::now(),
        cpu: cpu_time(),
    }));
}

/// No more pauses on this thread (its last work must not wait).
pub fn stop() {
    STRETCH.set(None);
}

/// A place where this thread's work may pause; returns whether it did.
pub fn point() -> bool {
    let Some(stretch) = STRETCH.get() else {
        return false;
    };
    let now = Instant::now();
    // A thread cannot have worked longer than the wall clock has run: the
    // cheap clock rules out most calls, and the CPU clock (a system call)
    // is read once a stretch.
    if now.duration_since(stretch.wall) < stretch.every {
        return false;
    }
    let worked = cpu_time().saturating_sub(stretch.cpu);
    if worked < stretch.every {
        // Preempted for part of the stretch: look again once it can have
        // worked `every`.
        STRETCH.set(Some(Stretch {
            wall: now.checked_sub(worked).unwrap_or(now),
            ..stretch
        }));
        return false;
    }
    std::thread::sleep(PAUSE);
    STRETCH.set(Some(Stretch {
        wall: Instant::now(),
        cpu: cpu_time(),
        ..stretch
    }));
    PAUSES.set(PAUSES.get() + 1);
    true
}

/// The pauses this thread has taken (for tests: where a stretch of work
/// was cut).
pub fn pauses() -> u64 {
    PAUSES.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_thread_that_started_pauses() {
        assert!(!point(), "off by default");
        std::thread::spawn(|| {
            start(Duration::from_secs(3600));
            assert!(!point(), "the stretch has only begun");
            start(Duration::ZERO);
            let before = Instant::now();
            assert!(point());
            assert!(before.elapsed() >= PAUSE);
            assert_eq!(pauses(), 1);
            stop();
            assert!(!point(), "stopped");
            assert_eq!(pauses(), 1);
        })
        .join()
        .expect("thread");
        assert!(!point(), "another thread's start does not reach this one");
        assert_eq!(pauses(), 0);
    }

    /// Time spent off the CPU is not work: only a thread that has run for
    /// the stretch pauses.
    #[test]
    fn the_stretch_is_counted_in_the_threads_own_cpu_time() {
        const EVERY: Duration = Duration::from_millis(50);
        std::thread::spawn(|| {
            start(EVERY);
            std::thread::sleep(EVERY * 2);
            assert!(!point(), "asleep, the thread did not work");
            let from = cpu_time();
            while cpu_time().saturating_sub(from) < EVERY {
                std::hint::black_box(0u64);
            }
            assert!(point(), "after a stretch of work it pauses");
            assert!(!point(), "and starts a new stretch");
        })
        .join()
        .expect("thread");
    }
}
