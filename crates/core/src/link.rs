//! Links as the domain sees them, and the shapes used to make and change them.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use time::OffsetDateTime;

use crate::target::TargetUrl;

/// The HTTP status a link redirects with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedirectCode(u16);

impl RedirectCode {
    pub const FOUND: Self = Self(302);
    pub const ALLOWED: [u16; 4] = [301, 302, 307, 308];

    pub fn new(code: u16) -> Option<Self> {
        Self::ALLOWED.contains(&code).then_some(Self(code))
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

/// Where a link stands, as shown in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    Active,
    /// The alias matched the review list; an admin has to approve it.
    Pending,
    Disabled,
    /// Past `expires_at` or at `max_visits`.
    Expired,
}

impl LinkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Disabled => "disabled",
            Self::Expired => "expired",
        }
    }
}

/// Why a link was disabled by the instance rather than by its owner. A
/// link disabled through `PATCH {"disabled": true}` has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisabledReason {
    /// An admin resolved an abuse report by disabling it.
    Abuse,
    /// Its target's domain is on the blocklist (the blocklist rescan).
    Blocklist,
}

impl DisabledReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Abuse => "abuse",
            Self::Blocklist => "blocklist",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "abuse" => Some(Self::Abuse),
            "blocklist" => Some(Self::Blocklist),
            _ => None,
        }
    }
}

/// A stored link.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// Internal numeric ID from the segment allocator; never shown.
    pub id: i64,
    pub slug: String,
    pub url: String,
    pub owner_id: Option<i64>,
    /// The owner's user name, joined in for display.
    pub owner: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub max_visits: Option<i64>,
    /// Every click, people and programs (once the click worker wrote it).
    pub visits: i64,
    /// Clicks of people, counted at once: what `max_visits` limits.
    pub human_visits: i64,
    pub tags: Vec<String>,
    pub title: Option<String>,
    /// `None` follows the instance default.
    pub redirect_status: Option<u16>,
    pub forward_query: bool,
    /// Listed as allowed in `/robots.txt`.
    pub crawlable: bool,
    /// argon2id PHC string.
    pub password_hash: Option<String>,
    pub disabled: bool,
    /// Set only while `disabled`, and only when the instance disabled it.
    pub disabled_reason: Option<DisabledReason>,
    pub pending: bool,
}

impl Link {
    /// What the redirect path keeps of this link.
    pub fn redirect_record(&self) -> RedirectRecord {
        RedirectRecord {
            id: self.id,
            url: self.url.as_str().into(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            max_visits: self.max_visits,
            human_visits: self.human_visits,
            redirect_status: self.redirect_status,
            forward_query: self.forward_query,
            has_password: self.password_hash.is_some(),
            disabled: self.disabled,
            disabled_reason: self.disabled_reason,
            pending: self.pending,
        }
    }

    pub fn status(&self, now: OffsetDateTime) -> LinkStatus {
        status(
            self.disabled,
            self.pending,
            self.expires_at,
            self.max_visits,
            self.human_visits,
            now,
        )
    }

    pub fn redirect_code(&self, default: RedirectCode) -> RedirectCode {
        self.redirect_status
            .and_then(RedirectCode::new)
            .unwrap_or(default)
    }
}

/// One rule for what every view of a link shows.
fn status(
    disabled: bool,
    pending: bool,
    expires_at: Option<OffsetDateTime>,
    max_visits: Option<i64>,
    human_visits: i64,
    now: OffsetDateTime,
) -> LinkStatus {
    if disabled {
        LinkStatus::Disabled
    } else if pending {
        LinkStatus::Pending
    } else if expires_at.is_some_and(|at| at <= now)
        || max_visits.is_some_and(|max| human_visits >= max)
    {
        LinkStatus::Expired
    } else {
        LinkStatus::Active
    }
}

/// What the redirect path needs of a link and nothing more: no password
/// hash (only whether there is one), no tags, no owner. One indexed point
/// query fills it, without joins or JSON, and caches keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectRecord {
    pub id: i64,
    pub url: Box<str>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub max_visits: Option<i64>,
    /// As of the lookup; exact only for links with `max_visits`, whose
    /// human visits are counted in the store on every visit.
    pub human_visits: i64,
    /// `None` follows the instance default.
    pub redirect_status: Option<u16>,
    pub forward_query: bool,
    pub has_password: bool,
    pub disabled: bool,
    /// Why the instance disabled it, which its 410 page says.
    pub disabled_reason: Option<DisabledReason>,
    pub pending: bool,
}

impl RedirectRecord {
    pub fn status(&self, now: OffsetDateTime) -> LinkStatus {
        status(
            self.disabled,
            self.pending,
            self.expires_at,
            self.max_visits,
            self.human_visits,
            now,
        )
    }
}

/// A link ready to insert: every field already checked.
#[derive(Debug, Clone)]
pub struct NewLink {
    pub id: i64,
    pub slug: String,
    pub url: TargetUrl,
    pub owner_id: Option<i64>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub max_visits: Option<i64>,
    pub tags: Vec<String>,
    pub title: Option<String>,
    pub redirect_status: Option<u16>,
    pub forward_query: bool,
    pub crawlable: bool,
    pub password_hash: Option<String>,
    pub pending: bool,
    /// Clicks counted elsewhere before the link came here (an import);
    /// 0 for a new link.
    pub visits: i64,
    /// The part of `visits` that were people: what `max_visits` limits.
    pub human_visits: i64,
}

/// A checked change to a link. `None` leaves a field alone; `Some(None)`
/// clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct LinkChanges {
    pub url: Option<TargetUrl>,
    pub expires_at: Option<Option<OffsetDateTime>>,
    pub max_visits: Option<Option<i64>>,
    pub password_hash: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub title: Option<Option<String>>,
    pub redirect_status: Option<Option<u16>>,
    pub forward_query: Option<bool>,
    pub crawlable: Option<bool>,
    pub disabled: Option<bool>,
    /// `Some(None)` clears the reason (an owner's or admin's own disable).
    pub disabled_reason: Option<Option<DisabledReason>>,
    pub pending: Option<bool>,
}

/// Query bytes escaped when a visitor's query is forwarded: what may not
/// stand in a URL's query (WHATWG's query set plus `{`, `}`, `|`, `\`, `^`
/// and backtick), so `Location` stays ASCII and cannot be split or bent. `%`
/// is left alone: escapes the visitor sent travel on as sent.
const QUERY_ESCAPE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^');

/// `target` with a visitor's `query` appended (before the target's own
/// fragment), percent-encoded where needed.
pub fn with_forwarded_query(target: &str, query: &str) -> String {
    let (base, fragment) = match target.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (target, None),
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut out = String::with_capacity(target.len() + query.len() + 1);
    out.push_str(base);
    out.push(sep);
    out.extend(utf8_percent_encode(query, QUERY_ESCAPE));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Where a page of the list starts: after the link with this creation time
/// and ID (the list is newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at_ms: i64,
    pub id: i64,
}

/// One page of links.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// `None` lists everyone's links (admins).
    pub owner_id: Option<i64>,
    pub limit: u32,
    pub after: Option<Cursor>,
    /// Substring of slug, URL or title.
    pub q: Option<String>,
    pub tag: Option<String>,
    /// Only links whose alias waits for review.
    pub pending_only: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_queries_are_appended_before_the_fragment_and_stay_ascii() {
        assert_eq!(
            with_forwarded_query("https://e.com/p", "a=1"),
            "https://e.com/p?a=1"
        );
        assert_eq!(
            with_forwarded_query("https://e.com/p?x=1#top", "a=1"),
            "https://e.com/p?x=1&a=1#top"
        );
        assert_eq!(
            with_forwarded_query("https://e.com/", "q=\u{fc}&s=a b\"<>`{}|^\\#"),
            "https://e.com/?q=%C3%BC&s=a%20b%22%3C%3E%60%7B%7D%7C%5E%5C%23"
        );
        assert_eq!(
            with_forwarded_query("https://e.com/", "already=%C3%BC"),
            "https://e.com/?already=%C3%BC"
        );
    }
}
