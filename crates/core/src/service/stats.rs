//! Reading the analytics: a link's stats, the caller's stats over all their
//! links, and a link's raw visits. Stats read hourly rollups only, so their
//! cost follows the length of the range, never the number of clicks.

use std::collections::HashMap;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::account::Principal;
use crate::analytics::{hour_start, Facet, Named, StatsScope, VisitCursor, VisitRecord};
use crate::clock::Clock;
use crate::error::{Field, LinkError};
use crate::link::Link;
use crate::ports::{AnalyticsStore, LinkStore};

/// The range asked for when none is given.
pub const DEFAULT_RANGE: Duration = Duration::days(30);
/// Most buckets one answer holds: three months of hours, ten years of days.
pub const MAX_HOURS: i64 = 24 * 92;
pub const MAX_DAYS: i64 = 3660;
/// Names per breakdown, unless asked otherwise, and the most one may ask.
pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 100;
/// Raw visits per page.
pub const DEFAULT_VISITS: u32 = 100;
pub const MAX_VISITS_PAGE: u32 = 1000;

/// The width of a bucket of the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interval {
    Hour,
    #[default]
    Day,
}

impl Interval {
    fn hours(self) -> i64 {
        match self {
            Self::Hour => 1,
            Self::Day => 24,
        }
    }
}

/// A stats question as the caller asked it.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatsRequest {
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    pub interval: Interval,
    /// Names per breakdown.
    pub limit: Option<u32>,
}

/// One bucket of the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub t: OffsetDateTime,
    pub count: u64,
}

/// The answer of a stats question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    pub total: u64,
    pub humans: u64,
    pub bots: u64,
    /// Counted while the queue was full, so their detail (and whether a
    /// person or a program clicked) is not known: `total - humans - bots`.
    pub unclassified: u64,
    pub series: Vec<Bucket>,
    pub referrers: Vec<Named>,
    pub countries: Vec<Named>,
    pub browsers: Vec<Named>,
    pub os: Vec<Named>,
    pub devices: Vec<Named>,
    /// Only for questions over several links.
    pub top_links: Option<Vec<Named>>,
}

/// One page of raw visits.
#[derive(Debug, Clone)]
pub struct VisitPage {
    pub items: Vec<VisitRecord>,
    pub next: Option<VisitCursor>,
}

/// The rollups' whole hours a request covers, and its bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    /// First hour of the first bucket.
    from_hour: i64,
    /// First hour after the last bucket.
    to_hour: i64,
    interval: Interval,
}

impl Range {
    /// Buckets are whole hours or whole UTC days: `from` rounds down to
    /// its bucket's start, `to` up to its bucket's end, so every click in
    /// `[from, to)` is counted.
    fn new(req: &StatsRequest, now: OffsetDateTime) -> Result<Self, LinkError> {
        let to = req.to.unwrap_or(now);
        let from = req.from.unwrap_or(to - DEFAULT_RANGE);
        if from >= to {
            return Err(LinkError::invalid(Field::From, "from must be before to"));
        }
        let width = req.interval.hours() * 3600;
        let from_s = from.unix_timestamp().div_euclid(width) * width;
        let to_s = {
            let t = to.unix_timestamp();
            if t.rem_euclid(width) == 0 && to.nanosecond() == 0 {
                t
            } else {
                (t.div_euclid(width) + 1) * width
            }
        };
        let buckets = (to_s - from_s) / width;
        let (max, unit) = match req.interval {
            Interval::Hour => (MAX_HOURS, "hours"),
            Interval::Day => (MAX_DAYS, "days"),
        };
        if buckets > max {
            return Err(LinkError::invalid(
                Field::To,
                format!(
                    "the range spans {buckets} {unit}; at most {max} fit in one answer (ask by day, or for a shorter range)"
                ),
            ));
        }
        Ok(Self {
            from_hour: from_s / 3600,
            to_hour: to_s / 3600,
            interval: req.interval,
        })
    }
}

/// Stats and visits for callers.
#[derive(Debug, Clone)]
pub struct StatsService {
    links: Arc<dyn LinkStore>,
    analytics: Arc<dyn AnalyticsStore>,
    clock: Arc<dyn Clock>,
}

impl StatsService {
    pub fn new(
        links: Arc<dyn LinkStore>,
        analytics: Arc<dyn AnalyticsStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            links,
            analytics,
            clock,
        }
    }

    /// The service's time: ranges a caller builds ("the last 7 days") are
    /// measured from the same clock the answers are.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Stats of one link the caller may read.
    pub async fn of_link(
        &self,
        who: &Principal,
        slug: &str,
        req: &StatsRequest,
    ) -> Result<Stats, LinkError> {
        let (range, limit) = self.check(req)?;
        let link = self.readable(who, slug).await?;
        self.answer(StatsScope::Link(link.id), range, limit).await
    }

    /// Stats over every link of the caller (every link, for admins).
    pub async fn overall(&self, who: &Principal, req: &StatsRequest) -> Result<Stats, LinkError> {
        let (range, limit) = self.check(req)?;
        let scope = if who.is_admin() {
            StatsScope::All
        } else {
            StatsScope::Owner(who.user_id)
        };
        self.answer(scope, range, limit).await
    }

    /// One page of a link's raw visits, newest first.
    pub async fn visits(
        &self,
        who: &Principal,
        slug: &str,
        after: Option<VisitCursor>,
        limit: Option<u32>,
    ) -> Result<VisitPage, LinkError> {
        let limit = limit.unwrap_or(DEFAULT_VISITS);
        if !(1..=MAX_VISITS_PAGE).contains(&limit) {
            return Err(LinkError::invalid(
                Field::Limit,
                format!("limit must be between 1 and {MAX_VISITS_PAGE}"),
            ));
        }
        let link = self.readable(who, slug).await?;
        self.visits_of(&link, after, limit).await
    }

    /// One page of the raw visits of a link already checked with
    /// [`Self::readable`] (a CSV export pages through many).
    pub async fn visits_of(
        &self,
        link: &Link,
        after: Option<VisitCursor>,
        limit: u32,
    ) -> Result<VisitPage, LinkError> {
        let items = self.analytics.visits(link.id, after, limit).await?;
        let next = (items.len() == limit as usize)
            .then(|| items.last())
            .flatten()
            .map(|v| VisitCursor {
                at_ms: crate::clock::to_millis(v.detail.at),
                id: v.id,
            });
        Ok(VisitPage { items, next })
    }

    /// A link the caller may read. Another user's link answers "not
    /// found": its stats do not say it exists.
    pub async fn readable(&self, who: &Principal, slug: &str) -> Result<Link, LinkError> {
        match self.links.by_slug(slug).await? {
            Some(link) if who.may_read(link.owner_id) => Ok(link),
            _ => Err(LinkError::NotFound),
        }
    }

    fn check(&self, req: &StatsRequest) -> Result<(Range, u32), LinkError> {
        let limit = req.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(LinkError::invalid(
                Field::Limit,
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        Ok((Range::new(req, self.clock.now())?, limit))
    }

    async fn answer(
        &self,
        scope: StatsScope,
        range: Range,
        limit: u32,
    ) -> Result<Stats, LinkError> {
        let rows = self
            .analytics
            .stats(scope, range.from_hour..range.to_hour, limit)
            .await?;
        let width = range.interval.hours();
        let mut by_bucket: HashMap<i64, u64> = HashMap::new();
        let (mut total, mut humans, mut bots) = (0, 0, 0);
        for h in &rows.hours {
            total += h.total;
            humans += h.humans;
            bots += h.bots;
            *by_bucket.entry(h.hour.div_euclid(width)).or_default() += h.total;
        }
        let series = (range.from_hour / width..range.to_hour / width)
            .map(|b| Bucket {
                t: hour_start(b * width),
                count: by_bucket.get(&b).copied().unwrap_or(0),
            })
            .collect();
        let mut facets: HashMap<Facet, Vec<Named>> = rows.facets.into_iter().collect();
        let mut take = |f| facets.remove(&f).unwrap_or_default();
        Ok(Stats {
            total,
            humans,
            bots,
            unclassified: total.saturating_sub(humans + bots),
            series,
            referrers: take(Facet::Referrer),
            countries: take(Facet::Country),
            browsers: take(Facet::Browser),
            os: take(Facet::Os),
            devices: take(Facet::Device),
            top_links: (!matches!(scope, StatsScope::Link(_))).then_some(rows.top_links),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(s).expect("time")
    }

    fn range(from: i64, to: i64, interval: Interval) -> Result<Range, LinkError> {
        let req = StatsRequest {
            from: Some(at(from)),
            to: Some(at(to)),
            interval,
            limit: None,
        };
        Range::new(&req, at(0))
    }

    #[test]
    fn buckets_cover_every_second_of_the_range() {
        let day = 86_400;
        let r = range(10 * day + 5, 12 * day + 1, Interval::Day).expect("range");
        assert_eq!((r.from_hour, r.to_hour), (240, 312));
        let r = range(10 * day, 12 * day, Interval::Day).expect("range");
        assert_eq!((r.from_hour, r.to_hour), (240, 288));
        let r = range(3600 + 1, 2 * 3600 + 1, Interval::Hour).expect("range");
        assert_eq!((r.from_hour, r.to_hour), (1, 3));
    }

    #[test]
    fn empty_backwards_and_huge_ranges_are_refused() {
        assert!(matches!(
            range(100, 100, Interval::Hour),
            Err(LinkError::Invalid {
                field: Field::From,
                ..
            })
        ));
        assert!(matches!(
            range(100, 50, Interval::Day),
            Err(LinkError::Invalid {
                field: Field::From,
                ..
            })
        ));
        assert!(matches!(
            range(0, (MAX_HOURS + 1) * 3600, Interval::Hour),
            Err(LinkError::Invalid {
                field: Field::To,
                ..
            })
        ));
        assert!(range(0, MAX_HOURS * 3600, Interval::Hour).is_ok());
        assert!(range(0, MAX_DAYS * 86_400, Interval::Day).is_ok());
    }

    #[test]
    fn the_default_range_is_the_last_thirty_days() {
        let now = at(100 * 86_400 + 7);
        let r = Range::new(&StatsRequest::default(), now).expect("range");
        assert_eq!(r.to_hour, 101 * 24);
        assert_eq!(r.from_hour, 70 * 24);
    }
}
