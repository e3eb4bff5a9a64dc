//! Abuse reports: filed by anyone, listed and resolved by admins (API.md,
//! "Protection and administration"; ADR 0021).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use kurz_core::link::Cursor;
use kurz_core::report::Report;
use kurz_core::service::FileReport;

use super::{cursor, rfc3339};
use crate::http::client_ip::ClientIp;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::http::AppState;
use crate::metrics::Limit;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reports", get(list_reports).post(create_report))
        .route("/api/v1/reports/{id}/resolve", post(resolve_report))
}

/// A report as admins see it: never the reporter's address.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportResponse {
    id: i64,
    slug: String,
    /// `phishing`, `malware`, `spam` or `other`.
    reason: &'static str,
    details: Option<String>,
    /// `open` or `resolved`.
    status: &'static str,
    created_at: String,
    /// `disable` or `dismiss`; null while open.
    resolution: Option<&'static str>,
    resolved_at: Option<String>,
}

impl From<Report> for ReportResponse {
    fn from(r: Report) -> Self {
        Self {
            id: r.id,
            slug: r.slug,
            reason: r.reason.as_str(),
            details: r.details,
            status: r.status.as_str(),
            created_at: rfc3339(r.created_at),
            resolution: r.resolution.map(|x| x.as_str()),
            resolved_at: r.resolved_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReportRequest {
    /// The reported link's slug.
    #[serde(default)]
    slug: String,
    /// `phishing`, `malware`, `spam` or `other`.
    #[serde(default)]
    reason: String,
    /// At most 2,000 characters.
    details: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportCreated {
    id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// `disable` (the link, for abuse, on every node) or `dismiss`.
    #[serde(default)]
    action: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportListParams {
    /// `open` (default) or `resolved`.
    status: Option<String>,
    /// 1 to 1,000; default 50.
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportList {
    items: Vec<ReportResponse>,
    next_cursor: Option<String>,
}

/// Report a link as abusive. Anyone may, without a key; each client has a
/// small budget (`limits.reports_per_hour`).
#[utoipa::path(post, path = "/api/v1/reports", tag = "reports",
    request_body = CreateReportRequest,
    responses(
        (status = 202, description = "Received", body = ReportCreated),
        (status = 400, description = "Bad body (40000) or field (40030: `slug`, `reason`, `details`)"),
        (status = 404, description = "No such link (40401)"),
        (status = 429, description = "Past the report budget (42901, `Retry-After`)"),
    ))]
pub async fn create_report(
    State(state): State<AppState>,
    client: Option<Extension<ClientIp>>,
    body: Result<ApiJson<CreateReportRequest>, ApiError>,
) -> Result<(StatusCode, Json<ReportCreated>), ApiError> {
    let ip = client.map(|Extension(ClientIp(ip))| ip);
    // The budget before the body: a malformed report costs one too.
    if let (Some(limits), Some(ip)) = (state.limits.as_deref(), ip) {
        if let Err(e) = limits.check_report(ip).await {
            state.metrics.rate_limited(Limit::Report);
            return Err(e);
        }
    }
    let ApiJson(req) = body?;
    let filed = FileReport {
        slug: req.slug,
        reason: req.reason,
        details: req.details,
    };
    let report = state.reports.file(filed, ip).await?;
    Ok((StatusCode::ACCEPTED, Json(ReportCreated { id: report.id })))
}

/// Admins: reports, newest first; open ones unless `status=resolved`.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", params(ReportListParams),
    responses(
        (status = 200, body = ReportList),
        (status = 400, description = "Bad `status`, `limit` or `cursor` (40030)"),
        (status = 401, description = "40101"), (status = 403, description = "Not an admin (40301)"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list_reports(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(params): ApiQuery<ReportListParams>,
) -> Result<Json<ReportList>, ApiError> {
    let after = params
        .cursor
        .as_deref()
        .map(cursor::decode)
        .transpose()?
        .map(|(created_at_ms, id)| Cursor { created_at_ms, id });
    let page = state
        .reports
        .list(&who, params.status.as_deref(), params.limit, after)
        .await?;
    Ok(Json(ReportList {
        items: page.items.into_iter().map(ReportResponse::from).collect(),
        next_cursor: page.next.map(|c| cursor::encode(c.created_at_ms, c.id)),
    }))
}

/// Admins: resolve a report. `disable` disables the link for abuse on
/// every node at once (and closes the link's other open reports);
/// `dismiss` closes this one. The same action again answers the report as
/// it stands; the other one 409 (40903).
#[utoipa::path(post, path = "/api/v1/reports/{id}/resolve", tag = "reports",
    params(("id" = i64, Path)),
    request_body = ResolveRequest,
    responses(
        (status = 200, body = ReportResponse),
        (status = 400, description = "Bad `action` (40030)"),
        (status = 401, description = "40101"), (status = 403, description = "40301"),
        (status = 404, description = "No such report (40401)"),
        (status = 409, description = "Resolved before with the other action (40903)"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn resolve_report(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<ResolveRequest>,
) -> Result<Json<ReportResponse>, ApiError> {
    let report = state.reports.resolve(&who, id, &req.action).await?;
    Ok(Json(report.into()))
}
