//! The hot path: `GET` and `HEAD /{slug}` answered before the router.
//!
//! Redirects are most of the traffic, and the router's generality (route
//! matching, boxed middleware, cloned services) cost a tenth of a redirect's
//! time. A request whose path is one slug-shaped segment, not a reserved
//! word, is answered here with exactly what the router would do (the same
//! handler code, `redirect::follow`), and with what the router's layers
//! add: the redirect rate limit, the trace ID, the log line, and a panic
//! turned into 500 / 50000. Everything else (previews, the password form,
//! percent-encoded paths, the API) goes to the router. ADR 0014.

use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use axum::http::{Method, Request};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use tracing::Instrument;

use kurz_core::service::redirect::could_be_slug;
use kurz_core::slug::is_reserved;

use super::error::ApiError;
use super::{pages, redirect, trace, AppState};
use crate::metrics;

/// The slug a request is for, if the hot path answers it.
pub fn slug_of<B>(req: &Request<B>) -> Option<&str> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let slug = req.uri().path().strip_prefix('/')?;
    (could_be_slug(slug) && !is_reserved(slug)).then_some(slug)
}

/// Answers a request [`slug_of`] accepted, which the caller (the accept
/// loop, the only one) has asked: it is not asked again here.
pub(crate) async fn answer<B>(state: &AppState, req: Request<B>, client: IpAddr) -> Response {
    let started = Instant::now();
    let (span, trace_id) =
        trace::request_span(req.headers(), req.method(), metrics::REDIRECT_ROUTE, false);
    debug_assert!(slug_of(&req).is_some(), "the hot path only takes slugs");
    let slug = req.uri().path().get(1..).unwrap_or_default();
    let limited = state
        .limits
        .as_deref()
        .map_or(Ok(()), |l| l.check_redirect(client));
    let mut response = match limited {
        Ok(()) => {
            let answer = redirect::follow(
                state,
                slug,
                req.method(),
                req.uri(),
                req.headers(),
                Some(client),
            );
            AssertUnwindSafe(answer.instrument(span.clone()))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    ApiError::internal("handler panicked on the redirect path").into_response()
                })
        }
        Err((which, e)) => {
            state.metrics.rate_limited(which);
            pages::error(e, req.headers())
        }
    };
    trace::finish_redirect(
        &state.metrics,
        (&span, &trace_id),
        req.method(),
        started,
        &mut response,
    );
    response
}
