//! Redirect records as compact bytes: the form both cache levels keep
//! (Redis values, and in-process entries after their own small header). A
//! million records should cost tens of megabytes, not hundreds, so numbers
//! are LEB128 varints and absent options take no room.
//!
//! Layout, version 4 (version 1 values, from before human visits were
//! counted apart, read as misses and are refilled; version 2 values, from
//! before disabled links had a reason, are version 3 without the reason
//! byte and decode as disabled for no stated reason; version 3 values,
//! from before the record left out the click count (ADR 0033), carry a
//! `visits` varint after `human_visits`, which is skipped):
//!
//! ```text
//! 1 byte  version (4)
//! 1 byte  flags: forward_query, has_password, disabled, pending,
//!         which optional fields follow (expires_at, max_visits,
//!         redirect_status), and whether the URL starts with `https://`
//! [1 byte why it is disabled, only when the flag says disabled: 0 no
//!         reason given, 1 abuse, 2 blocklist]
//! varint  id, created_at (ms), [expires_at (ms)], [max_visits,
//!         human_visits], [redirect_status]
//! rest    the target URL (UTF-8), without its `https://`
//! ```
//!
//! "No such link" is the single byte [`ABSENT`]. Anything that does not
//! decode is treated as a miss, never as a link.

use kurz_core::clock::{from_millis, to_millis};
use kurz_core::link::{DisabledReason, RedirectRecord};

const VERSION: u8 = 4;
/// Version 3: the same with the click count.
const VERSION_WITH_VISITS: u8 = 3;
/// Version 2: version 3 without the reason byte.
const VERSION_NO_REASON: u8 = 2;
/// The value of a negative entry.
pub(crate) const ABSENT: &[u8] = &[0];

const FORWARD_QUERY: u8 = 1;
const HAS_PASSWORD: u8 = 1 << 1;
const DISABLED: u8 = 1 << 2;
const PENDING: u8 = 1 << 3;
const HAS_EXPIRY: u8 = 1 << 4;
const HAS_MAX_VISITS: u8 = 1 << 5;
const HAS_STATUS: u8 = 1 << 6;
/// The URL starts with `https://`, which is not stored: eight bytes saved on
/// nearly every link, eight megabytes a million.
const HTTPS: u8 = 1 << 7;
const HTTPS_PREFIX: &str = "https://";

/// What a cache holds for a slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cached {
    Present(RedirectRecord),
    /// Known not to exist (a negative entry).
    Absent,
}

impl Cached {
    pub(crate) fn into_option(self) -> Option<RedirectRecord> {
        match self {
            Self::Present(r) => Some(r),
            Self::Absent => None,
        }
    }
}

/// Appends the encoding of `record` (or of "absent") to `out`.
pub(crate) fn encode(record: Option<&RedirectRecord>, out: &mut Vec<u8>) {
    let Some(r) = record else {
        out.extend_from_slice(ABSENT);
        return;
    };
    let mut flags = 0;
    for (set, bit) in [
        (r.forward_query, FORWARD_QUERY),
        (r.has_password, HAS_PASSWORD),
        (r.disabled, DISABLED),
        (r.pending, PENDING),
        (r.expires_at.is_some(), HAS_EXPIRY),
        (r.max_visits.is_some(), HAS_MAX_VISITS),
        (r.redirect_status.is_some(), HAS_STATUS),
        (r.url.starts_with(HTTPS_PREFIX), HTTPS),
    ] {
        if set {
            flags |= bit;
        }
    }
    out.push(VERSION);
    out.push(flags);
    if r.disabled {
        out.push(reason_byte(r.disabled_reason));
    }
    put_varint(out, zigzag(r.id));
    put_varint(out, zigzag(to_millis(r.created_at)));
    if let Some(at) = r.expires_at {
        put_varint(out, zigzag(to_millis(at)));
    }
    if let Some(max) = r.max_visits {
        put_varint(out, zigzag(max));
        put_varint(out, zigzag(r.human_visits));
    }
    if let Some(status) = r.redirect_status {
        put_varint(out, u64::from(status));
    }
    let url = r.url.strip_prefix(HTTPS_PREFIX).unwrap_or(&r.url);
    out.extend_from_slice(url.as_bytes());
}

/// The record in `bytes`; `None` when they are not a valid encoding.
pub(crate) fn decode(bytes: &[u8]) -> Option<Cached> {
    if bytes == ABSENT {
        return Some(Cached::Absent);
    }
    let (&version, rest) = bytes.split_first()?;
    if ![VERSION, VERSION_WITH_VISITS, VERSION_NO_REASON].contains(&version) {
        return None;
    }
    let (&flags, mut rest) = rest.split_first()?;
    let disabled_reason = if version != VERSION_NO_REASON && flags & DISABLED != 0 {
        let (&why, after) = rest.split_first()?;
        rest = after;
        reason_of(why)?
    } else {
        None
    };
    let mut next = || -> Option<u64> {
        let (value, used) = get_varint(rest)?;
        rest = &rest[used..];
        Some(value)
    };
    let id = unzigzag(next()?);
    let created_at = from_millis(unzigzag(next()?));
    let expires_at = if flags & HAS_EXPIRY != 0 {
        Some(from_millis(unzigzag(next()?)))
    } else {
        None
    };
    let (max_visits, human_visits) = if flags & HAS_MAX_VISITS != 0 {
        (Some(unzigzag(next()?)), unzigzag(next()?))
    } else {
        (None, 0)
    };
    if version != VERSION {
        next()?;
    }
    let redirect_status = if flags & HAS_STATUS != 0 {
        Some(u16::try_from(next()?).ok()?)
    } else {
        None
    };
    let rest = std::str::from_utf8(rest).ok()?;
    let url = if flags & HTTPS != 0 {
        let mut url = String::with_capacity(HTTPS_PREFIX.len() + rest.len());
        url.push_str(HTTPS_PREFIX);
        url.push_str(rest);
        url.into_boxed_str()
    } else {
        rest.into()
    };
    Some(Cached::Present(RedirectRecord {
        id,
        url,
        created_at,
        expires_at,
        max_visits,
        human_visits,
        redirect_status,
        forward_query: flags & FORWARD_QUERY != 0,
        has_password: flags & HAS_PASSWORD != 0,
        disabled: flags & DISABLED != 0,
        disabled_reason,
        pending: flags & PENDING != 0,
    }))
}

fn reason_byte(reason: Option<DisabledReason>) -> u8 {
    match reason {
        None => 0,
        Some(DisabledReason::Abuse) => 1,
        Some(DisabledReason::Blocklist) => 2,
    }
}

/// `None` (outer) for a byte no version wrote: not a valid encoding.
fn reason_of(byte: u8) -> Option<Option<DisabledReason>> {
    match byte {
        0 => Some(None),
        1 => Some(Some(DisabledReason::Abuse)),
        2 => Some(Some(DisabledReason::Blocklist)),
        _ => None,
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The value and how many bytes it took; `None` past the end or past
/// 64 bits.
fn get_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// A plain link, as tests of the caches fill them.
#[cfg(test)]
pub(crate) fn plain_record(id: i64) -> RedirectRecord {
    RedirectRecord {
        id,
        url: format!("https://example.com/{id}").into(),
        created_at: from_millis(1_700_000_000_000),
        expires_at: None,
        max_visits: None,
        human_visits: 0,
        redirect_status: None,
        forward_query: false,
        has_password: false,
        disabled: false,
        disabled_reason: None,
        pending: false,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::OffsetDateTime;

    use super::*;

    fn record() -> RedirectRecord {
        RedirectRecord {
            url: "https://example.com/page/1?q=\u{fc}".into(),
            created_at: from_millis(1_700_000_000_123),
            ..plain_record(123_456)
        }
    }

    #[test]
    fn a_plain_record_takes_a_few_bytes_beyond_its_url() {
        let mut out = Vec::new();
        encode(Some(&record()), &mut out);
        assert!(
            out.len() <= record().url.len() + 14 - 8,
            "{} bytes",
            out.len()
        );
        assert_eq!(decode(&out), Some(Cached::Present(record())));
    }

    #[test]
    fn absent_and_foreign_bytes_decode_as_such() {
        let mut out = Vec::new();
        encode(None, &mut out);
        assert_eq!(decode(&out), Some(Cached::Absent));
        assert_eq!(decode(&[]), None);
        assert_eq!(decode(&[9, 0]), None, "an unknown version");
        assert_eq!(decode(&[VERSION, 0, 0x80]), None, "a cut varint");
        let mut out = Vec::new();
        encode(Some(&record()), &mut out);
        let last = out.len() - 1;
        out[last] = 0xff;
        assert_eq!(decode(&out), None, "not UTF-8");
    }

    proptest! {
        #[test]
        fn every_record_round_trips(
            id in any::<i64>(),
            created in -10_000_000_000_000i64..10_000_000_000_000,
            expires in proptest::option::of(-10_000_000_000_000i64..10_000_000_000_000),
            max_visits in proptest::option::of(any::<i64>()),
            human_visits in any::<i64>(),
            status in proptest::option::of(any::<u16>()),
            flags in any::<[bool; 4]>(),
            reason in proptest::option::of(any::<bool>()),
            https in any::<bool>(),
            url in "\\PC{0,80}",
        ) {
            let url = if https { format!("https://{url}") } else { url };
            let r = RedirectRecord {
                id,
                url: url.into(),
                created_at: from_millis(created),
                expires_at: expires.map(from_millis),
                max_visits,
                human_visits: if max_visits.is_some() { human_visits } else { 0 },
                redirect_status: status,
                forward_query: flags[0],
                has_password: flags[1],
                disabled: flags[2],
                // A reason only ever stands beside `disabled`.
                disabled_reason: reason
                    .filter(|_| flags[2])
                    .map(|abuse| if abuse { DisabledReason::Abuse } else { DisabledReason::Blocklist }),
                pending: flags[3],
            };
            let mut out = Vec::new();
            encode(Some(&r), &mut out);
            prop_assert_eq!(decode(&out), Some(Cached::Present(r)));
        }
    }

    /// `out`, a disabled link's record of version 4 with no expiry and no
    /// limit, as `version` 3 or 2 wrote it: with a click count after the
    /// two times, and for version 2 without the reason byte.
    fn as_older(out: &[u8], version: u8) -> Vec<u8> {
        let mut at = 3;
        for _ in 0..2 {
            at += get_varint(&out[at..]).expect("a varint").1;
        }
        let mut old = vec![version, out[1]];
        if version == VERSION_WITH_VISITS {
            old.push(out[2]);
        }
        old.extend_from_slice(&out[3..at]);
        put_varint(&mut old, zigzag(7));
        old.extend_from_slice(&out[at..]);
        old
    }

    #[test]
    fn a_disabled_records_reason_survives_and_older_versions_still_decode() {
        let r = RedirectRecord {
            disabled: true,
            disabled_reason: Some(DisabledReason::Abuse),
            ..record()
        };
        let mut out = Vec::new();
        encode(Some(&r), &mut out);
        assert_eq!(decode(&out), Some(Cached::Present(r.clone())));
        // What nodes of the previous versions wrote: a click count, and
        // before that no reason byte.
        let v3 = as_older(&out, VERSION_WITH_VISITS);
        assert_eq!(decode(&v3), Some(Cached::Present(r.clone())));
        let v2 = as_older(&out, VERSION_NO_REASON);
        let old = RedirectRecord {
            disabled_reason: None,
            ..r
        };
        assert_eq!(decode(&v2), Some(Cached::Present(old)));
        let mut unknown = out.clone();
        unknown[2] = 9;
        assert_eq!(decode(&unknown), None, "a reason no version wrote");
    }

    #[test]
    fn time_survives_at_millisecond_precision() {
        let at = OffsetDateTime::UNIX_EPOCH + time::Duration::milliseconds(-1);
        let r = RedirectRecord {
            expires_at: Some(at),
            ..record()
        };
        let mut out = Vec::new();
        encode(Some(&r), &mut out);
        assert_eq!(decode(&out), Some(Cached::Present(r)));
    }
}
