//! Health, domains and the Mercure hub (kurz has none).

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::authority;
use super::problem::Problem;
use crate::http::extract::Auth;
use crate::http::AppState;

/// The Shlink version kurz answers as: Shlink's clients turn features on
/// by version, and 4.0.0 has every one kurz serves.
pub(super) const SHLINK_VERSION: &str = "4.0.0";

pub(super) fn routes(prefix: &str) -> Router<AppState> {
    Router::new()
        .route(&format!("{prefix}/domains"), get(domains))
        .route(&format!("{prefix}/mercure-info"), get(mercure))
}

/// Health needs no key.
pub(super) fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/rest/health", get(health))
        .route("/rest/v2/health", get(health))
        .route("/rest/v3/health", get(health))
}

async fn health(State(state): State<AppState>) -> Response {
    let (status, code) = match state.health.ping().await {
        Ok(()) => ("pass", StatusCode::OK),
        Err(_) => ("fail", StatusCode::SERVICE_UNAVAILABLE),
    };
    let body = json!({
        "status": status,
        "version": SHLINK_VERSION,
        "links": {
            "about": "https://shlink.io",
            "project": "https://github.com/shlinkio/shlink",
        },
    });
    (
        code,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/health+json"),
        )],
        body.to_string(),
    )
        .into_response()
}

async fn domains(State(state): State<AppState>, Auth(_): Auth) -> Json<serde_json::Value> {
    let none = json!({
        "baseUrlRedirect": null,
        "regular404Redirect": null,
        "invalidShortUrlRedirect": null,
    });
    Json(json!({
        "domains": {
            "data": [{
                "domain": authority(&state.site.base_url),
                "isDefault": true,
                "redirects": none,
            }],
            "defaultRedirects": none,
        }
    }))
}

async fn mercure(Auth(_): Auth) -> Problem {
    Problem::mercure_not_configured()
}
