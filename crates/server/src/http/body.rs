//! Request bodies, read whole with a size limit and a time limit before any
//! handler sees them. A client that sends slowly, or never finishes, holds
//! its connection for the body time-out at most and gets 408 (40801); a
//! body over the route's limit gets 413 (41301) naming that limit.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::LengthLimitError;

use super::error::ApiError;
use super::{AppState, MAX_BODY};

/// The whole body, at most `limit` bytes, within `timeout`.
pub async fn read(body: Body, limit: usize, timeout: Duration) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(ApiError::BodyTimeout),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            let over_limit =
                std::error::Error::source(&e).is_some_and(|source| source.is::<LengthLimitError>());
            if over_limit {
                Err(ApiError::TooLarge(limit))
            } else {
                // The client broke off mid-body; nobody is left to read
                // the answer, but it must not look like a server fault.
                Err(ApiError::BadRequest(
                    "the request body could not be read".into(),
                ))
            }
        }
    }
}

/// True when the request announces a body larger than `limit`: refused
/// before a byte of it is read.
fn announced_too_large(req: &Request, limit: usize) -> bool {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
}

/// For the API router: every body is read here, whole, before the handler
/// (and its time-out) runs.
pub async fn buffer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if announced_too_large(&req, MAX_BODY) {
        return ApiError::TooLarge(MAX_BODY).into_response();
    }
    let (parts, body) = req.into_parts();
    match read(body, MAX_BODY, state.site.body_timeout).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => e.into_response(),
    }
}
