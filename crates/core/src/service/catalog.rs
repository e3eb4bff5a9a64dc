//! Searching links, their tags and their visits by numbered page: the
//! rules of who sees what, and the bounds of every question.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::account::Principal;
use crate::catalog::{
    ClickTotals, Found, SearchPage, SearchQuery, TagStat, VisitQuery, VisitScope, VisitSearchPage,
};
use crate::clock::Clock;
use crate::error::{CatalogError, Field, LinkError};
use crate::link::Link;
use crate::ports::{Catalog, LinkStore};
use crate::service::links::{check_limit, check_tag, MAX_QUERY_LEN, MAX_TAGS};

/// Most tags one listing reads: a bound on the scan behind it.
pub const MAX_TAGS_LISTED: u32 = 10_000;
/// Most crawlable links `/robots.txt` names.
pub const MAX_CRAWLABLE: u32 = 10_000;

#[derive(Debug, Clone)]
pub struct CatalogService {
    catalog: Arc<dyn Catalog>,
    links: Arc<dyn LinkStore>,
    clock: Arc<dyn Clock>,
}

/// The owner a caller's questions are narrowed to: `None` for admins.
fn scope(who: &Principal) -> Option<i64> {
    (!who.is_admin()).then_some(who.user_id)
}

impl CatalogService {
    pub fn new(
        catalog: Arc<dyn Catalog>,
        links: Arc<dyn LinkStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            catalog,
            links,
            clock,
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The caller's links (everyone's for admins) matching `query`.
    pub async fn search(
        &self,
        who: &Principal,
        mut query: SearchQuery,
    ) -> Result<SearchPage, CatalogError> {
        check_limit(Some(query.limit))?;
        if query
            .text
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_QUERY_LEN)
        {
            return Err(LinkError::invalid(Field::Query, "the search text is too long").into());
        }
        check_tag_filter(&query.tags)?;
        query.owner_id = scope(who);
        Ok(self.catalog.search(&query).await?)
    }

    /// A link with its bot clicks.
    pub async fn found(&self, link: Link) -> Result<Found, CatalogError> {
        let bots = self.catalog.bot_clicks(&[link.id]).await?;
        Ok(Found {
            bots: bots.first().map_or(0, |(_, n)| *n),
            link,
        })
    }

    /// Tags on the caller's links (everyone's for admins), by name.
    pub async fn tags(&self, who: &Principal) -> Result<Vec<TagStat>, CatalogError> {
        Ok(self.catalog.tags(scope(who), MAX_TAGS_LISTED).await?)
    }

    /// Admins: renames a tag on every link.
    pub async fn rename_tag(
        &self,
        who: &Principal,
        old: &str,
        new: &str,
    ) -> Result<(), CatalogError> {
        if !who.is_admin() || who.read_only {
            return Err(LinkError::Forbidden.into());
        }
        check_tag(new, Field::Tags)?;
        if !self.catalog.tag_exists(None, old).await? {
            return Err(CatalogError::TagNotFound);
        }
        if old != new && self.catalog.tag_exists(None, new).await? {
            return Err(CatalogError::TagTaken);
        }
        self.catalog.rename_tag(old, new, self.clock.now()).await?;
        Ok(())
    }

    /// Admins: takes tags off every link.
    pub async fn delete_tags(&self, who: &Principal, tags: &[String]) -> Result<(), CatalogError> {
        if !who.is_admin() || who.read_only {
            return Err(LinkError::Forbidden.into());
        }
        check_tag_filter(tags)?;
        self.catalog.delete_tags(tags, self.clock.now()).await?;
        Ok(())
    }

    /// Raw visits of one link the caller may read.
    pub async fn link_visits(
        &self,
        who: &Principal,
        slug: &str,
        query: VisitQuery,
    ) -> Result<VisitSearchPage, CatalogError> {
        let link = self.links.by_slug(slug).await?.ok_or(LinkError::NotFound)?;
        if !who.may_read(link.owner_id) {
            // Another user's link does not exist, as far as they can tell.
            return Err(LinkError::NotFound.into());
        }
        self.visits(VisitQuery {
            scope: VisitScope::Link(link.id),
            ..query
        })
        .await
    }

    /// Raw visits of the caller's links carrying `tag`.
    pub async fn tag_visits(
        &self,
        who: &Principal,
        tag: &str,
        query: VisitQuery,
    ) -> Result<VisitSearchPage, CatalogError> {
        let owner_id = scope(who);
        if !self.catalog.tag_exists(owner_id, tag).await? {
            return Err(CatalogError::TagNotFound);
        }
        self.visits(VisitQuery {
            scope: VisitScope::Tag {
                owner_id,
                tag: tag.to_owned(),
            },
            ..query
        })
        .await
    }

    /// Raw visits of all the caller's links.
    pub async fn all_visits(
        &self,
        who: &Principal,
        query: VisitQuery,
    ) -> Result<VisitSearchPage, CatalogError> {
        self.visits(VisitQuery {
            scope: VisitScope::Owner(scope(who)),
            ..query
        })
        .await
    }

    async fn visits(&self, query: VisitQuery) -> Result<VisitSearchPage, CatalogError> {
        check_limit(Some(query.limit))?;
        Ok(self.catalog.visit_page(&query).await?)
    }

    /// Clicks of all the caller's links.
    pub async fn totals(&self, who: &Principal) -> Result<ClickTotals, CatalogError> {
        Ok(self.catalog.click_totals(scope(who)).await?)
    }

    /// Slugs `/robots.txt` allows.
    pub async fn crawlable(&self) -> Result<Vec<String>, CatalogError> {
        Ok(self.catalog.crawlable_slugs(MAX_CRAWLABLE).await?)
    }
}

fn check_tag_filter(tags: &[String]) -> Result<(), LinkError> {
    if tags.len() > MAX_TAGS {
        return Err(LinkError::invalid(
            Field::Tag,
            format!("at most {MAX_TAGS} tags at once"),
        ));
    }
    tags.iter().try_for_each(|t| check_tag(t, Field::Tag))
}
