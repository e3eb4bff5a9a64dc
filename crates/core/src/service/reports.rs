//! Abuse reports: filed by anyone, listed and resolved by admins (API.md,
//! "Protection and administration"; ADR 0021).

use std::net::IpAddr;
use std::sync::Arc;

use crate::account::Principal;
use crate::clock::Clock;
use crate::error::{Field, LinkError, ReportError};
use crate::link::{Cursor, DisabledReason};
use crate::ports::ReportStore;
use crate::report::{
    reporter_network, NewReport, Report, ReportQuery, ReportReason, ReportStatus, Resolution,
    Resolve,
};
use crate::service::links::{check_limit, split_page, LinkService};

/// Longest `details`, in characters: room for a few paragraphs of
/// evidence, and a bound on what one anonymous request can store.
pub const MAX_DETAILS: usize = 2000;

/// A report as filed, its fields still to check.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    pub slug: String,
    pub reason: String,
    pub details: Option<String>,
}

#[derive(Debug)]
pub struct ReportPage {
    pub items: Vec<Report>,
    pub next: Option<Cursor>,
}

/// The ports a [`ReportService`] works through.
#[derive(Debug, Clone)]
pub struct ReportPorts {
    pub reports: Arc<dyn ReportStore>,
    pub clock: Arc<dyn Clock>,
}

/// Filing, listing and resolving reports. Disabling goes through the
/// [`LinkService`], the path every other change of a link takes, so the
/// caches of every node hear of it.
#[derive(Debug)]
pub struct ReportService {
    reports: Arc<dyn ReportStore>,
    clock: Arc<dyn Clock>,
    links: Arc<LinkService>,
}

impl ReportService {
    pub fn new(ports: ReportPorts, links: Arc<LinkService>) -> Self {
        Self {
            reports: ports.reports,
            clock: ports.clock,
            links,
        }
    }

    /// Files a report about a live link. `reporter` is kept only as its
    /// network ([`reporter_network`]).
    pub async fn file(
        &self,
        req: FileReport,
        reporter: Option<IpAddr>,
    ) -> Result<Report, ReportError> {
        let reason = ReportReason::parse(&req.reason).ok_or_else(|| {
            ReportError::invalid(
                Field::Reason,
                "the reason is one of phishing, malware, spam or other",
            )
        })?;
        let details = check_details(req.details)?;
        if req.slug.is_empty() {
            return Err(ReportError::invalid(Field::Slug, "the slug is required"));
        }
        let link = self
            .links
            .by_slug(&req.slug)
            .await?
            .ok_or(ReportError::NotFound)?;
        let report = NewReport {
            link_id: link.id,
            slug: link.slug,
            reason,
            details,
            reporter_network: reporter.map(reporter_network),
            created_at: self.clock.now(),
        };
        Ok(self.reports.insert_report(report).await?)
    }

    /// Admins: reports with `status` (default open), newest first.
    pub async fn list(
        &self,
        who: &Principal,
        status: Option<&str>,
        limit: Option<u32>,
        after: Option<Cursor>,
    ) -> Result<ReportPage, ReportError> {
        if !who.is_admin() {
            return Err(ReportError::Forbidden);
        }
        let status = match status {
            None => ReportStatus::Open,
            Some(s) => ReportStatus::parse(s).ok_or_else(|| {
                ReportError::invalid(Field::Status, "the status is open or resolved")
            })?,
        };
        let limit = check_limit(limit)?;
        let query = ReportQuery {
            status,
            limit: limit + 1,
            after,
        };
        let rows = self.reports.list_reports(&query).await?;
        let (items, next) = split_page(rows, limit, |r| (r.created_at, r.id));
        Ok(ReportPage { items, next })
    }

    /// Admins: resolves a report. `disable` disables its link for abuse
    /// (on every node at once) and closes every open report of that link;
    /// `dismiss` closes this one. Asking again for what was done is
    /// answered with the report as it stands (a retry after a lost answer
    /// is safe); asking for the other action is
    /// [`ReportError::AlreadyResolved`].
    pub async fn resolve(
        &self,
        who: &Principal,
        id: i64,
        action: &str,
    ) -> Result<Report, ReportError> {
        if !who.is_admin() || who.read_only {
            return Err(ReportError::Forbidden);
        }
        let action = Resolution::parse(action).ok_or_else(|| {
            ReportError::invalid(Field::Action, "the action is disable or dismiss")
        })?;
        let report = self.find(id).await?;
        if let Some(done) = report.resolution {
            return settled(report, done, action);
        }
        let now = self.clock.now();
        let which = match action {
            Resolution::Disable => {
                match self
                    .links
                    .disable(who, &report.slug, DisabledReason::Abuse)
                    .await
                {
                    // Deleted since the report: nothing left to disable.
                    Ok(_) | Err(LinkError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
                Resolve::OfLink(report.link_id)
            }
            Resolution::Dismiss => Resolve::One(report.id),
        };
        self.reports
            .resolve_reports(which, action, now, who.user_row())
            .await?;
        let report = self.find(id).await?;
        match report.resolution {
            // Another admin resolved it in the meantime.
            Some(done) => settled(report, done, action),
            None => Err(ReportError::Store(crate::error::StoreError::Other(
                "a resolved report is still open".into(),
            ))),
        }
    }

    async fn find(&self, id: i64) -> Result<Report, ReportError> {
        self.reports.report(id).await?.ok_or(ReportError::NotFound)
    }
}

/// A report resolved before: the same action again is no error.
fn settled(report: Report, done: Resolution, asked: Resolution) -> Result<Report, ReportError> {
    if done == asked {
        Ok(report)
    } else {
        Err(ReportError::AlreadyResolved(done.as_str()))
    }
}

/// Details are free text from a form: line breaks and tabs are kept, other
/// control characters refused; blank is none.
fn check_details(details: Option<String>) -> Result<Option<String>, ReportError> {
    let Some(text) = details else {
        return Ok(None);
    };
    let text = text.trim();
    if text.chars().count() > MAX_DETAILS
        || text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ReportError::invalid(
            Field::Details,
            format!("the details are at most {MAX_DETAILS} printable characters"),
        ));
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

#[cfg(test)]
mod tests;
