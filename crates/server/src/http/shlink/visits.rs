//! Visits: of a short URL, of a tag, of the domain, all of them, and the
//! overview. kurz records no orphan visits (requests for unknown slugs are
//! not kept), so their lists are empty.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

use kurz_core::catalog::{FoundVisit, VisitQuery, VisitScope, VisitSearchPage};
use kurz_core::error::{CatalogError, LinkError};

use super::problem::Problem;
use super::short_urls::{catalog_problem, VisitsSummary};
use super::{
    authority, dates, query_date, query_flag, query_pairs, query_value, Listing, Paging, PathParam,
};
use crate::http::extract::Auth;
use crate::http::AppState;

/// Shlink's visit listings default to all visits; kurz bounds a page.
const DEFAULT_PER_PAGE: u32 = kurz_core::service::links::MAX_PAGE;

/// What kurz keeps of a referrer when there was none.
const NO_REFERRER: [&str; 2] = ["direct", "unknown"];

pub(super) fn routes(prefix: &str) -> Router<AppState> {
    Router::new()
        .route(
            &format!("{prefix}/short-urls/{{code}}/visits"),
            get(of_short_url),
        )
        .route(&format!("{prefix}/tags/{{tag}}/visits"), get(of_tag))
        .route(
            &format!("{prefix}/domains/{{domain}}/visits"),
            get(of_domain),
        )
        .route(&format!("{prefix}/visits"), get(overview))
        .route(&format!("{prefix}/visits/non-orphan"), get(non_orphan))
        .route(&format!("{prefix}/visits/orphan"), get(orphan))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    country_code: String,
    /// kurz keeps the code only.
    country_name: String,
    region_name: String,
    city_name: String,
    latitude: f64,
    longitude: f64,
    timezone: String,
    is_empty: bool,
}

/// A visit as Shlink shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Visit {
    /// The referrer's host (kurz keeps no more of it), or empty.
    referer: String,
    date: String,
    user_agent: String,
    visit_location: Option<Location>,
    potential_bot: bool,
    visited_url: String,
    redirect_url: Option<String>,
    short_code: String,
    domain: Option<String>,
}

impl Visit {
    fn new(found: FoundVisit, state: &AppState) -> Self {
        let d = found.visit.detail;
        let referrer: &str = &d.referrer;
        let country: &str = &d.country;
        Self {
            referer: if NO_REFERRER.contains(&referrer) {
                String::new()
            } else {
                referrer.to_owned()
            },
            date: dates::format(d.at),
            user_agent: d.user_agent.map(String::from).unwrap_or_default(),
            visit_location: (country.len() == 2).then(|| Location {
                country_code: country.to_owned(),
                country_name: country.to_owned(),
                region_name: String::new(),
                city_name: String::new(),
                latitude: 0.0,
                longitude: 0.0,
                timezone: String::new(),
                is_empty: false,
            }),
            potential_bot: d.bot,
            visited_url: state.site.short_url(&found.slug),
            redirect_url: None,
            short_code: found.slug,
            domain: None,
        }
    }
}

/// The date range, bots and page of a visit listing.
fn visit_query(q: Option<&str>) -> Result<(VisitQuery, Paging), Problem> {
    let pairs = query_pairs(q);
    let paging = Paging::parse(&pairs, DEFAULT_PER_PAGE)?;
    let query = VisitQuery {
        scope: VisitScope::Owner(None),
        from: query_date(&pairs, "startDate")?,
        to: query_date(&pairs, "endDate")?,
        exclude_bots: query_flag(&pairs, "excludeBots")?,
        offset: paging.offset(),
        limit: paging.per_page,
    };
    Ok((query, paging))
}

fn listing(
    result: Result<VisitSearchPage, CatalogError>,
    paging: Paging,
    state: &AppState,
) -> Response {
    let page = match result {
        Ok(page) => page,
        Err(e) => return catalog_problem(e),
    };
    let data: Vec<Visit> = page
        .items
        .into_iter()
        .map(|v| Visit::new(v, state))
        .collect();
    let pagination = paging.pagination(data.len(), page.total);
    Json(json!({ "visits": Listing { data, pagination } })).into_response()
}

async fn of_short_url(
    State(state): State<AppState>,
    Auth(who): Auth,
    PathParam(code): PathParam<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let (query, paging) = match visit_query(q.as_deref()) {
        Ok(q) => q,
        Err(p) => return p.into_response(),
    };
    match state.catalog.link_visits(&who, &code, query).await {
        Err(CatalogError::Link(LinkError::NotFound)) => {
            Problem::short_url_not_found(&code).into_response()
        }
        result => listing(result, paging, &state),
    }
}

async fn of_tag(
    State(state): State<AppState>,
    Auth(who): Auth,
    PathParam(tag): PathParam<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let (query, paging) = match visit_query(q.as_deref()) {
        Ok(q) => q,
        Err(p) => return p.into_response(),
    };
    match state.catalog.tag_visits(&who, &tag, query).await {
        Err(CatalogError::TagNotFound) => Problem::tag_not_found(&tag).into_response(),
        result => listing(result, paging, &state),
    }
}

/// The one domain is every link's: its visits are all visits.
async fn of_domain(
    State(state): State<AppState>,
    Auth(who): Auth,
    PathParam(domain): PathParam<String>,
    RawQuery(q): RawQuery,
) -> Response {
    if domain != "DEFAULT" && domain != authority(&state.site.base_url) {
        return Problem::domain_not_found(&domain).into_response();
    }
    non_orphan(State(state), Auth(who), RawQuery(q)).await
}

async fn non_orphan(
    State(state): State<AppState>,
    Auth(who): Auth,
    RawQuery(q): RawQuery,
) -> Response {
    let (query, paging) = match visit_query(q.as_deref()) {
        Ok(q) => q,
        Err(p) => return p.into_response(),
    };
    let result = state.catalog.all_visits(&who, query).await;
    listing(result, paging, &state)
}

/// Shlink's kinds of orphan visit, which its `type` filter names.
const ORPHAN_TYPES: [&str; 3] = ["base_url", "invalid_short_url", "regular_404"];

async fn orphan(Auth(_): Auth, RawQuery(q): RawQuery) -> Response {
    let pairs = query_pairs(q.as_deref());
    if query_value(&pairs, "type").is_some_and(|k| !k.is_empty() && !ORPHAN_TYPES.contains(&k)) {
        let detail = format!("type is one of {}", ORPHAN_TYPES.join(", "));
        return Problem::invalid("type", detail).into_response();
    }
    let paging = match visit_query(q.as_deref()) {
        Ok((_, paging)) => paging,
        Err(p) => return p.into_response(),
    };
    let data: Vec<Visit> = Vec::new();
    Json(json!({ "visits": Listing { data, pagination: paging.pagination(0, 0) } })).into_response()
}

async fn overview(State(state): State<AppState>, Auth(who): Auth) -> Response {
    let totals = match state.catalog.totals(&who).await {
        Ok(t) => t,
        Err(e) => return catalog_problem(e),
    };
    Json(json!({
        "visits": {
            "nonOrphanVisits": VisitsSummary::new(totals.total, totals.bots),
            "orphanVisits": VisitsSummary::new(0, 0),
            // Shlink 2's names, still read by older clients.
            "visitsCount": totals.total,
            "orphanVisitsCount": 0,
        }
    }))
    .into_response()
}
