//! Following a link: the use case behind `GET /{slug}`.

use std::sync::Arc;

use crate::error::StoreError;
use crate::link::{self, Link, LinkStatus};
use crate::ports::{ClickSink, LinkRepo};
use crate::slug::MAX_ALIAS_LEN;

/// What a slug leads to.
#[derive(Debug)]
pub enum Resolution {
    NotFound,
    /// Expired, disabled, pending review or at its visit limit.
    Gone,
    /// Needs the link's password before it redirects.
    Protected(Link),
    Redirect(Link),
}

#[derive(Debug, Clone)]
pub struct Redirector {
    repo: Arc<dyn LinkRepo>,
    clicks: Arc<dyn ClickSink>,
}

impl Redirector {
    pub fn new(repo: Arc<dyn LinkRepo>, clicks: Arc<dyn ClickSink>) -> Self {
        Self { repo, clicks }
    }

    /// Looks a slug up without counting anything.
    pub async fn resolve(&self, slug: &str) -> Result<Resolution, StoreError> {
        // Text that can never be a slug costs no store query.
        if !could_be_slug(slug) {
            return Ok(Resolution::NotFound);
        }
        let Some(link) = self.repo.resolve(slug).await? else {
            return Ok(Resolution::NotFound);
        };
        Ok(match link.status(link::now()) {
            LinkStatus::Active if link.password_hash.is_some() => Resolution::Protected(link),
            LinkStatus::Active => Resolution::Redirect(link),
            LinkStatus::Pending | LinkStatus::Disabled | LinkStatus::Expired => Resolution::Gone,
        })
    }

    /// Counts one visit. For a link with a visit limit this is an atomic
    /// conditional increment in the store and `false` means the limit was
    /// reached by someone else first; other links are counted in the
    /// background and never wait.
    pub async fn count_visit(&self, link: &Link) -> Result<bool, StoreError> {
        if link.max_visits.is_some() {
            self.repo.take_visit(link.id).await
        } else {
            self.clicks.record(link.id);
            Ok(true)
        }
    }
}

/// Generated codes and aliases share the alias alphabet and length bound.
pub fn could_be_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ALIAS_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
