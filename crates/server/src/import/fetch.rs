//! The HTTP client the API sources share: every request timed out, every
//! answer read up to a cap, so a slow or hostile source can neither hang
//! nor exhaust the importer.

use std::time::Duration;

use reqwest::{Client, RequestBuilder};
use serde::de::DeserializeOwned;

use super::SourceError;

/// The largest answer read: a page of 100 links with 8 KiB targets and
/// long titles stays well under it.
pub(crate) const MAX_BODY: usize = 8 * 1024 * 1024;
/// How much of an error answer the report quotes.
const QUOTED: usize = 300;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub(crate) struct Fetcher {
    client: Client,
}

impl Fetcher {
    /// `timeout` bounds each request from connecting to the last byte.
    pub(crate) fn new(timeout: Duration) -> Result<Self, SourceError> {
        let client = Client::builder()
            .user_agent(concat!("kurz-import/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| SourceError::Http(format!("building the HTTP client: {e}")))?;
        Ok(Self { client })
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Sends `request` and reads its JSON answer, which must be a success.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> Result<T, SourceError> {
        let mut response = request.send().await.map_err(http_error)?;
        let status = response.status();
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY as u64)
        {
            return Err(SourceError::TooLarge(MAX_BODY));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http_error)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(SourceError::TooLarge(MAX_BODY));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            let quoted: String = text.chars().take(QUOTED).collect();
            return Err(SourceError::Status {
                status: status.as_u16(),
                body: quoted,
            });
        }
        serde_json::from_slice(&body).map_err(|e| SourceError::Format(e.to_string()))
    }
}

fn http_error(e: reqwest::Error) -> SourceError {
    let what = if e.is_timeout() {
        "the source did not answer in time"
    } else if e.is_connect() {
        "the source cannot be reached"
    } else {
        "the request to the source failed"
    };
    // reqwest's own text names the URL, which may carry a YOURLS password.
    let e = e.without_url();
    SourceError::Http(format!("{what}: {e}"))
}

/// `base` (the address the user gave) with `path` appended to its path.
pub(crate) fn endpoint(base: &str, path: &str) -> Result<url::Url, SourceError> {
    let mut url = source_url(base)?;
    let joined = format!("{}/{}", url.path().trim_end_matches('/'), path);
    url.set_path(&joined);
    url.set_query(None);
    Ok(url)
}

/// The address the user gave, which must be an http(s) URL.
pub(crate) fn source_url(text: &str) -> Result<url::Url, SourceError> {
    let url = url::Url::parse(text)
        .map_err(|e| SourceError::Http(format!("the source URL {text:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SourceError::Http(format!(
            "the source URL {text:?} is not http(s)"
        )));
    }
    Ok(url)
}
