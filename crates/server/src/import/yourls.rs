//! YOURLS, through `yourls-api.php`. Its core API has no listing call:
//! the nearest is `action=stats`, whose `filter=last` orders by creation
//! time, newest first, and pages with `limit` and `start` (YOURLS 1.6 and
//! later). Links made or deleted while it pages shift the pages, and
//! links of the same second may come in any order; the importer counts
//! what it saw against the total YOURLS reports and says when they differ.

use std::collections::HashSet;

use async_trait::async_trait;
use kurz_core::service::ImportLink;
use serde::Deserialize;
use serde_json::Value;

use super::fetch::{endpoint, source_url, Fetcher};
use super::{Entry, Source, SourceError, SourceLink, MAX_LINKS};
use crate::dates;

/// Links asked for per page.
const PAGE_SIZE: u64 = 100;

/// How to sign the requests.
#[derive(Debug)]
pub(crate) enum Credentials {
    Signature(String),
    Password { username: String, password: String },
}

#[derive(Debug)]
pub(crate) struct Yourls {
    fetcher: Fetcher,
    url: url::Url,
    credentials: Credentials,
    start: u64,
    done: bool,
    total: Option<u64>,
    /// Keywords of the previous page: a server that ignores `start`
    /// hands the same page again.
    last_page: HashSet<String>,
    start_ignored: bool,
}

impl Yourls {
    pub(crate) fn new(
        fetcher: Fetcher,
        base: &str,
        credentials: Credentials,
    ) -> Result<Self, SourceError> {
        let url = if base.ends_with(".php") {
            source_url(base)?
        } else {
            endpoint(base, "yourls-api.php")?
        };
        Ok(Self {
            fetcher,
            url,
            credentials,
            start: 0,
            done: false,
            total: None,
            last_page: HashSet::new(),
            start_ignored: false,
        })
    }
}

#[derive(Deserialize)]
struct StatsAnswer {
    /// `link_1`, `link_2`, ...; absent on an empty page.
    #[serde(default)]
    links: serde_json::Map<String, Value>,
    stats: Option<DbStats>,
}

#[derive(Deserialize)]
struct DbStats {
    total_links: Option<Value>,
}

#[derive(Deserialize)]
struct YourlsLink {
    shorturl: String,
    url: String,
    title: Option<String>,
    timestamp: Option<String>,
    clicks: Option<Value>,
}

/// YOURLS writes numbers as numbers or as strings, depending on its
/// database driver.
fn number(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The keyword of a short URL `http://sho.rt/abc` (or `abc` alone): its
/// last path segment, as YOURLS may live in a folder.
fn keyword(shorturl: &str) -> String {
    let path = shorturl.split(['?', '#']).next().unwrap_or_default();
    let last = path.rsplit('/').next().unwrap_or_default();
    percent_encoding::percent_decode_str(last)
        .decode_utf8_lossy()
        .into_owned()
}

fn entry(value: Value) -> (Option<String>, Entry) {
    let link: YourlsLink = match serde_json::from_value(value) {
        Ok(l) => l,
        Err(e) => {
            return (
                None,
                Entry::Unreadable {
                    key: "?".into(),
                    reason: format!("not a YOURLS link: {e}"),
                },
            )
        }
    };
    let slug = keyword(&link.shorturl);
    let created_at = match dates::parse(link.timestamp.as_deref().unwrap_or_default()) {
        Ok(at) => at,
        Err(reason) => return (Some(slug.clone()), Entry::Unreadable { key: slug, reason }),
    };
    let clicks = number(link.clicks.as_ref()).unwrap_or(0);
    let import = ImportLink {
        slug: slug.clone(),
        url: link.url,
        created_at,
        title: link.title.filter(|t| !t.is_empty()),
        visits: clicks,
        // YOURLS does not tell people from programs.
        human_visits: clicks,
        ..ImportLink::default()
    };
    (Some(slug), Entry::Link(SourceLink::new(import)))
}

#[async_trait]
impl Source for Yourls {
    async fn next_batch(&mut self) -> Result<Option<Vec<Entry>>, SourceError> {
        if self.done || self.start >= MAX_LINKS {
            return Ok(None);
        }
        let mut query: Vec<(&str, String)> = vec![
            ("action", "stats".into()),
            ("filter", "last".into()),
            ("limit", PAGE_SIZE.to_string()),
            ("start", self.start.to_string()),
            ("format", "json".into()),
        ];
        match &self.credentials {
            Credentials::Signature(s) => query.push(("signature", s.clone())),
            Credentials::Password { username, password } => {
                query.push(("username", username.clone()));
                query.push(("password", password.clone()));
            }
        }
        // POST keeps the credentials out of the source's access log.
        let request = self.fetcher.client().post(self.url.clone()).form(&query);
        let answer: StatsAnswer = self.fetcher.json(request).await?;
        if let Some(total) = answer.stats.and_then(|s| number(s.total_links.as_ref())) {
            self.total = u64::try_from(total).ok();
        }
        let mut page = HashSet::new();
        let mut entries = Vec::with_capacity(answer.links.len());
        for (_, value) in answer.links {
            let (slug, entry) = entry(value);
            if let Some(slug) = slug {
                page.insert(slug);
            }
            entries.push(entry);
        }
        if entries.is_empty() {
            self.done = true;
            return Ok(None);
        }
        if self.start > 0 && page == self.last_page {
            self.start_ignored = true;
            self.done = true;
            return Ok(None);
        }
        self.start += entries.len() as u64;
        if self.total.is_some_and(|t| self.start >= t) {
            self.done = true;
        }
        self.last_page = page;
        Ok(Some(entries))
    }

    fn total(&self) -> Option<u64> {
        self.total
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.start_ignored {
            notes.push(
                "this YOURLS ignores `start` in action=stats (older than 1.6?): only its newest \
                 page of links could be read"
                    .to_owned(),
            );
        }
        if let Some(total) = self.total {
            if !self.start_ignored && self.start != total {
                notes.push(format!(
                    "YOURLS reports {total} links and {} were read: links made or deleted \
                     during the import shift its pages; run it again to pick up what was \
                     missed",
                    self.start
                ));
            }
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_come_from_the_short_urls_path() {
        assert_eq!(keyword("http://sho.rt/abc"), "abc");
        assert_eq!(keyword("https://sho.rt/yourls/x%20y"), "x y");
        assert_eq!(keyword("abc"), "abc");
    }
}
