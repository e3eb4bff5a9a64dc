//! Click analytics: what a click is when the redirect path hands it over,
//! what it becomes once enriched, and the hourly rollups the store keeps.
//! The pipeline itself (queue, worker) lives in `kurz-server`; the rules
//! every part shares live here.

pub mod agent;
pub mod referrer;

use std::net::IpAddr;
use std::sync::Arc;

use time::OffsetDateTime;

/// Longest user agent kept from a click, in bytes. Real ones stay well
/// under it; the cap bounds what a queued click can weigh.
pub const MAX_USER_AGENT: usize = 512;
/// Longest `Referer` kept from a click, in bytes (only its host is used).
pub const MAX_REFERRER: usize = 512;

/// A click as the redirect path hands it over, its headers still borrowed
/// from the request: a sink copies them ([`ClickRef::to_click`]) only for
/// the clicks it keeps with their detail. Under a flood most clicks are
/// only counted, and a user agent copied to be dropped at once would cost
/// each of them an allocation and a free on the request thread.
#[derive(Debug, Clone, Copy)]
pub struct ClickRef<'a> {
    pub link_id: i64,
    pub at: OffsetDateTime,
    pub referrer: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub ip: Option<IpAddr>,
}

impl ClickRef<'_> {
    /// The click with its own copy of its headers, cut to their caps.
    pub fn to_click(self) -> Click {
        Click::new(
            self.link_id,
            self.at,
            self.referrer,
            self.user_agent,
            self.ip,
        )
    }
}

/// A click as it waits for the worker: raw, not looked at yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    pub link_id: i64,
    pub at: OffsetDateTime,
    pub referrer: Option<Box<str>>,
    pub user_agent: Option<Box<str>>,
    /// Turned into a country by the worker, then dropped: never stored.
    pub ip: Option<IpAddr>,
}

impl Click {
    /// A click with its headers cut to their caps.
    pub fn new(
        link_id: i64,
        at: OffsetDateTime,
        referrer: Option<&str>,
        user_agent: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Self {
        Self {
            link_id,
            at,
            referrer: referrer.map(|r| clip(r, MAX_REFERRER).into()),
            user_agent: user_agent.map(|u| clip(u, MAX_USER_AGENT).into()),
            ip,
        }
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn clip(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The device class of a visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    Desktop,
    Mobile,
    Tablet,
    Bot,
    Unknown,
}

impl Device {
    pub const ALL: [Self; 5] = [
        Self::Desktop,
        Self::Mobile,
        Self::Tablet,
        Self::Bot,
        Self::Unknown,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Desktop => "desktop",
            Self::Mobile => "mobile",
            Self::Tablet => "tablet",
            Self::Bot => "bot",
            Self::Unknown => "unknown",
        }
    }
}

/// The breakdowns of the stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Facet {
    Referrer,
    Country,
    Browser,
    Os,
    Device,
}

impl Facet {
    pub const ALL: [Self; 5] = [
        Self::Referrer,
        Self::Country,
        Self::Browser,
        Self::Os,
        Self::Device,
    ];

    /// How the store writes it.
    pub fn code(self) -> i64 {
        match self {
            Self::Referrer => 1,
            Self::Country => 2,
            Self::Browser => 3,
            Self::Os => 4,
            Self::Device => 5,
        }
    }
}

/// A click once the worker has looked at it: what is stored of it. There
/// is no IP here, by construction. Names are shared: a few hundred
/// distinct values stand for millions of clicks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitDetail {
    pub at: OffsetDateTime,
    /// Host of the referrer, `direct` or `unknown`.
    pub referrer: Arc<str>,
    /// ISO 3166 code, or `unknown`.
    pub country: Arc<str>,
    pub browser: Arc<str>,
    pub os: Arc<str>,
    pub device: Device,
    pub bot: bool,
    pub user_agent: Option<Box<str>>,
}

/// The hour a moment falls in, as hours since the Unix epoch (UTC).
pub fn hour_of(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(3600)
}

/// The start of an hour number.
pub fn hour_start(hour: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(hour.saturating_mul(3600))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Counts of one link in one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HourCount {
    pub link_id: i64,
    pub hour: i64,
    /// Every click, including those whose detail was dropped.
    pub total: u64,
    pub humans: u64,
    pub bots: u64,
}

/// How many clicks of one link in one hour had one value of a facet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetCount {
    pub link_id: i64,
    pub hour: i64,
    pub facet: Facet,
    pub name: Arc<str>,
    pub n: u64,
}

/// A raw visit to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVisit {
    pub link_id: i64,
    pub detail: VisitDetail,
}

/// What one transaction of a flush writes: additive counts, so nodes add
/// up without reading first. Rows are sorted by key, so two nodes'
/// flushes take row locks in one order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClickBatch {
    pub hours: Vec<HourCount>,
    pub facets: Vec<FacetCount>,
    pub visits: Vec<StoredVisit>,
}

impl ClickBatch {
    pub fn is_empty(&self) -> bool {
        self.hours.is_empty() && self.visits.is_empty()
    }

    /// Clicks per link over the batch, in link order, each link once: what
    /// its counter gains. The worker already sorts its rows, but an upsert
    /// that meets one key twice fails on PostgreSQL, so this does not rely
    /// on it.
    pub fn link_totals(&self) -> Vec<(i64, u64)> {
        let mut totals: Vec<(i64, u64)> = self.hours.iter().map(|h| (h.link_id, h.total)).collect();
        totals.sort_unstable_by_key(|&(id, _)| id);
        totals.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 += later.1;
            }
            same
        });
        totals
    }
}

/// Which links a stats question covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsScope {
    Link(i64),
    /// Every live link of this owner.
    Owner(i64),
    /// Every live link.
    All,
}

/// A count under a name: one entry of a breakdown or of `top_links`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    pub count: u64,
}

/// What the store answers for a stats question: rollups of whole hours
/// in `[from_hour, to_hour)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsRows {
    /// Hours with clicks, summed over the scope's links, in hour order.
    pub hours: Vec<HourCount>,
    /// Per facet, the `limit` names with most clicks, most first.
    pub facets: Vec<(Facet, Vec<Named>)>,
    /// The scope's links with most clicks (slug, count), most first;
    /// only asked for scopes over several links.
    pub top_links: Vec<Named>,
}

/// Where a page of raw visits starts: after the visit with this time and
/// ID (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitCursor {
    pub at_ms: i64,
    pub id: i64,
}

/// A raw visit as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitRecord {
    pub id: i64,
    pub detail: VisitDetail,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clicks_keep_capped_headers_cut_at_a_character() {
        let long = "é".repeat(400);
        let click = ClickRef {
            link_id: 1,
            at: OffsetDateTime::UNIX_EPOCH,
            referrer: Some(&long),
            user_agent: Some(&long),
            ip: None,
        }
        .to_click();
        drop(long);
        let ua = click.user_agent.expect("ua");
        assert!(ua.len() <= MAX_USER_AGENT && ua.len() >= MAX_USER_AGENT - 1);
        assert!(ua.chars().all(|c| c == 'é'));
        assert_eq!(click.referrer.expect("referrer").len(), MAX_REFERRER);
    }

    #[test]
    fn hours_are_utc_and_floor_before_the_epoch() {
        let at = OffsetDateTime::from_unix_timestamp(3 * 3600 + 3599).expect("time");
        assert_eq!(hour_of(at), 3);
        let before = OffsetDateTime::from_unix_timestamp(-1).expect("time");
        assert_eq!(hour_of(before), -1);
        assert_eq!(hour_start(3).unix_timestamp(), 10_800);
    }

    #[test]
    fn link_totals_sum_the_hours_of_each_link() {
        let batch = ClickBatch {
            hours: vec![
                HourCount {
                    link_id: 1,
                    hour: 5,
                    total: 2,
                    ..HourCount::default()
                },
                HourCount {
                    link_id: 1,
                    hour: 6,
                    total: 3,
                    ..HourCount::default()
                },
                HourCount {
                    link_id: 4,
                    hour: 5,
                    total: 1,
                    ..HourCount::default()
                },
            ],
            ..ClickBatch::default()
        };
        assert_eq!(batch.link_totals(), vec![(1, 5), (4, 1)]);
    }

    #[test]
    fn link_totals_merge_a_link_whose_hours_are_apart() {
        let hour = |link_id, total| HourCount {
            link_id,
            hour: 5,
            total,
            ..HourCount::default()
        };
        let batch = ClickBatch {
            hours: vec![hour(4, 1), hour(1, 2), hour(4, 7)],
            ..ClickBatch::default()
        };
        assert_eq!(batch.link_totals(), vec![(1, 2), (4, 8)]);
    }
}
