//! Kutt, through its API v2: `GET /api/v2/links` paged with `skip` and
//! `limit` (Kutt gives at most 50 a page), authenticated with
//! `X-API-KEY`. It lists the links of the key's user.

use async_trait::async_trait;
use kurz_core::service::ImportLink;
use serde::Deserialize;
use serde_json::Value;

use super::fetch::{endpoint, Fetcher};
use super::{Entry, Source, SourceError, SourceLink, MAX_LINKS};
use crate::dates;

/// Kutt's own most per page.
const PAGE_SIZE: u64 = 50;

pub(crate) const PROTECTED: &str = "password-protected at the source (its password cannot be read)";
pub(crate) const BANNED: &str = "banned at the source";

#[derive(Debug)]
pub(crate) struct Kutt {
    fetcher: Fetcher,
    url: url::Url,
    api_key: String,
    skip: u64,
    done: bool,
    total: Option<u64>,
}

impl Kutt {
    pub(crate) fn new(fetcher: Fetcher, base: &str, api_key: String) -> Result<Self, SourceError> {
        let base = base.trim_end_matches('/');
        let base = base.strip_suffix("/api/v2").unwrap_or(base);
        Ok(Self {
            fetcher,
            url: endpoint(base, "api/v2/links")?,
            api_key,
            skip: 0,
            done: false,
            total: None,
        })
    }
}

#[derive(Deserialize)]
struct ListAnswer {
    total: Option<u64>,
    data: Vec<Value>,
}

#[derive(Deserialize)]
struct KuttLink {
    address: String,
    target: String,
    created_at: Option<String>,
    expire_in: Option<String>,
    description: Option<String>,
    #[serde(default)]
    visit_count: i64,
    #[serde(default)]
    password: bool,
    #[serde(default)]
    banned: bool,
}

fn entry(value: Value) -> Entry {
    let key = value
        .get("address")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    let link: KuttLink = match serde_json::from_value(value) {
        Ok(l) => l,
        Err(e) => {
            return Entry::Unreadable {
                key,
                reason: format!("not a Kutt link: {e}"),
            }
        }
    };
    let dates = dates::parse(link.created_at.as_deref().unwrap_or_default()).and_then(|c| {
        Ok((
            c,
            dates::parse(link.expire_in.as_deref().unwrap_or_default())?,
        ))
    });
    let (created_at, expires_at) = match dates {
        Ok(d) => d,
        Err(reason) => return Entry::Unreadable { key, reason },
    };
    let refuse = if link.password {
        Some(PROTECTED)
    } else if link.banned {
        Some(BANNED)
    } else {
        None
    };
    Entry::Link(SourceLink {
        link: ImportLink {
            slug: link.address,
            url: link.target,
            created_at,
            expires_at,
            title: link.description.filter(|d| !d.is_empty()),
            visits: link.visit_count,
            // Kutt counts every visit alike.
            human_visits: link.visit_count,
            ..ImportLink::default()
        },
        refuse,
    })
}

#[async_trait]
impl Source for Kutt {
    async fn next_batch(&mut self) -> Result<Option<Vec<Entry>>, SourceError> {
        if self.done || self.skip >= MAX_LINKS {
            return Ok(None);
        }
        let request = self
            .fetcher
            .client()
            .get(self.url.clone())
            .header("X-API-KEY", &self.api_key)
            .header("Accept", "application/json")
            .query(&[("limit", PAGE_SIZE), ("skip", self.skip)]);
        let answer: ListAnswer = self.fetcher.json(request).await?;
        self.total = answer.total.or(self.total);
        if answer.data.is_empty() {
            self.done = true;
            return Ok(None);
        }
        self.skip += answer.data.len() as u64;
        if self.total.is_some_and(|t| self.skip >= t) {
            self.done = true;
        }
        Ok(Some(answer.data.into_iter().map(entry).collect()))
    }

    fn total(&self) -> Option<u64> {
        self.total
    }
}
