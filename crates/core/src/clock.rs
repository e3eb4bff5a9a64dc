//! "Now" as a port. Production reads the system clock; tests set and move a
//! [`ManualClock`], so rules about time (expiry, the statuses shown) are
//! tested without sleeping.
//!
//! Timestamps are kept at millisecond precision everywhere (stored as
//! integer milliseconds on every backend), so every clock cuts to that: what
//! is written is what is read back.

use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::SystemTime;

use time::OffsetDateTime;

/// Where "now" comes from.
pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> OffsetDateTime;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Cut to the millisecond from the system time's seconds and
    /// milliseconds, not through `i128` nanoseconds and back: a redirect
    /// reads the clock twice, and that round trip took half of each read
    /// (110 against 58 ns here, 31 of them the clock itself).
    fn now(&self) -> OffsetDateTime {
        let Ok(since) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) else {
            // A clock set before 1970: the long way round, still exact.
            let t = OffsetDateTime::now_utc();
            return t.replace_millisecond(t.millisecond()).unwrap_or(t);
        };
        i64::try_from(since.as_secs())
            .ok()
            .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
            .and_then(|t| t.replace_millisecond(since.subsec_millis() as u16).ok())
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct ManualClock {
    millis: AtomicI64,
}

impl ManualClock {
    pub fn new(at: OffsetDateTime) -> Self {
        Self {
            millis: AtomicI64::new(to_millis(at)),
        }
    }

    /// A clock at the system's "now".
    pub fn starting_now() -> Self {
        Self::new(OffsetDateTime::now_utc())
    }

    pub fn set(&self, at: OffsetDateTime) {
        self.millis.store(to_millis(at), Ordering::SeqCst);
    }

    pub fn advance(&self, by: time::Duration) {
        let ms = i64::try_from(by.whole_milliseconds()).unwrap_or(i64::MAX);
        self.millis.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        from_millis(self.millis.load(Ordering::SeqCst))
    }
}

/// Milliseconds since the Unix epoch: the precision timestamps are kept at.
pub fn to_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_keeps_milliseconds() {
        let start = OffsetDateTime::UNIX_EPOCH + time::Duration::nanoseconds(1_234_567_891);
        let clock = ManualClock::new(start);
        assert_eq!(to_millis(clock.now()), 1_234);
        assert_eq!(clock.now(), clock.now());
        clock.advance(time::Duration::seconds(2));
        assert_eq!(to_millis(clock.now()), 3_234);
        let system = SystemClock.now();
        assert_eq!(system.nanosecond() % 1_000_000, 0);
    }

    #[test]
    fn the_system_clock_is_the_wall_clock_cut_to_the_millisecond() {
        let before = to_millis(OffsetDateTime::now_utc());
        let now = SystemClock.now();
        let after = to_millis(OffsetDateTime::now_utc());
        assert!((before..=after).contains(&to_millis(now)), "{now}");
        assert_eq!(
            from_millis(to_millis(now)),
            now,
            "nothing below the millisecond"
        );
        assert_eq!(now.offset(), time::UtcOffset::UTC);
    }
}
