//! The hot path: `GET /{slug}` redirects, plus the pages that live beside it
//! (API.md, "Redirects and pages"). The core's [`Redirector`] decides every
//! outcome; these handlers only map it to HTTP. No body-parsing layers
//! here, and nothing that waits on analytics.
//!
//! [`Redirector`]: kurz_core::service::Redirector

use std::borrow::Cow;
use std::net::IpAddr;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use kurz_core::error::ReportError;
use kurz_core::link::DisabledReason;
use kurz_core::service::{
    CachePolicy, FileReport, Outcome, Previewed, Redirect, Unlock, Visit, Visitor,
};

use super::error::ApiError;
use super::extract::ApiPath;
use super::ui::session::lang_of;
use super::{body, limit, pages, AppState};
use crate::metrics::{Limit, RedirectResult};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{slug}", get(follow_link).post(unlock_link))
        .route("/{slug}/report", post(report_link))
}

/// The 410 of a link that does not redirect; the instance's own reason,
/// when it disabled the link, is said.
fn gone(why: Option<DisabledReason>) -> ApiError {
    why.map_or(ApiError::Gone, ApiError::Disabled)
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
pub async fn follow_link(State(state): State<AppState>, req: Request) -> Response {
    // Borrowed from the request, not extracted: no copy of the path or the
    // headers on the hot path.
    let Some(slug) = slug_of(req.uri()) else {
        return pages::error(ApiError::NotFound, req.headers());
    };
    let client = limit::client_ip(&req);
    if let Some(slug) = slug.strip_suffix('+') {
        return preview(&state, slug, req.headers(), client).await;
    }
    follow(
        &state,
        &slug,
        req.method(),
        req.uri(),
        req.headers(),
        client,
    )
    .await
}

/// `GET`/`HEAD` of a slug, as the router and the hot path (`hot.rs`) both
/// answer it.
pub(crate) async fn follow(
    state: &AppState,
    slug: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Response {
    let visit = Visit {
        counted: method != Method::HEAD,
        query: uri.query(),
        visitor: visitor(headers, client),
    };
    let m = &state.metrics;
    match state.redirector.follow(slug, visit).await {
        Ok(Outcome::Redirect(r)) => {
            m.redirect(RedirectResult::Redirect);
            redirect(state, r)
        }
        Ok(Outcome::PasswordRequired) => {
            m.redirect(RedirectResult::Protected);
            pages::password_form(lang_of(headers), slug, StatusCode::OK, false)
        }
        Ok(Outcome::Withheld) => {
            m.redirect(RedirectResult::Protected);
            pages::confirm_visit(lang_of(headers), slug)
        }
        Ok(Outcome::NotFound) => {
            m.redirect(RedirectResult::NotFound);
            count_miss(state, client);
            pages::error(ApiError::NotFound, headers)
        }
        Ok(Outcome::Gone(why)) => {
            m.redirect(RedirectResult::Gone);
            pages::error(gone(why), headers)
        }
        Err(e) => pages::error(e.into(), headers),
    }
}

/// Who a request comes from, as a click records it.
fn visitor(headers: &HeaderMap, client: Option<IpAddr>) -> Visitor<'_> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    Visitor {
        referrer: text(header::REFERER),
        user_agent: text(header::USER_AGENT),
        ip: client,
    }
}

/// The `{slug}` segment, percent-decoded as the router's `Path` would; a
/// plain slug (the usual case) is borrowed. `None` when it is not UTF-8.
fn slug_of(uri: &Uri) -> Option<Cow<'_, str>> {
    let raw = uri.path().strip_prefix('/').unwrap_or(uri.path());
    percent_decode_str(raw).decode_utf8().ok()
}

/// Largest password form accepted: a 1,024-character password, encoded.
const FORM_LIMIT: usize = 16 * 1024;
/// Largest report form accepted: 2,000 characters of details, each up to
/// twelve bytes once percent-encoded (four UTF-8 bytes as `%XX`), and the
/// reason.
const REPORT_FORM_LIMIT: usize = 32 * 1024;

#[derive(Debug, Deserialize)]
pub struct UnlockForm {
    password: String,
}

/// The fields of the preview page's report form.
#[derive(Debug, Deserialize)]
pub struct ReportForm {
    #[serde(default)]
    reason: String,
    details: Option<String>,
}

/// A form's body: size- and time-bounded, then parsed.
async fn read_form<T: DeserializeOwned>(
    state: &AppState,
    req: Request,
    limit: usize,
) -> Result<T, ApiError> {
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
    let bytes = body::read(req.into_body(), limit, state.site.body_timeout).await?;
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
    let peer = limit::client_ip(&req);
    let visit = Visit {
        counted: true,
        query: query.as_deref(),
        visitor: visitor(&headers, peer),
    };
    // A link without a password redirects whatever was sent; only a
    // protected one needs the form, and then its faults are the answer.
    let (password, form_error) = match read_form::<UnlockForm>(&state, req, FORM_LIMIT).await {
        Ok(form) => (Some(form.password), None),
        Err(e) => (None, Some(e)),
    };
    // Guessing is limited per link and client, counted only when a
    // password is about to be checked.
    let limits = state.limits.as_deref();
    let gate = |link_id| async move {
        match (limits, peer) {
            (Some(limits), Some(ip)) => limits.check_password_attempt(link_id, ip).await,
            _ => Ok(()),
        }
    };
    let m = &state.metrics;
    match state.redirector.unlock(&slug, password, visit, gate).await {
        Ok(Unlock::Throttled(wait)) => {
            m.rate_limited(Limit::Password);
            pages::error(ApiError::RateLimited(wait), &headers)
        }
        Ok(Unlock::PasswordMissing) => pages::error(
            form_error.unwrap_or_else(|| ApiError::BadRequest("a password is required".into())),
            &headers,
        ),
        Ok(Unlock::Redirect(r)) => {
            m.redirect(RedirectResult::Redirect);
            redirect(&state, r)
        }
        Ok(Unlock::WrongPassword) => {
            m.redirect(RedirectResult::Protected);
            if pages::wants_html(&headers) {
                pages::password_form(lang_of(&headers), &slug, StatusCode::UNAUTHORIZED, true)
            } else {
                ApiError::WrongPassword.into_response()
            }
        }
        Ok(Unlock::NotFound) => {
            m.redirect(RedirectResult::NotFound);
            count_miss(&state, peer);
            pages::error(ApiError::NotFound, &headers)
        }
        Ok(Unlock::Gone(why)) => {
            m.redirect(RedirectResult::Gone);
            pages::error(gone(why), &headers)
        }
        Err(e) => pages::error(e.into(), &headers),
    }
}

/// Report a link from its preview page: the form posts here, and the
/// answer is a page (202 thanking, or the form again with what was wrong).
/// The same budget as `POST /api/v1/reports`.
#[utoipa::path(post, path = "/{slug}+/report", tag = "pages",
    params(("slug" = String, Path)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`reason=phishing|malware|spam|other&details=...`"),
    responses(
        (status = 202, description = "Received: a thank-you page"),
        (status = 400, description = "The form again, saying what is wrong (40030)"),
        (status = 404, description = "40401"),
        (status = 429, description = "Too many reports (42901)"),
    ))]
pub async fn report_link(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<String>,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    // Routed as `/{slug}/report`: only the preview's `+` form is this page.
    let Some(slug) = path.strip_suffix('+').map(str::to_owned) else {
        return pages::error(ApiError::NotFound, &headers);
    };
    let client = limit::client_ip(&req);
    if let (Some(limits), Some(ip)) = (state.limits.as_deref(), client) {
        if let Err(e) = limits.check_report(ip).await {
            state.metrics.rate_limited(Limit::Report);
            return pages::error(e, &headers);
        }
    }
    let form: ReportForm = match read_form(&state, req, REPORT_FORM_LIMIT).await {
        Ok(form) => form,
        Err(e) => return pages::error(e, &headers),
    };
    let filed = FileReport {
        slug: slug.clone(),
        reason: form.reason.clone(),
        details: form.details.clone(),
    };
    match state.reports.file(filed, client).await {
        Ok(_) => pages::report_received(lang_of(&headers), &slug),
        Err(ReportError::Invalid { message, .. }) => {
            let again = pages::ReportFormState {
                reason: Some(&form.reason),
                details: form.details.as_deref(),
                error: Some(message),
            };
            pages::report_refused(lang_of(&headers), &slug, StatusCode::BAD_REQUEST, &again)
        }
        Err(e) => pages::error(e.into(), &headers),
    }
}

/// A "no such link" answered on the redirect path (a redirect, a preview or
/// the password form), against the client's budget for them: every route
/// that tells a slug exists from one that does not counts (ADR 0019).
fn count_miss(state: &AppState, client: Option<IpAddr>) {
    if let (Some(limits), Some(ip)) = (state.limits.as_deref(), client) {
        limits.not_found(ip);
    }
}

async fn preview(
    state: &AppState,
    slug: &str,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Response {
    match state.redirector.preview(slug).await {
        Ok(Previewed::Found(p)) => pages::preview(
            lang_of(headers),
            slug,
            &state.site.short_url(slug),
            p.target.as_deref().map_err(|h| *h),
            &crate::http::ui::fields::show_time(p.created_at),
            p.visits,
        ),
        Ok(Previewed::NotFound) => {
            count_miss(state, client);
            pages::error(ApiError::NotFound, headers)
        }
        Ok(Previewed::Gone(why)) => pages::error(gone(why), headers),
        Err(e) => pages::error(e.into(), headers),
    }
}

/// The answer to a redirect outcome: status, `Location` (the target's
/// bytes, moved, not copied) and `Cache-Control`.
fn redirect(state: &AppState, r: Redirect) -> Response {
    let location = Bytes::from(r.location.into_boxed_bytes());
    let Ok(location) = HeaderValue::from_maybe_shared(location) else {
        return ApiError::internal("a stored target is not a valid header value").into_response();
    };
    let cache = match r.cache {
        CachePolicy::MaxAge(age) if age == state.site.cache_max_age => {
            state.site.cache_control.clone()
        }
        CachePolicy::MaxAge(age) => HeaderValue::from_str(&format!("private, max-age={age}"))
            .unwrap_or_else(|_| HeaderValue::from_static("no-store")),
        CachePolicy::NoStore => HeaderValue::from_static("no-store"),
    };
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::FOUND);
    let h = response.headers_mut();
    h.insert(header::LOCATION, location);
    h.insert(header::CACHE_CONTROL, cache);
    response
}
