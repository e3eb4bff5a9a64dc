//! Creating, reading, listing, changing and deleting links.

use std::collections::HashSet;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::account::{Principal, MAX_PASSWORD_LEN};
use crate::clock::{self, Clock};
use crate::error::{Field, InsertError, LinkError, NoFreeCode};
use crate::homograph::{HostPolicy, Lookalike, LookalikeAction};
use crate::link::{
    Cursor, DisabledReason, Link, LinkChanges, LinkStatus, ListQuery, NewLink, RedirectCode,
};
use crate::ports::{IdSource, Invalidator, LinkStore, PasswordHasher};
use crate::slug::{
    is_reserved, AliasError, KeywordPolicy, KeywordVerdict, Slug, SlugCodec, MAX_CODE_LEN,
    MIN_CODE_LEN,
};
use crate::target::{TargetUrl, UrlError, UrlPolicy};

/// Most tags on one link, longest tag, longest title, longest search.
pub const MAX_TAGS: usize = 32;
pub(crate) const MAX_TAG_LEN: usize = 64;
const MAX_TITLE_LEN: usize = 512;
pub(crate) const MAX_QUERY_LEN: usize = 256;
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
    /// Look-alike target hosts: refused, or sent to review.
    pub hosts: HostPolicy,
}

/// A create request, with raw fields still to check.
#[derive(Debug, Clone, Default)]
pub struct CreateLink {
    pub url: String,
    pub alias: Option<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub max_visits: Option<i64>,
    /// In the clear; hashed here, after every other check.
    pub password: Option<String>,
    pub tags: Vec<String>,
    pub title: Option<String>,
    pub redirect_status: Option<u16>,
    pub forward_query: bool,
    pub crawlable: bool,
    pub reuse: bool,
    /// Length of a generated slug, instead of the instance's.
    pub slug_length: Option<usize>,
}

/// A change request; see [`LinkChanges`] for the meaning of the options.
#[derive(Debug, Clone, Default)]
pub struct UpdateLink {
    pub url: Option<String>,
    pub expires_at: Option<Option<OffsetDateTime>>,
    pub max_visits: Option<Option<i64>>,
    /// In the clear; `Some(None)` removes the password.
    pub password: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub title: Option<Option<String>>,
    pub redirect_status: Option<Option<u16>>,
    pub forward_query: Option<bool>,
    pub crawlable: Option<bool>,
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

/// The ports a [`LinkService`] works through.
#[derive(Debug, Clone)]
pub struct LinkPorts {
    pub links: Arc<dyn LinkStore>,
    pub ids: Arc<dyn IdSource>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
    /// Told of every write, after it is in the store.
    pub invalidator: Arc<dyn Invalidator>,
}

/// Creating, reading, listing, changing and deleting links, for a caller
/// (a [`Principal`]) and under the instance's [`LinkSettings`].
#[derive(Debug)]
pub struct LinkService {
    links: Arc<dyn LinkStore>,
    ids: Arc<dyn IdSource>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    invalidator: Arc<dyn Invalidator>,
    settings: LinkSettings,
}

impl LinkService {
    pub fn new(ports: LinkPorts, settings: LinkSettings) -> Self {
        Self {
            links: ports.links,
            ids: ports.ids,
            hasher: ports.hasher,
            clock: ports.clock,
            invalidator: ports.invalidator,
            settings,
        }
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
        let lookalike = self.lookalike(&url)?;
        let now = self.clock.now();
        let alias = req.alias.as_deref().map(Slug::parse_alias).transpose()?;
        let alias_review = match &alias {
            Some(a) => match self.settings.keywords.judge(a.as_str()) {
                KeywordVerdict::Blocked => return Err(AliasError::Blocked.into()),
                KeywordVerdict::NeedsReview => true,
                KeywordVerdict::Clean => false,
            },
            None => false,
        };
        let pending = lookalike || alias_review;
        check_expiry(req.expires_at, now)?;
        check_max_visits(req.max_visits)?;
        let tags = check_tags(req.tags)?;
        let title = check_title(req.title)?;
        check_redirect_status(req.redirect_status)?;
        let length = match req.slug_length {
            None => self.settings.slug_length,
            Some(n) if (MIN_CODE_LEN..=MAX_CODE_LEN).contains(&n) => n,
            Some(_) => {
                return Err(LinkError::invalid(
                    Field::SlugLength,
                    format!("a generated slug is {MIN_CODE_LEN} to {MAX_CODE_LEN} characters long"),
                ))
            }
        };
        if let Some(p) = &req.password {
            check_password(p)?;
        }
        if req.reuse && req.password.is_some() {
            // A password is stored salted and hashed, so an existing link's
            // cannot be compared with this one: reusing would hand back a
            // link whose password the caller did not just set.
            return Err(LinkError::invalid(
                Field::Password,
                "reusing a link cannot be combined with a password: leave out one of them",
            ));
        }
        // Last: hashing is the expensive step, spent only on a request that
        // is otherwise valid.
        let password_hash = match req.password {
            Some(p) => Some(self.hasher.hash(p).await?),
            None => None,
        };

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
            crawlable: req.crawlable,
            password_hash,
            pending,
            visits: 0,
            human_visits: 0,
        };

        if req.reuse {
            let candidates = self
                .links
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
            let id = self.ids.next_id().await?;
            let new = NewLink {
                id: to_i64(id),
                slug: alias.into_string(),
                ..template
            };
            return match self.links.insert(new).await {
                Ok(link) => Ok(self.created(link).await),
                Err(InsertError::SlugTaken) => Err(LinkError::SlugTaken),
                Err(InsertError::Store(e)) => Err(e.into()),
            };
        }

        // The secret is the store's; building the codec from it costs a few
        // integer operations. A length of the caller's own that is too
        // short for the ID falls back to the instance's.
        let secret = self.ids.slug_secret().await?;
        let codec = SlugCodec::new(&secret, length);
        let instance = SlugCodec::new(&secret, self.settings.slug_length);
        for _ in 0..MAX_SKIPS {
            let id = self.ids.next_id().await?;
            let code = codec
                .encode(id)
                .or_else(|_| instance.encode(id))
                .map_err(|e| LinkError::NoFreeCode(NoFreeCode::Exhausted(e)))?;
            if is_reserved(&code) || self.settings.keywords.judge(&code) != KeywordVerdict::Clean {
                continue;
            }
            let new = NewLink {
                id: to_i64(id),
                slug: code,
                ..template.clone()
            };
            match self.links.insert(new).await {
                Ok(link) => return Ok(self.created(link).await),
                // An alias already holds this code: move on to the next ID.
                Err(InsertError::SlugTaken) => continue,
                Err(InsertError::Store(e)) => return Err(e.into()),
            }
        }
        Err(LinkError::NoFreeCode(NoFreeCode::Skipped(MAX_SKIPS)))
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
        let limit = check_limit(limit)?;
        let q = q.filter(|q| !q.is_empty());
        if q.as_ref()
            .is_some_and(|q| q.chars().count() > MAX_QUERY_LEN)
        {
            return Err(LinkError::invalid(
                Field::Query,
                "the search text is too long",
            ));
        }
        let tag = tag.filter(|t| !t.is_empty());
        if tag
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_TAG_LEN)
        {
            return Err(LinkError::invalid(
                Field::Tag,
                format!("a tag is at most {MAX_TAG_LEN} characters"),
            ));
        }
        let query = ListQuery {
            owner_id: if who.is_admin() {
                None
            } else {
                Some(who.user_id)
            },
            limit,
            after,
            q,
            tag,
            pending_only: false,
        };
        self.page(query).await
    }

    /// Admins: links whose alias waits for review, newest first. Approve
    /// with `approved: true` in [`Self::update`], reject with
    /// [`Self::delete`].
    pub async fn review_queue(
        &self,
        who: &Principal,
        limit: Option<u32>,
        after: Option<Cursor>,
    ) -> Result<LinkPage, LinkError> {
        if !who.is_admin() {
            return Err(LinkError::Forbidden);
        }
        let query = ListQuery {
            owner_id: None,
            limit: check_limit(limit)?,
            after,
            pending_only: true,
            ..ListQuery::default()
        };
        self.page(query).await
    }

    /// One page of `query`: one row more is asked for, to know whether
    /// another page follows.
    async fn page(&self, mut query: ListQuery) -> Result<LinkPage, LinkError> {
        let limit = query.limit;
        query.limit = limit + 1;
        let items = self.links.list(&query).await?;
        let (items, next) = split_page(items, limit, |l| (l.created_at, l.id));
        Ok(LinkPage { items, next })
    }

    pub async fn update(
        &self,
        who: &Principal,
        slug: &str,
        req: UpdateLink,
    ) -> Result<Link, LinkError> {
        // A read-only key may change nothing, existing or not.
        if who.read_only {
            return Err(LinkError::Forbidden);
        }
        let link = self.find(slug).await?;
        if !who.may_write(link.owner_id) {
            return Err(LinkError::Forbidden);
        }
        if req.approved.is_some() && !who.is_admin() {
            return Err(LinkError::Forbidden);
        }
        // What the instance disabled (abuse, blocklist) only an admin may
        // enable again: otherwise the owner of a phishing link undoes the
        // admin's decision with one PATCH. Any change of `disabled` counts,
        // since one by hand clears the reason.
        if req.disabled.is_some() && link.disabled_reason.is_some() && !who.is_admin() {
            return Err(LinkError::Forbidden);
        }
        let now = self.clock.now();
        if let Some(expires) = req.expires_at {
            check_expiry(expires, now)?;
        }
        if let Some(max) = req.max_visits {
            check_max_visits(max)?;
        }
        if let Some(code) = req.redirect_status {
            check_redirect_status(code)?;
        }
        if let Some(Some(p)) = &req.password {
            check_password(p)?;
        }
        let url = req
            .url
            .map(|u| TargetUrl::parse(&u, &self.settings.url_policy))
            .transpose()?;
        // A new look-alike target goes back to review, whoever approved
        // the link before; an admin's own approval in the same request
        // stands.
        let back_to_review = match &url {
            Some(u) => self.lookalike(u)? && req.approved != Some(true),
            None => false,
        };
        let tags = req.tags.map(check_tags).transpose()?;
        let title = req.title.map(check_title).transpose()?;
        let password_hash = match req.password {
            Some(Some(p)) => Some(Some(self.hasher.hash(p).await?)),
            Some(None) => Some(None),
            None => None,
        };
        let changes = LinkChanges {
            url,
            expires_at: req.expires_at,
            max_visits: req.max_visits,
            password_hash,
            tags,
            title,
            redirect_status: req.redirect_status,
            forward_query: req.forward_query,
            crawlable: req.crawlable,
            disabled: req.disabled,
            // A disable or enable by hand is no longer the instance's.
            disabled_reason: req.disabled.map(|_| None),
            pending: if back_to_review {
                Some(true)
            } else {
                req.approved.map(|a| !a)
            },
        };
        self.apply(link.id, &changes, now).await
    }

    /// Admins (and the instance's own jobs): disables a link for `reason`,
    /// which its 410 page then names. The same write and invalidation as
    /// a `disabled` change, so every node stops redirecting at once.
    pub async fn disable(
        &self,
        who: &Principal,
        slug: &str,
        reason: DisabledReason,
    ) -> Result<Link, LinkError> {
        if !who.is_admin() || who.read_only {
            return Err(LinkError::Forbidden);
        }
        let link = self.find(slug).await?;
        let changes = LinkChanges {
            disabled: Some(true),
            disabled_reason: Some(Some(reason)),
            ..LinkChanges::default()
        };
        self.apply(link.id, &changes, self.clock.now()).await
    }

    /// Writes `changes` to the store, then tells every cache.
    async fn apply(
        &self,
        id: i64,
        changes: &LinkChanges,
        now: OffsetDateTime,
    ) -> Result<Link, LinkError> {
        let changed = self
            .links
            .update(id, changes, now)
            .await?
            .ok_or(LinkError::NotFound)?;
        self.invalidator.link_changed(&changed.slug).await;
        Ok(changed)
    }

    /// Whether a target's host is a look-alike to send to review; `Err`
    /// when such hosts are refused.
    fn lookalike(&self, url: &TargetUrl) -> Result<bool, UrlError> {
        let Some(host) = url::Url::parse(url.as_str())
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
        else {
            return Ok(false);
        };
        match self.settings.hosts.judge(&host) {
            None => Ok(false),
            Some(found) => match self.settings.hosts.action {
                LookalikeAction::Review => Ok(true),
                LookalikeAction::Refuse => Err(UrlError::Lookalike(match found {
                    Lookalike::MixedScripts => {
                        "a label mixes Latin with Cyrillic or Greek letters".into()
                    }
                    Lookalike::Imitates(domain) => format!("it looks like {domain}"),
                })),
            },
        }
    }

    /// A live link by slug, whoever asks (abuse reports are filed by
    /// anyone about any link).
    pub async fn by_slug(&self, slug: &str) -> Result<Option<Link>, LinkError> {
        Ok(self.links.by_slug(slug).await?)
    }

    pub async fn delete(&self, who: &Principal, slug: &str) -> Result<(), LinkError> {
        if who.read_only {
            return Err(LinkError::Forbidden);
        }
        let link = self.find(slug).await?;
        if !who.may_write(link.owner_id) {
            return Err(LinkError::Forbidden);
        }
        if self.links.delete(link.id, self.clock.now()).await? {
            self.invalidator.link_changed(&link.slug).await;
            Ok(())
        } else {
            Err(LinkError::NotFound)
        }
    }

    /// A new link's slug may sit in a cache as "no such link" (someone
    /// tried it before it existed): caches are told, as of any write.
    async fn created(&self, link: Link) -> Created {
        self.invalidator.link_changed(&link.slug).await;
        Created::New(link)
    }

    /// The status a link shows now.
    pub fn status(&self, link: &Link) -> LinkStatus {
        link.status(self.clock.now())
    }

    async fn find(&self, slug: &str) -> Result<Link, LinkError> {
        self.links.by_slug(slug).await?.ok_or(LinkError::NotFound)
    }
}

/// IDs come from a counter that starts at 1 and cannot pass the code space
/// (at most 62^10 < 2^63), so the conversion never saturates in practice.
fn to_i64(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

/// `rows` (read with one more than `limit` asked for) cut to the page,
/// and the cursor of the next page if that extra row came: newest-first
/// lists page by creation time and ID.
pub(crate) fn split_page<T>(
    mut rows: Vec<T>,
    limit: u32,
    key: impl Fn(&T) -> (OffsetDateTime, i64),
) -> (Vec<T>, Option<Cursor>) {
    if rows.len() <= limit as usize {
        return (rows, None);
    }
    rows.truncate(limit as usize);
    let next = rows.last().map(|row| {
        let (at, id) = key(row);
        Cursor {
            created_at_ms: clock::to_millis(at),
            id,
        }
    });
    (rows, next)
}

/// A page size asked for, or the default.
pub(crate) fn check_limit(limit: Option<u32>) -> Result<u32, LinkError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(LinkError::invalid(
            Field::Limit,
            format!("a page holds 1 to {MAX_PAGE} items"),
        ));
    }
    Ok(limit)
}

fn check_expiry(expires_at: Option<OffsetDateTime>, now: OffsetDateTime) -> Result<(), LinkError> {
    match expires_at {
        Some(at) if at <= now => Err(LinkError::invalid(
            Field::ExpiresAt,
            "the expiry must be in the future",
        )),
        _ => Ok(()),
    }
}

fn check_max_visits(max: Option<i64>) -> Result<(), LinkError> {
    match max {
        Some(m) if m < 1 => Err(LinkError::invalid(
            Field::MaxVisits,
            "the visit limit must be at least 1",
        )),
        _ => Ok(()),
    }
}

fn check_redirect_status(code: Option<u16>) -> Result<(), LinkError> {
    match code {
        Some(c) if RedirectCode::new(c).is_none() => Err(LinkError::invalid(
            Field::RedirectStatus,
            "the redirect status must be 301, 302, 307 or 308",
        )),
        _ => Ok(()),
    }
}

/// What a `reuse` request asks of an existing link. It must still redirect
/// and behave exactly as asked: the same expiry, visit limit, redirect
/// status and query forwarding, and no password (a request that leaves out
/// `max_visits` does not want a one-time link back). Labels are looser: a
/// title, if given, must match, and the link must carry the tags asked for.
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
            && want.expires_at == existing.expires_at
            && want.max_visits == existing.max_visits
            && want.redirect_status == existing.redirect_status
            && want.forward_query == existing.forward_query
            && want
                .title
                .as_ref()
                .is_none_or(|_| want.title == existing.title)
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
        check_tag(&tag, Field::Tags)?;
        if seen.insert(tag.clone()) {
            if out.len() == MAX_TAGS {
                return Err(too_many_tags());
            }
            out.push(tag);
        }
    }
    Ok(out)
}

/// One tag, as `field` carries it: 1 to [`MAX_TAG_LEN`] printable
/// characters.
pub(crate) fn check_tag(tag: &str, field: Field) -> Result<(), LinkError> {
    if tag.is_empty() || tag.chars().count() > MAX_TAG_LEN || tag.chars().any(char::is_control) {
        return Err(LinkError::invalid(
            field,
            format!("each tag is 1 to {MAX_TAG_LEN} printable characters"),
        ));
    }
    Ok(())
}

/// The error for a request with more than [`MAX_TAGS`] distinct tags.
fn too_many_tags() -> LinkError {
    LinkError::invalid(Field::Tags, format!("a link has at most {MAX_TAGS} tags"))
}

fn check_password(password: &str) -> Result<(), LinkError> {
    let chars = password.chars().count();
    if chars == 0 || chars > MAX_PASSWORD_LEN {
        return Err(LinkError::invalid(
            Field::Password,
            format!("a link password is 1 to {MAX_PASSWORD_LEN} characters long"),
        ));
    }
    Ok(())
}

fn check_title(title: Option<String>) -> Result<Option<String>, LinkError> {
    match title {
        Some(t) if t.chars().count() > MAX_TITLE_LEN || t.chars().any(|c| c.is_control()) => {
            Err(LinkError::invalid(
                Field::Title,
                format!("the title is at most {MAX_TITLE_LEN} printable characters"),
            ))
        }
        other => Ok(other),
    }
}

mod import;
pub use import::ImportLink;

#[cfg(test)]
mod tests;
