//! Shlink's REST API (v3, and v2 where it is the same contract) over
//! kurz's own use cases, so Shlink's clients (its web client, SDKs,
//! extensions) work against kurz. Shapes, paging and error types follow
//! Shlink's OpenAPI documents; where kurz cannot do what Shlink does, the
//! answer is Shlink's `invalid-data` or `not-found` problem, as the README
//! lists.

pub mod dates;
mod meta;
pub mod problem;
mod short_urls;
mod tags;
mod visits;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde::Serialize;
use time::OffsetDateTime;

use kurz_core::service::links::MAX_PAGE;

use self::problem::Problem;
use crate::http::{body, limit, AppState};

/// The API versions served: Shlink's v2 and v3 differ in nothing kurz
/// serves.
const VERSIONS: [&str; 2] = ["/rest/v2", "/rest/v3"];

pub fn router(state: &AppState) -> Router<AppState> {
    let mut protected = Router::new();
    for prefix in VERSIONS {
        protected = protected
            .merge(short_urls::routes(prefix))
            .merge(visits::routes(prefix))
            .merge(tags::routes(prefix))
            .merge(meta::routes(prefix));
    }
    // Outermost last, as the API's: the key and its limits, the body read
    // whole under its time-out, then the handler under the request's.
    let protected = protected
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::http::timeout,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), body::buffer))
        .layer(middleware::from_fn_with_state(state.clone(), guard));
    // The 405 fallback is set before the edge layer, so that it is wrapped
    // too (the application's own would be set later, and unwrapped).
    Router::new()
        .merge(protected)
        .merge(meta::public_routes())
        .route("/rest/{*rest}", any(no_route))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), edge))
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
    )
    .detail("this method is not allowed here")
}

/// Around every `/rest/` route: CORS (preflights are answered here, before
/// any method is matched), and every kurz error, whichever layer gave it,
/// rendered as Shlink's problem.
async fn edge(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let allowed = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| allowed_origin(&state.site.rest_origins, o));
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        if allowed.is_some() {
            let h = r.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("x-api-key, authorization, content-type, accept"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("3600"),
            );
        }
        r
    } else {
        problem::render_problems(next.run(req).await).await
    };
    let h = response.headers_mut();
    if let Some(allow) = allowed {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
    }
    // With a list of origins the answer depends on the asking one, so
    // caches must keep one per origin.
    if !state.site.rest_origins.iter().any(|o| o == "*") {
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// What `Access-Control-Allow-Origin` answers `origin`: `*` when any
/// origin may call, the origin itself when it is listed, none otherwise.
fn allowed_origin(origins: &[String], origin: &HeaderValue) -> Option<HeaderValue> {
    if origins.iter().any(|o| o == "*") {
        return Some(HeaderValue::from_static("*"));
    }
    let origin_text = origin.to_str().ok()?;
    origins
        .iter()
        .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin_text))
        .then(|| origin.clone())
}

/// Shlink tells a request without a key from one with a wrong key; the
/// API's guard then checks the key and the limits.
async fn guard(state: State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if !headers.contains_key("x-api-key") && !headers.contains_key(header::AUTHORIZATION) {
        return Problem::missing_authentication().into_response();
    }
    limit::guard_api(state, req, next).await
}

/// Routes of Shlink's API that kurz does not serve.
async fn no_route() -> Problem {
    Problem::not_found()
}

/// The query string's pairs, decoded; `tags[]=a&tags[]=b` repeats a key.
pub(crate) fn query_pairs(req_query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req_query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The value of a key of the query, the first if repeated.
pub(crate) fn query_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Every value of `key[]` (and of a bare `key`).
pub(crate) fn query_list(pairs: &[(String, String)], key: &str) -> Vec<String> {
    let bracketed = format!("{key}[]");
    pairs
        .iter()
        .filter(|(k, _)| *k == bracketed || k == key)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
        .collect()
}

/// `true` / `false` as Shlink's query flags are written.
pub(crate) fn query_flag(pairs: &[(String, String)], key: &'static str) -> Result<bool, Problem> {
    match query_value(pairs, key) {
        None | Some("" | "false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(_) => Err(Problem::invalid(key, format!("{key} is true or false"))),
    }
}

/// A date field of a body or the query, in any spelling Shlink's clients
/// send; absent or empty is none.
pub(crate) fn date(
    value: Option<&str>,
    key: &'static str,
) -> Result<Option<OffsetDateTime>, Problem> {
    crate::dates::parse(value.unwrap_or_default())
        .map_err(|_| Problem::invalid(key, format!("{key} is not a date")))
}

pub(crate) fn query_date(
    pairs: &[(String, String)],
    key: &'static str,
) -> Result<Option<OffsetDateTime>, Problem> {
    date(query_value(pairs, key), key)
}

/// `field-ASC` or `field-DESC` (a bare field is ascending): the field and
/// whether it is descending.
pub(crate) fn order_by(text: &str) -> Result<(&str, bool), Problem> {
    let (field, dir) = text.split_once('-').unwrap_or((text, "ASC"));
    match dir.to_ascii_uppercase().as_str() {
        "ASC" => Ok((field, false)),
        "DESC" => Ok((field, true)),
        _ => Err(Problem::invalid(
            "orderBy",
            "orderBy is field-ASC or field-DESC",
        )),
    }
}

/// A JSON body whose rejection is Shlink's problem.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(Problem))]
pub(crate) struct Body<T>(pub T);

impl From<JsonRejection> for Problem {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonSyntaxError(_) => Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-request-body",
                "Malformed request body",
            )
            .detail("Provided request does not contain a valid JSON body."),
            other => Problem::invalid("body", other.body_text()),
        }
    }
}

/// A path parameter whose rejection (bad percent-encoding, say) is
/// Shlink's problem.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Problem))]
pub(crate) struct PathParam<T>(pub T);

impl From<PathRejection> for Problem {
    fn from(_: PathRejection) -> Self {
        Problem::not_found()
    }
}

/// A page of a numbered listing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paging {
    pub page: u64,
    pub per_page: u32,
}

impl Paging {
    /// `page` (from 1) and `itemsPerPage`; Shlink reads an `itemsPerPage`
    /// below 1 as "all", which kurz bounds to its largest page.
    pub(crate) fn parse(
        pairs: &[(String, String)],
        default_per_page: u32,
    ) -> Result<Self, Problem> {
        let page = match query_value(pairs, "page") {
            None | Some("") => 1,
            Some(p) => p
                .parse::<u64>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| Problem::invalid("page", "page is a whole number from 1"))?,
        };
        let per_page = match query_value(pairs, "itemsPerPage") {
            None | Some("") => default_per_page,
            Some(n) => {
                let n: i64 = n.parse().map_err(|_| {
                    Problem::invalid("itemsPerPage", "itemsPerPage is a whole number")
                })?;
                if n < 1 {
                    MAX_PAGE
                } else {
                    u32::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE)
                }
            }
        };
        Ok(Self { page, per_page })
    }

    pub(crate) fn offset(self) -> u64 {
        (self.page - 1).saturating_mul(u64::from(self.per_page))
    }

    pub(crate) fn pagination(self, in_page: usize, total: u64) -> Pagination {
        let per = u64::from(self.per_page).max(1);
        Pagination {
            current_page: self.page,
            // Shlink's pager counts one page even when it is empty.
            pages_count: total.div_ceil(per).max(1),
            items_per_page: self.per_page,
            items_in_current_page: in_page,
            total_items: total,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Pagination {
    current_page: u64,
    pages_count: u64,
    items_per_page: u32,
    items_in_current_page: usize,
    total_items: u64,
}

/// `{"data": [...], "pagination": {...}}`, Shlink's listing.
#[derive(Debug, Serialize)]
pub(crate) struct Listing<T> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

/// The one domain kurz serves: its base URL's host and port.
pub(crate) fn authority(base_url: &str) -> String {
    url::Url::parse(base_url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        query_pairs(Some(q))
    }

    #[test]
    fn paging_reads_shlink_parameters_and_bounds_all() {
        let p = Paging::parse(&pairs("page=3&itemsPerPage=20"), 10).expect("ok");
        assert_eq!((p.page, p.per_page, p.offset()), (3, 20, 40));
        let p = Paging::parse(&pairs("itemsPerPage=-1"), 10).expect("ok");
        assert_eq!(p.per_page, MAX_PAGE);
        let p = Paging::parse(&pairs(""), 10).expect("ok");
        assert_eq!((p.page, p.per_page), (1, 10));
        assert!(Paging::parse(&pairs("page=0"), 10).is_err());
        assert_eq!(
            serde_json::to_value(p.pagination(0, 0)).expect("json")["pagesCount"],
            1
        );
        let json = serde_json::to_value(p.pagination(10, 25)).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"currentPage": 1, "pagesCount": 3, "itemsPerPage": 10,
                               "itemsInCurrentPage": 10, "totalItems": 25})
        );
    }

    #[test]
    fn repeated_and_bracketed_keys_make_lists() {
        let p = pairs("tags%5B%5D=a&tags[]=b%20c&tags=d&other=x");
        assert_eq!(query_list(&p, "tags"), ["a", "b c", "d"]);
    }

    #[test]
    fn the_authority_keeps_a_port() {
        assert_eq!(authority("http://127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(authority("https://sho.rt"), "sho.rt");
    }
}
