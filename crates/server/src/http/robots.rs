//! `/robots.txt`: search engines may crawl the links marked crawlable and
//! nothing else (Shlink's `crawlable`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::error::ApiError;
use super::AppState;

/// How long an answer is kept and may be cached: crawlers fetch the file
/// often, and anyone may ask for it, so the store is asked at most once a
/// minute per node.
const FRESH_FOR: Duration = Duration::from_secs(60);

pub fn router() -> Router<AppState> {
    Router::new().route("/robots.txt", get(robots))
}

/// The last answer and when it was made.
#[derive(Debug, Default)]
pub struct RobotsCache(Mutex<Option<(Instant, Bytes)>>);

impl RobotsCache {
    fn fresh(&self) -> Option<Bytes> {
        let kept = self.0.lock().ok()?;
        kept.as_ref()
            .filter(|(at, _)| at.elapsed() < FRESH_FOR)
            .map(|(_, body)| body.clone())
    }

    fn keep(&self, body: Bytes) {
        if let Ok(mut kept) = self.0.lock() {
            *kept = Some((Instant::now(), body));
        }
    }
}

async fn robots(State(state): State<AppState>) -> Response {
    let body = match state.robots.fresh() {
        Some(body) => body,
        None => match state.catalog.crawlable().await {
            Ok(slugs) => {
                let body = Bytes::from(body(&slugs));
                state.robots.keep(body.clone());
                body
            }
            Err(e) => return ApiError::from(e).into_response(),
        },
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=60"),
            ),
        ],
        body,
    )
        .into_response()
}

/// `$` ends each rule at the slug: `Allow: /abc` alone would also allow
/// `/abcdef`.
fn body(slugs: &[String]) -> String {
    let mut out = String::from("# Only links marked crawlable may be crawled.\n\nUser-agent: *\n");
    for slug in slugs {
        out.push_str("Allow: /");
        out.push_str(slug);
        out.push_str("$\n");
    }
    out.push_str("Disallow: /\n");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn allows_crawlable_links_exactly_before_disallowing_the_rest() {
        let text = super::body(&["abc".to_owned(), "x-1".to_owned()]);
        assert!(text.ends_with("User-agent: *\nAllow: /abc$\nAllow: /x-1$\nDisallow: /\n"));
    }
}
