//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use std::sync::OnceLock;

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::api::{accounts, links, qr, reports, review, stats};
use super::{ops, redirect, ui, AppState};

#[derive(OpenApi)]
#[openapi(
    info(title = "kurz", description = "A self-hostable short-link service. Every error answer is \
        `{\"error\": {\"code\", \"message\", \"field\"}}` with a five-digit code."),
    paths(
        links::create_link, links::list_links, links::get_link, links::update_link,
        links::delete_link, qr::link_qr,
        stats::get_link_stats, stats::list_visits, stats::get_stats,
        accounts::create_user, accounts::create_key, accounts::list_keys, accounts::revoke_key,
        reports::create_report, reports::list_reports, reports::resolve_report,
        review::list_review,
        openapi_json,
        ui::home::page, redirect::follow_link, redirect::unlock_link, redirect::report_link,
        ops::healthz, ops::readyz, ops::metrics,
    ),
    modifiers(&Security),
)]
#[derive(Debug)]
pub struct ApiDoc;

#[derive(Debug)]
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(openapi_json))
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 JSON")))]
pub async fn openapi_json() -> Json<&'static utoipa::openapi::OpenApi> {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    Json(DOC.get_or_init(ApiDoc::openapi))
}
