//! Extractors whose rejections are `ApiError`s, so a bad body, query or path
//! gets the API's error JSON instead of axum's plain text.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};

use kurz_core::account::Principal;

use super::error::ApiError;
use super::AppState;

#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

fn body_rejection(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // Bodies are read (and their size checked) by `body::buffer` before
        // any extractor; this is axum's own limit agreeing with it.
        ApiError::TooLarge(super::MAX_BODY)
    } else {
        ApiError::BadRequest(text)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        body_rejection(r.status(), r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::BadRequest(r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError::NotFound
    }
}

/// The API key of a request: `Authorization: Bearer <key>` or `X-Api-Key`.
fn api_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let (scheme, key) = v.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| key.trim());
    }
    headers.get("x-api-key")?.to_str().ok().map(str::trim)
}

/// Who is calling, as the API guard found it: `None` without a key. The
/// guard (`limit::guard_api`) looks the key up once, before the per-key
/// limit, and leaves this in the request's extensions.
#[derive(Debug, Clone)]
pub struct Caller(pub Option<Principal>);

/// The principal behind a request's key: `None` without a key header, 401
/// for a key that is malformed, unknown or revoked.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, ApiError> {
    let has_key_header =
        headers.contains_key(header::AUTHORIZATION) || headers.contains_key("x-api-key");
    if !has_key_header {
        return Ok(None);
    }
    let key = api_key(headers).ok_or(ApiError::Unauthenticated)?;
    let principal = state
        .accounts
        .authenticate(&crate::secret::hash_key(key))
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    Ok(Some(principal))
}

/// A caller with a valid API key; 401 otherwise.
#[derive(Debug)]
pub struct Auth(pub Principal);

/// A caller that may be anonymous; a key that is present must be valid.
#[derive(Debug)]
pub struct MaybeAuth(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match parts.extensions.remove::<Caller>() {
            Some(Caller(who)) => Ok(Self(who)),
            // Only API routes take these extractors, and the guard runs on
            // all of them; this is the path of a router built without it.
            None => authenticate(state, &parts.headers).await.map(Self),
        }
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match MaybeAuth::from_request_parts(parts, state).await? {
            MaybeAuth(Some(p)) => Ok(Self(p)),
            MaybeAuth(None) => Err(ApiError::Unauthenticated),
        }
    }
}
