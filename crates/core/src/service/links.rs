//! Creating, reading, listing, changing and deleting links.

use std::collections::HashSet;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::account::Principal;
use crate::error::{InsertError, LinkError};
use crate::link::{self, Cursor, Link, LinkChanges, LinkStatus, ListQuery, NewLink, RedirectCode};
use crate::ports::LinkRepo;
use crate::slug::{is_reserved, KeywordPolicy, KeywordVerdict, Slug, SlugCodec};
use crate::target::{TargetUrl, UrlPolicy};

/// Most tags on one link, longest tag, longest title, longest search.
pub const MAX_TAGS: usize = 32;
const MAX_TAG_LEN: usize = 64;
const MAX_TITLE_LEN: usize = 512;
const MAX_QUERY_LEN: usize = 256;
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 1000;

/// How many generated codes in a row may be skipped (taken by an alias, or a
/// reserved or blocked word) before giving up. Reaching it means something
/// is badly wrong, not bad luck.
const MAX_SKIPS: usize = 64;

/// The instance settings the link use cases follow.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// Length of generated slugs.
    pub slug_length: usize,
    pub default_redirect: RedirectCode,
    pub url_policy: UrlPolicy,
    pub keywords: KeywordPolicy,
}

/// A create request, with raw fields still to check. The password, if any,
/// is already hashed: hashing is CPU work the caller schedules.
#[derive(Debug, Clone, Default)]
pub struct CreateLink {
    pub url: String,
    pub alias: Option<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub max_visits: Option<i64>,
    pub password_hash: Option<String>,
    pub tags: Vec<String>,
    pub title: Option<String>,
    pub redirect_status: Option<u16>,
    pub forward_query: bool,
    pub reuse: bool,
}

/// A change request; see [`LinkChanges`] for the meaning of the options.
#[derive(Debug, Clone, Default)]
pub struct UpdateLink {
    pub url: Option<String>,
    pub expires_at: Option<Option<OffsetDateTime>>,
    pub max_visits: Option<Option<i64>>,
    pub password_hash: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub title: Option<Option<String>>,
    pub redirect_status: Option<Option<u16>>,
    pub forward_query: Option<bool>,
    pub disabled: Option<bool>,
    /// Admins only: approve (or send back to review) an alias from the
    /// review list.
    pub approved: Option<bool>,
}

#[derive(Debug)]
pub enum Created {
    New(Link),
    /// `reuse` found the caller's existing link to the same URL.
    Existing(Link),
}

#[derive(Debug)]
pub struct LinkPage {
    pub items: Vec<Link>,
    pub next: Option<Cursor>,
}

#[derive(Debug)]
pub struct LinkService {
    repo: Arc<dyn LinkRepo>,
    settings: LinkSettings,
}

impl LinkService {
    pub fn new(repo: Arc<dyn LinkRepo>, settings: LinkSettings) -> Self {
        Self { repo, settings }
    }

    pub fn settings(&self) -> &LinkSettings {
        &self.settings
    }

    /// Creates a link for `owner` (`None`: anonymous or the CLI).
    pub async fn create(
        &self,
        owner: Option<&Principal>,
        req: CreateLink,
    ) -> Result<Created, LinkError> {
        if owner.is_some_and(|p| p.read_only) {
            return Err(LinkError::Forbidden);
        }
        let owner_id = owner.map(|p| p.user_id);
        let url = TargetUrl::parse(&req.url, &self.settings.url_policy)?;
        let now = link::now();
        let alias = req.alias.as_deref().map(Slug::parse_alias).transpose()?;
        let pending = match &alias {
            Some(a) => match self.settings.keywords.judge(a.as_str()) {
                KeywordVerdict::Blocked => return Err(crate::slug::AliasError::Blocked.into()),
                KeywordVerdict::NeedsReview => true,
                KeywordVerdict::Clean => false,
            },
            None => false,
        };
        check_expiry(req.expires_at, now)?;
        check_max_visits(req.max_visits)?;
        let tags = check_tags(req.tags)?;
        let title = check_title(req.title)?;
        check_redirect_status(req.redirect_status)?;

        if req.reuse && req.password_hash.is_some() {
            // A password is stored salted and hashed, so an existing link's
            // cannot be compared with this one: reusing would hand back a
            // link whose password the caller did not just set.
            return Err(LinkError::field(
                "password",
                "reuse cannot be combined with password: leave out one of them",
            ));
        }

        let template = NewLink {
            id: 0,
            slug: String::new(),
            url,
            owner_id,
            created_at: now,
            expires_at: req.expires_at,
            max_visits: req.max_visits,
            tags,
            title,
            redirect_status: req.redirect_status,
            forward_query: req.forward_query,
            password_hash: req.password_hash,
            pending,
        };

        if req.reuse {
            let candidates = self
                .repo
                .by_owner_and_url(owner_id, template.url.as_str())
                .await?;
            let wanted = Reuse {
                slug: alias.as_ref().map(Slug::as_str),
                link: &template,
            };
            if let Some(existing) = candidates.into_iter().find(|l| wanted.matches(l, now)) {
                return Ok(Created::Existing(existing));
            }
        }

        if let Some(alias) = alias {
            let id = self.repo.next_id().await?;
            let new = NewLink {
                id: to_i64(id),
                slug: alias.into_string(),
                ..template
            };
            return match self.repo.insert(new).await {
                Ok(link) => Ok(Created::New(link)),
                Err(InsertError::SlugTaken) => Err(LinkError::SlugTaken),
                Err(InsertError::Store(e)) => Err(e.into()),
            };
        }

        // The secret is the store's; building the codec from it costs a few
        // integer operations.
        let codec = SlugCodec::new(&self.repo.slug_secret().await?, self.settings.slug_length);
        for _ in 0..MAX_SKIPS {
            let id = self.repo.next_id().await?;
            let code = codec.encode(id)?;
            if is_reserved(&code) || self.settings.keywords.judge(&code) != KeywordVerdict::Clean {
                continue;
            }
            let new = NewLink {
                id: to_i64(id),
                slug: code,
                ..template.clone()
            };
            match self.repo.insert(new).await {
                Ok(link) => return Ok(Created::New(link)),
                // An alias already holds this code: move on to the next ID.
                Err(InsertError::SlugTaken) => continue,
                Err(InsertError::Store(e)) => return Err(e.into()),
            }
        }
        Err(LinkError::Store(crate::error::StoreError::Other(
            "too many generated codes in a row were already taken".into(),
        )))
    }

    /// A link the caller may read.
    pub async fn get(&self, who: &Principal, slug: &str) -> Result<Link, LinkError> {
        let link = self.find(slug).await?;
        if !who.may_read(link.owner_id) {
            return Err(LinkError::Forbidden);
        }
        Ok(link)
    }

    pub async fn list(
        &self,
        who: &Principal,
        limit: Option<u32>,
        after: Option<Cursor>,
        q: Option<String>,
        tag: Option<String>,
    ) -> Result<LinkPage, LinkError> {
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(LinkError::field(
                "limit",
                format!("limit must be between 1 and {MAX_PAGE}"),
            ));
        }
        let q = q.filter(|q| !q.is_empty());
        if q.as_ref()
            .is_some_and(|q| q.chars().count() > MAX_QUERY_LEN)
        {
            return Err(LinkError::field("q", "the search text is too long"));
        }
        let query = ListQuery {
            owner_id: if who.is_admin() {
                None
            } else {
                Some(who.user_id)
            },
            limit: limit + 1,
            after,
            q,
            tag: tag.filter(|t| !t.is_empty()),
        };
        let mut items = self.repo.list(&query).await?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|l| Cursor {
                created_at_ms: link::to_millis(l.created_at),
                id: l.id,
            })
        } else {
            None
        };
        Ok(LinkPage { items, next })
    }

    pub async fn update(
        &self,
        who: &Principal,
        slug: &str,
        req: UpdateLink,
    ) -> Result<Link, LinkError> {
        let link = self.find(slug).await?;
        if !who.may_write(link.owner_id) {
            return Err(LinkError::Forbidden);
        }
        if req.approved.is_some() && !who.is_admin() {
            return Err(LinkError::Forbidden);
        }
        let now = link::now();
        if let Some(expires) = req.expires_at {
            check_expiry(expires, now)?;
        }
        if let Some(max) = req.max_visits {
            check_max_visits(max)?;
        }
        if let Some(code) = req.redirect_status {
            check_redirect_status(code)?;
        }
        let changes = LinkChanges {
            url: req
                .url
                .map(|u| TargetUrl::parse(&u, &self.settings.url_policy))
                .transpose()?,
            expires_at: req.expires_at,
            max_visits: req.max_visits,
            password_hash: req.password_hash,
            tags: req.tags.map(check_tags).transpose()?,
            title: req.title.map(check_title).transpose()?,
            redirect_status: req.redirect_status,
            forward_query: req.forward_query,
            disabled: req.disabled,
            pending: req.approved.map(|a| !a),
        };
        self.repo
            .update(link.id, &changes, now)
            .await?
            .ok_or(LinkError::NotFound)
    }

    pub async fn delete(&self, who: &Principal, slug: &str) -> Result<(), LinkError> {
        let link = self.find(slug).await?;
        if !who.may_write(link.owner_id) {
            return Err(LinkError::Forbidden);
        }
        if self.repo.delete(link.id, link::now()).await? {
            Ok(())
        } else {
            Err(LinkError::NotFound)
        }
    }

    async fn find(&self, slug: &str) -> Result<Link, LinkError> {
        self.repo.by_slug(slug).await?.ok_or(LinkError::NotFound)
    }
}

/// IDs come from a counter that starts at 1 and cannot pass the code space
/// (at most 62^10 < 2^63), so the conversion never saturates in practice.
fn to_i64(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

fn check_expiry(expires_at: Option<OffsetDateTime>, now: OffsetDateTime) -> Result<(), LinkError> {
    match expires_at {
        Some(at) if at <= now => Err(LinkError::field(
            "expires_at",
            "expires_at must be in the future",
        )),
        _ => Ok(()),
    }
}

fn check_max_visits(max: Option<i64>) -> Result<(), LinkError> {
    match max {
        Some(m) if m < 1 => Err(LinkError::field(
            "max_visits",
            "max_visits must be at least 1",
        )),
        _ => Ok(()),
    }
}

fn check_redirect_status(code: Option<u16>) -> Result<(), LinkError> {
    match code {
        Some(c) if RedirectCode::new(c).is_none() => Err(LinkError::field(
            "redirect_status",
            "redirect_status must be 301, 302, 307 or 308",
        )),
        _ => Ok(()),
    }
}

/// What a `reuse` request asks of an existing link: every option the
/// request sets must be the link's too, and the link must still redirect.
/// Options the request leaves out do not matter, as in Shlink's
/// `findIfExists`.
struct Reuse<'a> {
    slug: Option<&'a str>,
    link: &'a NewLink,
}

impl Reuse<'_> {
    fn matches(&self, existing: &Link, now: OffsetDateTime) -> bool {
        let want = self.link;
        existing.status(now) == LinkStatus::Active
            && existing.password_hash.is_none()
            && self.slug.is_none_or(|s| s == existing.slug)
            && want
                .expires_at
                .is_none_or(|_| want.expires_at == existing.expires_at)
            && want
                .max_visits
                .is_none_or(|_| want.max_visits == existing.max_visits)
            && want
                .title
                .as_ref()
                .is_none_or(|_| want.title == existing.title)
            && want
                .redirect_status
                .is_none_or(|_| want.redirect_status == existing.redirect_status)
            && want.forward_query == existing.forward_query
            && want.tags.iter().all(|t| existing.tags.contains(t))
    }
}

fn check_tags(tags: Vec<String>) -> Result<Vec<String>, LinkError> {
    // A request may carry any number of tags (the HTTP edge bounds the
    // array); de-duplicating in linear time keeps that cheap.
    let mut seen = HashSet::with_capacity(tags.len().min(MAX_TAGS * 2));
    let mut out: Vec<String> = Vec::with_capacity(tags.len().min(MAX_TAGS + 1));
    for tag in tags {
        let tag = tag.trim().to_owned();
        let bad = tag.is_empty()
            || tag.chars().count() > MAX_TAG_LEN
            || tag.chars().any(|c| c.is_control());
        if bad {
            return Err(LinkError::field(
                "tags",
                format!("each tag is 1 to {MAX_TAG_LEN} printable characters"),
            ));
        }
        if seen.insert(tag.clone()) {
            if out.len() == MAX_TAGS {
                return Err(too_many_tags());
            }
            out.push(tag);
        }
    }
    Ok(out)
}

/// The error for a request with more than [`MAX_TAGS`] distinct tags.
pub fn too_many_tags() -> LinkError {
    LinkError::field("tags", format!("a link has at most {MAX_TAGS} tags"))
}

fn check_title(title: Option<String>) -> Result<Option<String>, LinkError> {
    match title {
        Some(t) if t.chars().count() > MAX_TITLE_LEN || t.chars().any(|c| c.is_control()) => {
            Err(LinkError::field(
                "title",
                format!("the title is at most {MAX_TITLE_LEN} printable characters"),
            ))
        }
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_and_deduplicated() {
        let tags = check_tags(vec![" a ".into(), "a".into(), "b".into()]).expect("valid");
        assert_eq!(tags, vec!["a", "b"]);
    }

    #[test]
    fn bad_fields_name_themselves() {
        let field_of = |e: LinkError| match e {
            LinkError::Field { field, .. } => field,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(
            field_of(check_tags(vec![String::new()]).unwrap_err()),
            "tags"
        );
        assert_eq!(
            field_of(check_max_visits(Some(0)).unwrap_err()),
            "max_visits"
        );
        assert_eq!(
            field_of(check_redirect_status(Some(303)).unwrap_err()),
            "redirect_status"
        );
        let past = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(
            field_of(check_expiry(Some(past), link::now()).unwrap_err()),
            "expires_at"
        );
        assert_eq!(
            field_of(check_title(Some("a\nb".into())).unwrap_err()),
            "title"
        );
    }
}
