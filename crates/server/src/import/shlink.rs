//! Shlink, through its REST API v3: `GET /rest/v3/short-urls` paged with
//! `page` and `itemsPerPage`, authenticated with `X-Api-Key`.

use async_trait::async_trait;
use kurz_core::service::ImportLink;
use serde::Deserialize;
use serde_json::Value;

use super::fetch::{endpoint, Fetcher};
use super::{Entry, Source, SourceError, SourceLink, MAX_LINKS};
use crate::dates;

/// Links asked for per page.
const PAGE_SIZE: u32 = 100;

#[derive(Debug)]
pub(crate) struct Shlink {
    fetcher: Fetcher,
    url: url::Url,
    api_key: String,
    /// The next page to ask for; `None` once the last one was read.
    next: Option<u64>,
    total: Option<u64>,
    read: u64,
    other_domains: u64,
}

impl Shlink {
    pub(crate) fn new(fetcher: Fetcher, base: &str, api_key: String) -> Result<Self, SourceError> {
        // The server's address, with or without the API's path.
        let base = base.trim_end_matches('/');
        let base = base.strip_suffix("/rest/v3").unwrap_or(base);
        Ok(Self {
            fetcher,
            url: endpoint(base, "rest/v3/short-urls")?,
            api_key,
            next: Some(1),
            total: None,
            read: 0,
            other_domains: 0,
        })
    }
}

#[derive(Deserialize)]
struct ListAnswer {
    #[serde(rename = "shortUrls")]
    short_urls: ShortUrls,
}

#[derive(Deserialize)]
struct ShortUrls {
    data: Vec<Value>,
    pagination: Option<Pagination>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pagination {
    current_page: Option<u64>,
    pages_count: Option<u64>,
    total_items: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShortUrl {
    short_code: String,
    long_url: String,
    date_created: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    title: Option<String>,
    meta: Option<Meta>,
    visits_summary: Option<VisitsSummary>,
    /// Shlink before 3.0.
    visits_count: Option<i64>,
    forward_query: Option<bool>,
    #[serde(default)]
    crawlable: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    valid_until: Option<String>,
    /// A JSON number; Shlink documents it so, not as an integer.
    max_visits: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VisitsSummary {
    total: i64,
    non_bots: Option<i64>,
}

fn entry(value: Value) -> Entry {
    let key = value
        .get("shortCode")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    let url: ShortUrl = match serde_json::from_value(value) {
        Ok(u) => u,
        Err(e) => {
            return Entry::Unreadable {
                key,
                reason: format!("not a Shlink short URL: {e}"),
            }
        }
    };
    match link(url) {
        Ok(link) => Entry::Link(SourceLink::new(link)),
        Err(reason) => Entry::Unreadable { key, reason },
    }
}

fn link(url: ShortUrl) -> Result<ImportLink, String> {
    let (visits, humans) = match (&url.visits_summary, url.visits_count) {
        (Some(s), _) => (s.total, s.non_bots.unwrap_or(s.total)),
        (None, Some(n)) => (n, n),
        (None, None) => (0, 0),
    };
    let meta = url.meta.as_ref();
    let max_visits = meta
        .and_then(|m| m.max_visits)
        .filter(|m| m.is_finite() && *m >= 1.0)
        .map(|m| m as i64);
    Ok(ImportLink {
        slug: url.short_code,
        url: url.long_url,
        created_at: dates::parse(url.date_created.as_deref().unwrap_or_default())?,
        expires_at: dates::parse(
            meta.and_then(|m| m.valid_until.as_deref())
                .unwrap_or_default(),
        )?,
        max_visits,
        tags: url.tags,
        title: url.title.filter(|t| !t.is_empty()),
        // Shlink's own default.
        forward_query: url.forward_query.unwrap_or(true),
        crawlable: url.crawlable,
        visits,
        human_visits: humans,
    })
}

#[async_trait]
impl Source for Shlink {
    async fn next_batch(&mut self) -> Result<Option<Vec<Entry>>, SourceError> {
        let Some(page) = self.next else {
            return Ok(None);
        };
        if self.read >= MAX_LINKS {
            return Ok(None);
        }
        let request = self
            .fetcher
            .client()
            .get(self.url.clone())
            .header("X-Api-Key", &self.api_key)
            .header("Accept", "application/json")
            .query(&[("page", page), ("itemsPerPage", u64::from(PAGE_SIZE))]);
        let answer: ListAnswer = self.fetcher.json(request).await?;
        let list = answer.short_urls;
        let pagination = list.pagination.unwrap_or(Pagination {
            current_page: None,
            pages_count: None,
            total_items: None,
        });
        self.total = pagination.total_items.or(self.total);
        let current = pagination.current_page.unwrap_or(page);
        // Shlink says how many pages there are; a server that says nothing
        // is read until a page comes back empty.
        let more =
            !list.data.is_empty() && pagination.pages_count.is_none_or(|pages| current < pages);
        self.next = more.then_some(page + 1);
        self.read += list.data.len() as u64;
        self.other_domains += list
            .data
            .iter()
            .filter(|v| v.get("domain").is_some_and(|d| !d.is_null()))
            .count() as u64;
        Ok(Some(list.data.into_iter().map(entry).collect()))
    }

    fn total(&self) -> Option<u64> {
        self.total
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.other_domains > 0 {
            notes.push(format!(
                "{} link(s) were on other Shlink domains than the default one; kurz has one \
                 domain, so their slugs now live on it",
                self.other_domains
            ));
        }
        if self.read >= MAX_LINKS {
            notes.push(format!(
                "stopped after {MAX_LINKS} links, the most one run reads"
            ));
        }
        notes
    }
}
