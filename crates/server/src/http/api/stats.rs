//! Stats and raw visits (API.md, "Links": `/stats`, `/visits`, and
//! `/api/v1/stats`).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::stream;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use kurz_core::account::Principal;
use kurz_core::analytics::{Named, VisitCursor, VisitRecord};
use kurz_core::error::Field;
use kurz_core::service::{Interval, Stats, StatsRequest, VisitPage};

use super::{cursor, rfc3339};
use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, ApiQuery, Auth};
use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/links/{slug}/stats", get(get_link_stats))
        .route("/api/v1/links/{slug}/visits", get(list_visits))
        .route("/api/v1/stats", get(get_stats))
}

/// The question of a stats route.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// RFC 3339; default: 30 days before `to`. Rounded down to its bucket.
    from: Option<String>,
    /// RFC 3339; default: now. Rounded up to the end of its bucket.
    to: Option<String>,
    /// `hour` or `day` (default), UTC.
    interval: Option<String>,
    /// Names per breakdown (and links in `top_links`): 1 to 100, default 10.
    limit: Option<String>,
}

impl StatsParams {
    fn parse(self) -> Result<StatsRequest, ApiError> {
        let time = |field, raw: Option<String>| {
            raw.map(|t| {
                OffsetDateTime::parse(&t, &Rfc3339).map_err(|_| {
                    ApiError::invalid(
                        field,
                        "expected an RFC 3339 time, e.g. 2026-01-31T00:00:00Z",
                    )
                })
            })
            .transpose()
        };
        let interval = match self.interval.as_deref() {
            None | Some("day") => Interval::Day,
            Some("hour") => Interval::Hour,
            Some(_) => {
                return Err(ApiError::invalid(
                    Field::Interval,
                    "interval is hour or day",
                ))
            }
        };
        Ok(StatsRequest {
            from: time(Field::From, self.from)?,
            to: time(Field::To, self.to)?,
            interval,
            limit: number(self.limit)?,
        })
    }
}

fn number(raw: Option<String>) -> Result<Option<u32>, ApiError> {
    raw.map(|n| {
        n.parse()
            .map_err(|_| ApiError::invalid(Field::Limit, "limit must be a positive number"))
    })
    .transpose()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Count {
    name: String,
    count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Point {
    /// Start of the bucket, RFC 3339 UTC.
    t: String,
    count: u64,
}

/// Clicks over a range: totals, a zero-filled series, and breakdowns
/// (most first).
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsResponse {
    total: u64,
    humans: u64,
    bots: u64,
    /// Clicks counted while the analytics queue was full, whose detail (and
    /// so whether a person clicked) is unknown: `total - humans - bots`.
    unclassified: u64,
    series: Vec<Point>,
    referrers: Vec<Count>,
    countries: Vec<Count>,
    browsers: Vec<Count>,
    os: Vec<Count>,
    devices: Vec<Count>,
    /// Only over several links: the links with most clicks.
    #[serde(skip_serializing_if = "Option::is_none")]
    top_links: Option<Vec<TopLink>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopLink {
    slug: String,
    count: u64,
}

fn counts(named: Vec<Named>) -> Vec<Count> {
    named
        .into_iter()
        .map(|n| Count {
            name: n.name,
            count: n.count,
        })
        .collect()
}

impl From<Stats> for StatsResponse {
    fn from(s: Stats) -> Self {
        Self {
            total: s.total,
            humans: s.humans,
            bots: s.bots,
            unclassified: s.unclassified,
            series: s
                .series
                .into_iter()
                .map(|b| Point {
                    t: rfc3339(b.t),
                    count: b.count,
                })
                .collect(),
            referrers: counts(s.referrers),
            countries: counts(s.countries),
            browsers: counts(s.browsers),
            os: counts(s.os),
            devices: counts(s.devices),
            top_links: s.top_links.map(|top| {
                top.into_iter()
                    .map(|n| TopLink {
                        slug: n.name,
                        count: n.count,
                    })
                    .collect()
            }),
        }
    }
}

/// A link's stats, from hourly rollups (never from raw visits).
#[utoipa::path(get, path = "/api/v1/links/{slug}/stats", tag = "stats",
    params(("slug" = String, Path), StatsParams),
    responses(
        (status = 200, body = StatsResponse),
        (status = 400, description = "Bad `from`, `to`, `interval` or `limit` (40030, with `field`)"),
        (status = 401, description = "40101"),
        (status = 404, description = "No such link, or another user's (40401)"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn get_link_stats(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(params): ApiQuery<StatsParams>,
) -> Result<Json<StatsResponse>, ApiError> {
    let req = params.parse()?;
    let stats = state.stats.of_link(&who, &slug, &req).await?;
    Ok(Json(stats.into()))
}

/// Stats over all the caller's links (all links, for admins), with
/// `top_links`.
#[utoipa::path(get, path = "/api/v1/stats", tag = "stats",
    params(StatsParams),
    responses(
        (status = 200, body = StatsResponse),
        (status = 400, description = "Bad `from`, `to`, `interval` or `limit` (40030, with `field`)"),
        (status = 401, description = "40101"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn get_stats(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(params): ApiQuery<StatsParams>,
) -> Result<Json<StatsResponse>, ApiError> {
    let req = params.parse()?;
    let stats = state.stats.overall(&who, &req).await?;
    Ok(Json(stats.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VisitParams {
    /// 1 to 1,000, default 100. With `format=csv`: the most rows streamed
    /// (default: every kept visit).
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// One raw visit. Never an IP.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitResponse {
    t: String,
    referrer: String,
    country: String,
    browser: String,
    os: String,
    device: &'static str,
    bot: bool,
    user_agent: Option<String>,
}

impl From<VisitRecord> for VisitResponse {
    fn from(v: VisitRecord) -> Self {
        let d = v.detail;
        Self {
            t: rfc3339(d.at),
            referrer: d.referrer.to_string(),
            country: d.country.to_string(),
            browser: d.browser.to_string(),
            os: d.os.to_string(),
            device: d.device.as_str(),
            bot: d.bot,
            user_agent: d.user_agent.map(String::from),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VisitList {
    items: Vec<VisitResponse>,
    next_cursor: Option<String>,
}

/// Rows fetched per page while streaming CSV.
const CSV_PAGE: u32 = 1000;

/// A link's raw visits (kept for `analytics.retention_days`), newest
/// first, cursor-paged; `format=csv` streams them all as CSV.
#[utoipa::path(get, path = "/api/v1/links/{slug}/visits", tag = "stats",
    params(("slug" = String, Path), VisitParams),
    responses(
        (status = 200, body = VisitList, description = "JSON, or CSV with `format=csv`"),
        (status = 400, description = "Bad `limit`, `cursor` or `format` (40030, with `field`)"),
        (status = 401, description = "40101"),
        (status = 404, description = "No such link, or another user's (40401)"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list_visits(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(params): ApiQuery<VisitParams>,
) -> Result<Response, ApiError> {
    let after = params
        .cursor
        .as_deref()
        .map(|c| cursor::decode(c).map(|(at_ms, id)| VisitCursor { at_ms, id }))
        .transpose()?;
    let limit = number(params.limit)?;
    match params.format.as_deref() {
        None | Some("json") => {
            let page = state.stats.visits(&who, &slug, after, limit).await?;
            Ok(Json(VisitList {
                items: page.items.into_iter().map(VisitResponse::from).collect(),
                next_cursor: page.next.map(|c| cursor::encode(c.at_ms, c.id)),
            })
            .into_response())
        }
        Some("csv") => visits_csv(state, who, slug, after, limit).await,
        Some(_) => Err(ApiError::invalid(Field::Format, "format is json or csv")),
    }
}

/// Streams every kept visit from `after` (at most `limit`) as CSV, a page
/// at a time: memory stays at one page whatever the link's history. The
/// web UI's download answers with this too, for the session's user.
pub async fn visits_csv(
    state: AppState,
    who: Principal,
    slug: String,
    after: Option<VisitCursor>,
    limit: Option<u32>,
) -> Result<Response, ApiError> {
    let limit = limit.map(u64::from).unwrap_or(u64::MAX);
    if limit == 0 {
        return Err(ApiError::invalid(Field::Limit, "limit must be at least 1"));
    }
    // Checked once, before the first byte goes out: a stranger's or a
    // missing link is an error answer, not an empty file.
    let link = std::sync::Arc::new(state.stats.readable(&who, &slug).await?);
    struct Cursor {
        after: Option<VisitCursor>,
        left: u64,
        header: bool,
        done: bool,
    }
    let start = Cursor {
        after,
        left: limit,
        header: true,
        done: false,
    };
    let rows = stream::unfold(start, move |mut c| {
        let (state, link) = (state.clone(), link.clone());
        async move {
            if c.done {
                return None;
            }
            let mut out = Vec::new();
            if c.header {
                out.extend_from_slice(b"t,referrer,country,browser,os,device,bot,user_agent\n");
                c.header = false;
            }
            let want = u32::try_from(c.left.min(u64::from(CSV_PAGE))).unwrap_or(CSV_PAGE);
            let page: VisitPage = match state.stats.visits_of(&link, c.after, want).await {
                Ok(page) => page,
                Err(e) => {
                    // Headers are gone: the best left is to end the body
                    // short, which the client sees as a broken transfer.
                    tracing::warn!(error = %e, "visits CSV cut short");
                    c.done = true;
                    return Some((Err(std::io::Error::other("store failed")), c));
                }
            };
            c.left -= page.items.len() as u64;
            c.after = page.next;
            c.done = page.next.is_none() || c.left == 0;
            for v in page.items {
                write_csv_row(&mut out, v);
            }
            Some((Ok::<_, std::io::Error>(Bytes::from(out)), c))
        }
    });
    let mut response = Body::from_stream(rows).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"visits.csv\""),
    );
    Ok(response)
}

/// A cell a spreadsheet will not run as a formula: text from visitors
/// (user agents) that starts like one gets a leading `'`.
fn cell(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

fn write_csv_row(out: &mut Vec<u8>, v: VisitRecord) {
    let v = VisitResponse::from(v);
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(&mut *out);
    let bot = if v.bot { "true" } else { "false" };
    // Writing to a Vec cannot fail.
    let cells = [
        cell(&v.t),
        cell(&v.referrer),
        cell(&v.country),
        cell(&v.browser),
        cell(&v.os),
        cell(v.device),
        cell(bot),
        cell(v.user_agent.as_deref().unwrap_or("")),
    ];
    let _ = w.write_record(cells.iter().map(|c| c.as_bytes()));
    let _ = w.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_from_visitors_stay_text_in_csv() {
        assert_eq!(
            cell("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("Mozilla/5.0"), "Mozilla/5.0");
    }
}
