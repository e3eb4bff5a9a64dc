//! The alias review queue (API.md, "Protection and administration"):
//! links whose alias matched `links.review_keywords` wait as `pending`.
//! Approve with `PATCH {"approved": true}`, reject with `DELETE`, both in
//! `links`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use super::links::{decode_cursor, LinkList};
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Auth};
use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/review", get(list_review))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewParams {
    /// 1 to 1,000; default 50.
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Admins: links waiting for review (`status: pending`), newest first.
#[utoipa::path(get, path = "/api/v1/review", tag = "reports", params(ReviewParams),
    responses(
        (status = 200, body = LinkList),
        (status = 400, description = "Bad `limit` or `cursor` (40030)"),
        (status = 401, description = "40101"), (status = 403, description = "Not an admin (40301)"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list_review(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(params): ApiQuery<ReviewParams>,
) -> Result<Json<LinkList>, ApiError> {
    let after = params.cursor.as_deref().map(decode_cursor).transpose()?;
    let page = state.links.review_queue(&who, params.limit, after).await?;
    Ok(Json(LinkList::new(page, &state)))
}
