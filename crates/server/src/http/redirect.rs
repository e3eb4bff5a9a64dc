//! The hot path: `GET /{slug}` redirects, plus the pages that live beside it
//! (API.md, "Redirects and pages"). No body-parsing layers here, and nothing
//! that waits on analytics.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use kurz_core::link::Link;
use kurz_core::service::Resolution;

use super::api::rfc3339;
use super::error::ApiError;
use super::extract::{ApiForm, ApiPath};
use super::{pages, AppState};
use crate::secret;

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

#[derive(Debug, Deserialize)]
pub struct UnlockForm {
    password: String,
}

/// Submit the password of a protected link; the right one redirects (303, so
/// the browser follows with a GET), a wrong one answers 401.
#[utoipa::path(post, path = "/{slug}", tag = "pages",
    params(("slug" = String, Path)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`password=...`"),
    responses(
        (status = 303, description = "Right password: redirect to the target"),
        (status = 401, description = "Wrong password (40102)"),
        (status = 404, description = "40401"), (status = 410, description = "41001"),
    ))]
pub async fn unlock_link(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    uri: Uri,
    headers: HeaderMap,
    form: Result<ApiForm<UnlockForm>, ApiError>,
) -> Response {
    let link = match state.redirector.resolve(&slug).await {
        Ok(Resolution::Redirect(link) | Resolution::Protected(link)) => link,
        Ok(Resolution::NotFound) => return pages::error(ApiError::NotFound, &headers),
        Ok(Resolution::Gone) => return pages::error(ApiError::Gone, &headers),
        Err(e) => return pages::error(e.into(), &headers),
    };
    if let Some(hash) = link.password_hash.clone() {
        let ApiForm(form) = match form {
            Ok(f) => f,
            Err(e) => return pages::error(e, &headers),
        };
        match secret::verify_password(hash, form.password).await {
            Ok(true) => {}
            Ok(false) if pages::wants_html(&headers) => {
                return pages::password_form(&slug, StatusCode::UNAUTHORIZED, true);
            }
            Ok(false) => return ApiError::WrongPassword.into_response(),
            Err(e) => return pages::error(ApiError::internal(e), &headers),
        }
    }
    match state.redirector.count_visit(&link).await {
        Ok(true) => redirect(&state, &link, StatusCode::SEE_OTHER.as_u16(), uri.query()),
        Ok(false) => pages::error(ApiError::Gone, &headers),
        Err(e) => pages::error(e.into(), &headers),
    }
}

async fn preview(state: &AppState, slug: &str, headers: &HeaderMap) -> Response {
    let (link, target_visible) = match state.redirector.resolve(slug).await {
        Ok(Resolution::Redirect(link)) => (link, true),
        Ok(Resolution::Protected(link)) => (link, false),
        Ok(Resolution::NotFound) => return pages::error(ApiError::NotFound, headers),
        Ok(Resolution::Gone) => return pages::error(ApiError::Gone, headers),
        Err(e) => return pages::error(e.into(), headers),
    };
    pages::preview(
        &state.site.short_url(&link.slug),
        target_visible.then_some(link.url.as_str()),
        &rfc3339(link.created_at),
        link.visits,
    )
}

/// The redirect itself. Links that count each visit against a limit or sit
/// behind a password must not be cached by the browser; the rest get the
/// configured `Cache-Control`.
fn redirect(state: &AppState, link: &Link, status: u16, query: Option<&str>) -> Response {
    let location = match query.filter(|q| link.forward_query && !q.is_empty()) {
        Some(q) => {
            let (base, fragment) = match link.url.split_once('#') {
                Some((b, f)) => (b, Some(f)),
                None => (link.url.as_str(), None),
            };
            let sep = if base.contains('?') { '&' } else { '?' };
            let mut out = format!("{base}{sep}{q}");
            if let Some(f) = fragment {
                out.push('#');
                out.push_str(f);
            }
            HeaderValue::try_from(out)
        }
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
