//! `/robots.txt`: search engines may crawl the links marked crawlable and
//! nothing else (Shlink's `crawlable`).

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::error::ApiError;
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/robots.txt", get(robots))
}

async fn robots(State(state): State<AppState>) -> Response {
    let slugs = match state.catalog.crawlable().await {
        Ok(slugs) => slugs,
        Err(e) => return ApiError::from(e).into_response(),
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            // Crawlers fetch it often; a minute old is fresh enough.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=60"),
            ),
        ],
        body(&slugs),
    )
        .into_response()
}

fn body(slugs: &[String]) -> String {
    let mut out = String::from("# Only links marked crawlable may be crawled.\n\nUser-agent: *\n");
    for slug in slugs {
        out.push_str("Allow: /");
        out.push_str(slug);
        out.push('\n');
    }
    out.push_str("Disallow: /\n");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn allows_crawlable_links_before_disallowing_the_rest() {
        let text = super::body(&["abc".to_owned(), "x-1".to_owned()]);
        assert!(text.ends_with("User-agent: *\nAllow: /abc\nAllow: /x-1\nDisallow: /\n"));
    }
}
