//! Health endpoints for load balancers and orchestrators (API.md,
//! "Operations"), and `/metrics` for Prometheus.

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::error::ApiError;
use super::AppState;
use crate::metrics::Metrics;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// `/metrics`, on the main listener (the default) or on its own.
pub fn metrics_router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Metrics>: FromRef<S>,
{
    Router::new().route("/metrics", get(metrics))
}

/// The app's metrics in Prometheus's text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format, version 0.0.4")))]
pub async fn metrics(State(metrics): State<Arc<Metrics>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}

/// 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is up")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// 200 when the store answers, with Redis's state when it is configured
/// (`"redis": "up"` or `"down"`: down does not make the node unready); 503
/// (50301) with the reason otherwise.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready"),
        (status = 503, description = "The store does not answer (50301)"),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    // Redis down leaves the node ready: redirects go on from L1 and the
    // store, and taking every node out of the balancer because the cache is
    // gone would turn a slower service into no service.
    let redis = state
        .redis
        .as_ref()
        .map(|r| if r.up() { "up" } else { "down" });
    match state.health.ping().await {
        Ok(()) => match redis {
            Some(redis) => (
                StatusCode::OK,
                Json(json!({"status": "ready", "redis": redis})),
            )
                .into_response(),
            None => (StatusCode::OK, Json(json!({"status": "ready"}))).into_response(),
        },
        Err(e) => ApiError::from(e).into_response(),
    }
}
