//! Tags: list (with stats), rename, delete. Renaming and deleting change
//! every link, so only admin keys may (Shlink's rule too).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use kurz_core::catalog::TagStat;
use kurz_core::error::{CatalogError, LinkError};

use super::problem::Problem;
use super::short_urls::{catalog_problem, normalize_tags, VisitsSummary};
use super::{order_by, query_flag, query_list, query_pairs, query_value, Body, Listing, Paging};
use crate::http::error::ApiError;
use crate::http::extract::Auth;
use crate::http::AppState;

pub(super) fn routes(prefix: &str) -> Router<AppState> {
    Router::new()
        .route(
            &format!("{prefix}/tags"),
            get(list).put(rename).delete(remove),
        )
        .route(&format!("{prefix}/tags/stats"), get(stats))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TagInfo {
    tag: String,
    short_urls_count: u64,
    visits_summary: VisitsSummary,
}

impl From<TagStat> for TagInfo {
    fn from(t: TagStat) -> Self {
        Self {
            tag: t.tag,
            short_urls_count: t.links,
            visits_summary: VisitsSummary::new(t.visits, t.bots),
        }
    }
}

/// The caller's tags filtered by `searchTerm`, in `orderBy`'s order, and
/// the page asked for.
async fn page(
    state: &AppState,
    who: &kurz_core::account::Principal,
    q: Option<&str>,
) -> Result<(Vec<TagStat>, Paging, u64), Response> {
    let pairs = query_pairs(q);
    let paging = Paging::parse(&pairs, kurz_core::service::links::MAX_PAGE)
        .map_err(IntoResponse::into_response)?;
    let mut tags = state.catalog.tags(who).await.map_err(catalog_problem)?;
    if let Some(term) = query_value(&pairs, "searchTerm").filter(|t| !t.is_empty()) {
        let term = term.to_lowercase();
        tags.retain(|t| t.tag.to_lowercase().contains(&term));
    }
    if let Some(order) = query_value(&pairs, "orderBy").filter(|o| !o.is_empty()) {
        let (field, descending) = order_by(order).map_err(IntoResponse::into_response)?;
        let key: fn(&TagStat) -> u64 = match field {
            "tag" => |_| 0,
            "shortUrlsCount" => |t| t.links,
            "visits" => |t| t.visits,
            "nonBotVisits" => |t| t.visits.saturating_sub(t.bots),
            _ => {
                return Err(
                    Problem::invalid("orderBy", format!("cannot order tags by {field}"))
                        .into_response(),
                )
            }
        };
        // Ties keep the name order, whichever the direction.
        tags.sort_by(|a, b| {
            let by_key = key(a).cmp(&key(b));
            let by_key = if descending { by_key.reverse() } else { by_key };
            let by_name = if field == "tag" && descending {
                b.tag.cmp(&a.tag)
            } else {
                a.tag.cmp(&b.tag)
            };
            by_key.then(by_name)
        });
    }
    let total = tags.len() as u64;
    let start = usize::try_from(paging.offset()).unwrap_or(usize::MAX);
    let page: Vec<TagStat> = tags
        .into_iter()
        .skip(start)
        .take(paging.per_page as usize)
        .collect();
    Ok((page, paging, total))
}

async fn list(State(state): State<AppState>, Auth(who): Auth, RawQuery(q): RawQuery) -> Response {
    let (tags, paging, total) = match page(&state, &who, q.as_deref()).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let with_stats = match query_flag(&query_pairs(q.as_deref()), "withStats") {
        Ok(w) => w,
        Err(p) => return p.into_response(),
    };
    let names: Vec<String> = tags.iter().map(|t| t.tag.clone()).collect();
    let pagination = paging.pagination(names.len(), total);
    if with_stats {
        // Shlink 2's shape, still read by older clients.
        let stats: Vec<TagInfo> = tags.into_iter().map(TagInfo::from).collect();
        return Json(json!({"tags": {"data": names, "stats": stats, "pagination": pagination}}))
            .into_response();
    }
    Json(json!({ "tags": Listing { data: names, pagination } })).into_response()
}

async fn stats(State(state): State<AppState>, Auth(who): Auth, RawQuery(q): RawQuery) -> Response {
    let (tags, paging, total) = match page(&state, &who, q.as_deref()).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let data: Vec<TagInfo> = tags.into_iter().map(TagInfo::from).collect();
    let pagination = paging.pagination(data.len(), total);
    Json(json!({ "tags": Listing { data, pagination } })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Renaming {
    old_name: Option<String>,
    new_name: Option<String>,
}

async fn rename(
    State(state): State<AppState>,
    Auth(who): Auth,
    Body(body): Body<Renaming>,
) -> Response {
    let (Some(old), Some(new)) = (body.old_name, body.new_name) else {
        return Problem::invalid("oldName", "oldName and newName are both required")
            .into_response();
    };
    let old = old.trim().to_owned();
    let Some(new) = normalize_tags(vec![new])
        .ok()
        .and_then(|t| t.into_iter().next())
    else {
        return Problem::invalid("newName", "newName may not be empty").into_response();
    };
    // A rename rewrites every link carrying the tag, batch by batch: it runs
    // on to the end even when the request's time-out gives up waiting.
    let catalog = state.catalog.clone();
    let (o, n) = (old.clone(), new.clone());
    let renamed = tokio::spawn(async move { catalog.rename_tag(&who, &o, &n).await }).await;
    match renamed.map_err(ApiError::internal) {
        Err(e) => e.into_response(),
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(CatalogError::Link(LinkError::Forbidden))) => {
            Problem::forbidden_tag_operation("rename").into_response()
        }
        Ok(Err(CatalogError::TagNotFound)) => Problem::tag_not_found(&old).into_response(),
        Ok(Err(CatalogError::TagTaken)) => Problem::tag_conflict(&old, &new).into_response(),
        Ok(Err(e)) => catalog_problem(e),
    }
}

async fn remove(State(state): State<AppState>, Auth(who): Auth, RawQuery(q): RawQuery) -> Response {
    let tags = query_list(&query_pairs(q.as_deref()), "tags");
    // As a rename: on to the end, whatever the request's time-out.
    let catalog = state.catalog.clone();
    let deleted = tokio::spawn(async move { catalog.delete_tags(&who, &tags).await }).await;
    match deleted.map_err(ApiError::internal) {
        Err(e) => e.into_response(),
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(CatalogError::Link(LinkError::Forbidden))) => {
            Problem::forbidden_tag_operation("delete").into_response()
        }
        Ok(Err(e)) => catalog_problem(e),
    }
}
