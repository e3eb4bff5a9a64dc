//! The hot path: `GET /{slug}` redirects, plus the pages that live beside it
//! (API.md, "Redirects and pages"). No body-parsing layers here, and nothing
//! that waits on analytics.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use kurz_core::link::{self, Link};
use kurz_core::service::Resolution;

use super::api::rfc3339;
use super::error::ApiError;
use super::extract::ApiPath;
use super::{body, limit, pages, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/{slug}", get(follow_link).post(unlock_link))
}

/// The landing page.
#[utoipa::path(get, path = "/", tag = "pages", responses((status = 200, description = "HTML")))]
pub async fn index() -> Response {
    pages::index()
}

/// Follow a short link (GET and HEAD; HEAD counts no click). `/{slug}+`
/// shows a preview page instead.
#[utoipa::path(get, path = "/{slug}", tag = "pages",
    params(("slug" = String, Path, description = "A slug, or a slug followed by `+` for its preview")),
    responses(
        (status = 301, description = "Redirect (per link: 301, 302, 307 or 308)"),
        (status = 302, description = "Redirect"),
        (status = 200, description = "Password form, or the preview page for `/{slug}+`"),
        (status = 404, description = "Unknown slug (40401)"),
        (status = 410, description = "Expired, disabled or at its visit limit (41001)"),
    ))]
pub async fn follow_link(
    State(state): State<AppState>,
    method: Method,
    ApiPath(slug): ApiPath<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(slug) = slug.strip_suffix('+') {
        return preview(&state, slug, &headers).await;
    }
    let link = match state.redirector.resolve(&slug).await {
        Ok(Resolution::Redirect(link)) => link,
        Ok(Resolution::Protected(_)) => {
            return pages::password_form(&slug, StatusCode::OK, false);
        }
        Ok(Resolution::NotFound) => return pages::error(ApiError::NotFound, &headers),
        Ok(Resolution::Gone) => return pages::error(ApiError::Gone, &headers),
        Err(e) => return pages::error(e.into(), &headers),
    };
    if method != Method::HEAD {
        match state.redirector.count_visit(&link).await {
            Ok(true) => {}
            Ok(false) => return pages::error(ApiError::Gone, &headers),
            Err(e) => return pages::error(e.into(), &headers),
        }
    }
    let status = link.redirect_code(state.site.default_redirect).get();
    redirect(&state, &link, status, uri.query())
}

/// Largest password form accepted: a 1,024-character password, encoded.
const FORM_LIMIT: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
pub struct UnlockForm {
    password: String,
}

/// The password form's body: size- and time-bounded, then parsed.
async fn read_form(state: &AppState, req: Request) -> Result<UnlockForm, ApiError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(ApiError::BadRequest(
            "expected a form (application/x-www-form-urlencoded)".into(),
        ));
    }
    let bytes = body::read(req.into_body(), FORM_LIMIT, state.site.body_timeout).await?;
    serde_urlencoded::from_bytes(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("the form cannot be read: {e}")))
}

/// Submit the password of a protected link; the right one redirects (303, so
/// the browser follows with a GET), a wrong one answers 401. Attempts are
/// limited per link and client.
#[utoipa::path(post, path = "/{slug}", tag = "pages",
    params(("slug" = String, Path)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`password=...`"),
    responses(
        (status = 303, description = "Right password: redirect to the target"),
        (status = 401, description = "Wrong password (40102)"),
        (status = 404, description = "40401"), (status = 410, description = "41001"),
        (status = 429, description = "Too many attempts (42901)"),
    ))]
pub async fn unlock_link(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    let query = req.uri().query().map(str::to_owned);
    let link = match state.redirector.resolve(&slug).await {
        Ok(Resolution::Redirect(link) | Resolution::Protected(link)) => link,
        Ok(Resolution::NotFound) => return pages::error(ApiError::NotFound, &headers),
        Ok(Resolution::Gone) => return pages::error(ApiError::Gone, &headers),
        Err(e) => return pages::error(e.into(), &headers),
    };
    if let Some(hash) = link.password_hash.clone() {
        if let (Some(limits), Some(ip)) = (state.limits.as_deref(), limit::peer_ip(&req)) {
            if let Err(e) = limits.check_password_attempt(link.id, ip) {
                return pages::error(e, &headers);
            }
        }
        let form = match read_form(&state, req).await {
            Ok(f) => f,
            Err(e) => return pages::error(e, &headers),
        };
        match state.hasher.verify(hash, form.password).await {
            Ok(true) => {}
            Ok(false) if pages::wants_html(&headers) => {
                return pages::password_form(&slug, StatusCode::UNAUTHORIZED, true);
            }
            Ok(false) => return ApiError::WrongPassword.into_response(),
            Err(e) => return pages::error(e.into(), &headers),
        }
    }
    match state.redirector.count_visit(&link).await {
        Ok(true) => redirect(
            &state,
            &link,
            StatusCode::SEE_OTHER.as_u16(),
            query.as_deref(),
        ),
        Ok(false) => pages::error(ApiError::Gone, &headers),
        Err(e) => pages::error(e.into(), &headers),
    }
}

/// The preview shows where a link goes, except when seeing it is what the
/// link guards: behind a password, or on a visit-limited link, whose target
/// would otherwise be readable without using up a visit (ADR 0009).
async fn preview(state: &AppState, slug: &str, headers: &HeaderMap) -> Response {
    let link = match state.redirector.resolve(slug).await {
        Ok(Resolution::Redirect(link) | Resolution::Protected(link)) => link,
        Ok(Resolution::NotFound) => return pages::error(ApiError::NotFound, headers),
        Ok(Resolution::Gone) => return pages::error(ApiError::Gone, headers),
        Err(e) => return pages::error(e.into(), headers),
    };
    let target = if link.password_hash.is_some() {
        Err(pages::Hidden::Password)
    } else if link.max_visits.is_some() {
        Err(pages::Hidden::VisitLimit)
    } else {
        Ok(link.url.as_str())
    };
    pages::preview(
        &state.site.short_url(&link.slug),
        target,
        &rfc3339(link.created_at),
        link.visits,
    )
}

/// The redirect itself. Links that count each visit against a limit or sit
/// behind a password must not be cached by the browser; the rest get the
/// configured `Cache-Control`.
fn redirect(state: &AppState, link: &Link, status: u16, query: Option<&str>) -> Response {
    let location = match query.filter(|q| link.forward_query && !q.is_empty()) {
        Some(q) => HeaderValue::try_from(link::with_forwarded_query(&link.url, q)),
        None => HeaderValue::try_from(link.url.as_str()),
    };
    let Ok(location) = location else {
        return ApiError::internal("a stored target is not a valid header value").into_response();
    };
    let cache = if link.max_visits.is_some() || link.password_hash.is_some() {
        HeaderValue::from_static("no-store")
    } else {
        state.site.cache_control.clone()
    };
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
    let h = response.headers_mut();
    h.insert(header::LOCATION, location);
    h.insert(header::CACHE_CONTROL, cache);
    response
}
