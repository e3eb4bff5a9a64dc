//! Links brought over from another shortener (`kurz import --from`): the
//! same target, slug and label rules as [`LinkService::create`], but the
//! slug is the source's, and the dates and visit counts are its history.

use time::OffsetDateTime;

use super::{check_max_visits, check_tags, check_title, to_i64, LinkService};
use crate::account::Principal;
use crate::error::{InsertError, LinkError};
use crate::link::{Link, NewLink};
use crate::slug::{AliasError, KeywordVerdict, Slug};
use crate::target::TargetUrl;

/// A link as another service held it, with raw fields still to check.
#[derive(Debug, Clone, Default)]
pub struct ImportLink {
    pub slug: String,
    pub url: String,
    /// `None`: now.
    pub created_at: Option<OffsetDateTime>,
    /// May lie in the past: the link is then imported expired, so its
    /// slug answers 410 here as it stopped redirecting there.
    pub expires_at: Option<OffsetDateTime>,
    pub max_visits: Option<i64>,
    pub tags: Vec<String>,
    pub title: Option<String>,
    pub forward_query: bool,
    /// Listed as allowed in `/robots.txt`.
    pub crawlable: bool,
    pub visits: i64,
    /// The people among `visits` (what `max_visits` counts).
    pub human_visits: i64,
}

impl LinkService {
    /// The target a link to `url` would get here, or why it would be
    /// refused: lets an importer compare a source link with one already
    /// stored under the same slug.
    pub fn normalise_target(&self, url: &str) -> Result<String, LinkError> {
        Ok(TargetUrl::parse(url, &self.settings.url_policy)?.into_string())
    }

    /// Creates `req` under its own slug for `owner`. A slug already held
    /// (by a live or a deleted link) is [`LinkError::SlugTaken`]; the
    /// caller decides whether that link is this one.
    pub async fn import(
        &self,
        owner: Option<&Principal>,
        req: ImportLink,
    ) -> Result<Link, LinkError> {
        if owner.is_some_and(|p| p.read_only) {
            return Err(LinkError::Forbidden);
        }
        let url = TargetUrl::parse(&req.url, &self.settings.url_policy)?;
        let lookalike = self.lookalike(&url)?;
        let slug = Slug::parse_alias(&req.slug)?;
        let review = match self.settings.keywords.judge(slug.as_str()) {
            KeywordVerdict::Blocked => return Err(AliasError::Blocked.into()),
            KeywordVerdict::NeedsReview => true,
            KeywordVerdict::Clean => false,
        };
        check_max_visits(req.max_visits)?;
        // Counts are the source's history, not a request to refuse: odd
        // ones (negative, more people than visits) are brought in range.
        let visits = req.visits.max(0);
        let human_visits = req.human_visits.clamp(0, visits);
        let tags = check_tags(req.tags)?;
        let title = check_title(req.title)?;
        let now = self.clock.now();
        // A clock ahead at the source must not date a link in the future,
        // where it would sort above everything made here since.
        let created_at = req.created_at.filter(|at| *at <= now).unwrap_or(now);
        let id = self.ids.next_id().await?;
        let new = NewLink {
            id: to_i64(id),
            slug: slug.into_string(),
            url,
            owner_id: owner.map(|p| p.user_id),
            created_at,
            expires_at: req.expires_at,
            max_visits: req.max_visits,
            tags,
            title,
            redirect_status: None,
            forward_query: req.forward_query,
            crawlable: req.crawlable,
            password_hash: None,
            pending: lookalike || review,
            visits,
            human_visits,
        };
        match self.links.insert(new).await {
            Ok(link) => {
                // The slug may sit in a cache as "no such link".
                self.invalidator.link_changed(&link.slug).await;
                Ok(link)
            }
            Err(InsertError::SlugTaken) => Err(LinkError::SlugTaken),
            Err(InsertError::Store(e)) => Err(e.into()),
        }
    }
}
