//! Finding links and their visits the way a catalog does: numbered pages
//! with a total, several orders, tag sets and date ranges. The API of
//! `/api/v1` pages by cursor; this serves callers that need a page number
//! and a count (Shlink's REST API and its clients).

use time::OffsetDateTime;

use crate::analytics::VisitRecord;
use crate::link::Link;

/// What a search orders links by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchOrder {
    #[default]
    Created,
    Slug,
    Url,
    Title,
    /// Every click.
    Visits,
    /// Clicks of people (every click less the bots').
    HumanVisits,
}

/// One page of a link search. Every condition narrows it.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// `None` searches everyone's links (admins).
    pub owner_id: Option<i64>,
    /// Substring of the slug, the target, the title or a tag.
    pub text: Option<String>,
    /// Links carrying any of these tags (all of them with `all_tags`).
    pub tags: Vec<String>,
    pub all_tags: bool,
    pub created_from: Option<OffsetDateTime>,
    pub created_to: Option<OffsetDateTime>,
    /// Leaves out links whose visit limit is reached.
    pub exclude_used_up: bool,
    /// Leaves out links that expired at or before this time.
    pub exclude_expired_at: Option<OffsetDateTime>,
    pub order: SearchOrder,
    pub descending: bool,
    pub offset: u64,
    pub limit: u32,
}

/// A link as a search finds it, with its bot clicks (the rollups').
#[derive(Debug, Clone)]
pub struct Found {
    pub link: Link,
    pub bots: i64,
}

/// One page and how many links match in all.
#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    pub items: Vec<Found>,
    pub total: u64,
}

/// A tag and what carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagStat {
    pub tag: String,
    pub links: u64,
    pub visits: u64,
    pub bots: u64,
}

/// Whose visits a visit query reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VisitScope {
    Link(i64),
    /// Links carrying this tag, of one owner or (`None`) everyone's.
    Tag {
        owner_id: Option<i64>,
        tag: String,
    },
    /// Every link of one owner or (`None`) everyone's.
    Owner(Option<i64>),
}

/// One numbered page of raw visits, newest first.
#[derive(Debug, Clone)]
pub struct VisitQuery {
    pub scope: VisitScope,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    pub exclude_bots: bool,
    pub offset: u64,
    pub limit: u32,
}

/// A raw visit and the slug of its link.
#[derive(Debug, Clone)]
pub struct FoundVisit {
    pub slug: String,
    pub visit: VisitRecord,
}

#[derive(Debug, Clone, Default)]
pub struct VisitSearchPage {
    pub items: Vec<FoundVisit>,
    pub total: u64,
}

/// Clicks of a scope: every one, and the bots'.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClickTotals {
    pub total: u64,
    pub bots: u64,
}
