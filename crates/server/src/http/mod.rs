//! The HTTP edge: state, the merged routers, and the layers around them.
//!
//! Each feature owns its router (`redirect`, `api::links`, `api::accounts`,
//! `ops`, `openapi`); [`router`] merges them and adds the layers. The
//! redirect router gets no body or timeout layer: only its password form
//! reads a body, and reads it itself (`body::read`).

pub mod api;
pub mod body;
pub mod client_ip;
pub mod error;
pub mod extract;
pub mod hot;
pub mod limit;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod redirect;
pub mod render;
pub mod robots;
pub mod shlink;
pub mod trace;
pub mod ui;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use kurz_core::link::RedirectCode;
use kurz_core::ports::Health;
use kurz_core::service::{
    AccountService, CatalogService, LinkService, Redirector, ReportService, StatsService,
};
use kurz_store::cache::Redis;

use crate::metrics::Metrics;

use self::error::ApiError;
use self::limit::Limits;

/// Largest request body the API reads.
pub const MAX_BODY: usize = 1024 * 1024;

/// Instance facts the handlers need to shape answers.
#[derive(Debug)]
pub struct Site {
    /// The origin short URLs start with, without a trailing slash.
    pub base_url: String,
    /// `Cache-Control` of redirects that may be cached, made once.
    pub cache_control: HeaderValue,
    /// The `max-age` in [`Self::cache_control`].
    pub cache_max_age: u32,
    pub default_redirect: RedirectCode,
    /// Whether requests without an API key may create links.
    pub allow_anonymous: bool,
    pub request_timeout: Duration,
    /// Longest time a client may take to send a request body.
    pub body_timeout: Duration,
    /// How long a UI login lasts.
    pub session_ttl: time::Duration,
    /// Origins allowed to call `/rest/` from a browser (`*`: any).
    pub rest_origins: Vec<String>,
}

impl Site {
    pub fn short_url(&self, slug: &str) -> String {
        format!("{}/{slug}", self.base_url)
    }
}

/// Everything a handler can reach: the use cases and the instance's facts.
/// One `Arc`, so the clone each handler and middleware takes is a single
/// reference count, not one per field. No repository: handlers reach the
/// store only through the core's use cases.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Handlers>);

impl AppState {
    pub fn new(handlers: Handlers) -> Self {
        Self(Arc::new(handlers))
    }
}

impl FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

impl std::ops::Deref for AppState {
    type Target = Handlers;

    fn deref(&self) -> &Handlers {
        &self.0
    }
}

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Handlers {
    /// The API's links.
    pub links: Arc<LinkService>,
    /// The redirect path: `/{slug}`, its password form and preview.
    pub redirector: Arc<Redirector>,
    /// Stats and raw visits.
    pub stats: Arc<StatsService>,
    /// Numbered, counted pages of links, tags and visits (Shlink's API).
    pub catalog: Arc<CatalogService>,
    /// The last `/robots.txt`.
    pub robots: robots::RobotsCache,
    /// Users, keys, and who a key belongs to.
    pub accounts: Arc<AccountService>,
    /// Abuse reports: filed from the API and the preview page.
    pub reports: Arc<ReportService>,
    /// Readiness.
    pub health: Arc<dyn Health>,
    /// Reported by `/readyz` when configured.
    pub redis: Option<Arc<Redis>>,
    pub site: Arc<Site>,
    /// `None` when rate limits are off.
    pub limits: Option<Arc<Limits>>,
    pub metrics: Arc<Metrics>,
    /// Whether `/metrics` is served here (not on a listener of its own).
    pub metrics_here: bool,
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(api::links::router())
        .merge(api::accounts::router())
        .merge(api::stats::router())
        .merge(api::qr::router())
        .merge(api::reports::router())
        .merge(api::review::router())
        .merge(openapi::router())
        // Outermost last: limits and the key first, then the body, read
        // whole under its own time-out, then the handler under the request
        // time-out.
        .layer(middleware::from_fn_with_state(state.clone(), timeout))
        .layer(middleware::from_fn_with_state(state.clone(), body::buffer))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limit::guard_api,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    // The hot path gets its limit layer only when limits are on: a layer
    // that does nothing still costs a boxed future per redirect.
    let redirect = match &state.limits {
        Some(_) => redirect::router().layer(middleware::from_fn_with_state(
            state.clone(),
            limit::limit_redirects,
        )),
        None => redirect::router(),
    };
    let metrics = state.metrics.clone();
    let mut app = Router::new()
        .merge(api)
        .merge(ui::router(&state))
        .merge(shlink::router(&state))
        .merge(robots::router())
        .merge(redirect)
        .merge(ops::router());
    if state.metrics_here {
        app = app.merge(ops::metrics_router());
    }
    let app = app
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    with_edge_layers(app, metrics)
}

/// The layers every route gets, outermost last: panics become 500 / 50000,
/// and every answer, that one included, carries a trace ID and is counted.
pub fn with_edge_layers(app: Router, metrics: Arc<Metrics>) -> Router {
    app.layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(metrics, trace::trace))
}

// tower-http's CatchPanicLayer hands the panic payload over by value.
#[allow(clippy::needless_pass_by_value)]
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    ApiError::internal(format!("handler panicked: {detail}")).into_response()
}

pub(crate) async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.site.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable("the request timed out".into()).into_response(),
    }
}

/// Unknown routes: a page for browsers, the API's JSON for the rest.
async fn not_found(headers: axum::http::HeaderMap) -> Response {
    pages::error(ApiError::NotFound, &headers)
}

async fn method_not_allowed(headers: axum::http::HeaderMap) -> Response {
    pages::error(ApiError::MethodNotAllowed, &headers)
}
