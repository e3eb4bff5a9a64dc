//! The web UI: server-rendered pages (askama templates under
//! `templates/ui/`, escaped by default), in English and Simplified Chinese,
//! that work without JavaScript. Each area owns its module and its
//! routes; this module holds the frame every page shares, the headers every
//! HTML answer gets, and the error pages.
//!
//! Handlers answer `Result<Response, Response>`: the error is already the
//! page to show, so a large `Err` is the point, not a cost to box away.
#![allow(clippy::result_large_err)]

pub mod account;
pub mod admin;
pub mod assets;
pub mod chart;
pub mod fields;
pub mod home;
pub mod i18n;
pub mod keys;
pub mod links;
pub mod login;
pub mod session;
pub mod stats;

use askama::Template;
use axum::extract::{DefaultBodyLimit, FromRequest, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use kurz_core::account::Principal;
use kurz_core::link::DisabledReason;

use self::assets::AssetUrls;
use self::i18n::{Lang, Tr};
use self::session::{lang_of, Viewer, LANG_COOKIE};
use super::error::ApiError;
use super::AppState;

/// Largest form a page posts: a URL of 8 KiB and the other fields fit many
/// times over.
pub const MAX_FORM: usize = 64 * 1024;

/// What a query value must have escaped.
pub const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'/');

/// The policy of UI pages: scripts and styles only from this site (the
/// one script file, no inline script), images from here or `data:` (QR
/// codes inline), forms only to this site, in no frame.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                       img-src 'self' data:; connect-src 'self'; form-action 'self'; \
                       frame-ancestors 'none'; base-uri 'none'";

/// The UI's routes. Areas add theirs here.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home::page))
        .route("/ui/shorten", axum::routing::post(home::shorten))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", axum::routing::post(login::logout))
        .route("/ui/lang", get(switch_language))
        .route("/static/{file}", get(assets::serve))
        .merge(links::router())
        .merge(keys::router())
        .merge(account::router())
        .merge(admin::router())
        .merge(stats::router())
        .layer(middleware::from_fn_with_state(state.clone(), read_form))
        .layer(DefaultBodyLimit::max(MAX_FORM))
        // Pages and their files compress well (a stats page's SVG by ten
        // times); redirects never pass here.
        .layer(tower_http::compression::CompressionLayer::new())
}

/// Before any UI handler: the client's share of the API's budget (static
/// files aside: a page's own files are no extra work), then the form read
/// whole, within the body time-out and [`MAX_FORM`], as the API does for
/// its bodies.
async fn read_form(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let lang = lang_of(req.headers());
    if let (Some(limits), Some(ip)) = (&state.limits, super::limit::client_ip(&req)) {
        if !req.uri().path().starts_with("/static/") {
            if let Err(wait) = limits.check_ui_client(ip) {
                state.metrics.rate_limited(crate::metrics::Limit::Api);
                return error_page(lang, ApiError::RateLimited(wait));
            }
        }
    }
    let (parts, body) = req.into_parts();
    match super::body::read(body, MAX_FORM, state.site.body_timeout).await {
        Ok(bytes) => {
            let req = Request::from_parts(parts, axum::body::Body::from(bytes));
            match tokio::time::timeout(state.site.request_timeout, next.run(req)).await {
                Ok(response) => response,
                Err(_) => error_page(lang, ApiError::Unavailable("the request timed out".into())),
            }
        }
        Err(e) => error_page(lang, e),
    }
}

/// A form body; one that cannot be read gets the error page (400, 40000).
#[derive(Debug)]
pub struct UiForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for UiForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let lang = lang_of(req.headers());
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(Self(value)),
            Err(e) => Err(error_page(lang, ApiError::BadRequest(e.body_text()))),
        }
    }
}

/// Which item of the navigation a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Home,
    Links,
    Dashboard,
    Keys,
    Admin,
    None,
}

/// The frame of every page: language, who is logged in, the form token.
#[derive(Debug)]
pub struct Page {
    pub lang: Lang,
    pub t: Tr,
    pub user: Option<Principal>,
    pub csrf: String,
    pub title: String,
    pub nav: Nav,
    pub assets: &'static AssetUrls,
    /// The current path and query, escaped for a query value: the
    /// language switch comes back here.
    pub back: String,
}

impl Page {
    pub fn new(
        lang: Lang,
        user: Option<Principal>,
        csrf: String,
        title: String,
        nav: Nav,
        path: &str,
    ) -> Self {
        Self {
            lang,
            t: Tr(lang),
            user,
            csrf,
            title,
            nav,
            assets: assets::urls(),
            back: percent_encoding::utf8_percent_encode(path, QUERY_VALUE).to_string(),
        }
    }

    pub fn langs(&self) -> [Lang; 2] {
        Lang::ALL
    }
}

/// An HTML answer with the headers every page gets.
pub fn html(status: StatusCode, lang: Lang, body: String) -> Response {
    let mut response = (status, axum::response::Html(body)).into_response();
    secure_headers(response.headers_mut(), CSP);
    if let Ok(v) = HeaderValue::from_str(lang.tag()) {
        response.headers_mut().insert(header::CONTENT_LANGUAGE, v);
    }
    response
}

/// Headers of every HTML answer: no framing, no sniffing, no caching
/// (pages show private data and form tokens), and only the origin in the
/// `Referer` of links to other sites.
pub fn secure_headers(h: &mut HeaderMap, csp: &'static str) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
}

/// Renders `template` as the answer to `viewer`.
pub fn render(viewer: &Viewer, status: StatusCode, template: &impl Template) -> Response {
    let response = match template.render() {
        Ok(body) => html(status, viewer.lang, body),
        Err(e) => error_page(viewer.lang, ApiError::internal(e)),
    };
    viewer.finish(response)
}

#[derive(Debug, Template)]
#[template(path = "ui/error.html")]
struct ErrorPage {
    page: Page,
    heading: String,
    message: String,
    code: u32,
}

/// The message of an error in `lang`: the catalog's text for its code,
/// with the detail where the code alone does not say what was wrong.
pub fn error_message(lang: Lang, err: &ApiError) -> String {
    let t = Tr(lang);
    let code = super::render::code(err);
    match err {
        ApiError::Invalid { message, .. } => t.fmt1("errors.invalid", message),
        ApiError::Disabled(DisabledReason::Abuse) => t.owned("errors.disabled_abuse_body"),
        ApiError::Disabled(DisabledReason::Blocklist) => t.owned("errors.disabled_blocklist_body"),
        _ => {
            let key = format!("errors.e{code}");
            if t.has(&key) {
                t.owned(&key)
            } else {
                capitalised(&err.to_string())
            }
        }
    }
}

/// An error as a page in the site's look, for a visitor of `lang`; the
/// status, code and `Retry-After` are the API's. Takes the error as
/// `IntoResponse` does: callers are done with it.
#[allow(clippy::needless_pass_by_value)]
pub fn error_page(lang: Lang, err: ApiError) -> Response {
    err.log();
    let t = Tr(lang);
    let status = err.status();
    let code = super::render::code(&err);
    let heading = match err {
        ApiError::Disabled(DisabledReason::Abuse) => t.get("errors.disabled_abuse").to_owned(),
        _ => {
            let key = format!("errors.t{}", status.as_u16());
            if t.has(&key) {
                t.owned(&key)
            } else {
                t.get("errors.title").to_owned()
            }
        }
    };
    let message = error_message(lang, &err);
    let page = Page::new(lang, None, String::new(), heading.clone(), Nav::None, "/");
    let template = ErrorPage {
        page,
        heading,
        message,
        code,
    };
    let mut response = match template.render() {
        Ok(body) => html(status, lang, body),
        Err(_) => (status, "error").into_response(),
    };
    if let Some(wait) = err.retry_after() {
        super::render::set_retry_after(&mut response, wait);
    }
    response
}

/// A sentence's first letter in upper case (API messages start lower case).
pub fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// A path of this site to go back to, never another site's: a value that
/// is not a plain absolute path (`//evil`, `https:`, `/\evil`) becomes `/`.
pub fn local_path(path: Option<&str>) -> &str {
    match path {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && !p.chars().any(|c| c.is_control()) =>
        {
            p
        }
        _ => "/",
    }
}

#[derive(Debug, Deserialize)]
struct SwitchQuery {
    to: Option<String>,
    back: Option<String>,
}

/// `GET /ui/lang?to=zh-CN&back=/ui/links`: remembers the language for a
/// year and goes back. A link, so it works without script; it changes
/// nothing but how pages read, so it needs no form token.
async fn switch_language(
    State(state): State<AppState>,
    query: Result<Query<SwitchQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return Redirect::to("/").into_response();
    };
    let back = local_path(q.back.as_deref()).to_owned();
    let mut response = Redirect::to(&back).into_response();
    if let Some(lang) = q.to.as_deref().and_then(Lang::parse) {
        let secure = state.site.base_url.starts_with("https://");
        let mut cookie = format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.tag()
        );
        if secure {
            cookie.push_str("; Secure");
        }
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_gone_back_to() {
        assert_eq!(local_path(Some("/ui/links?q=a")), "/ui/links?q=a");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(Some("/a\nb")), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn every_error_code_has_a_message_in_both_languages() {
        use kurz_core::error::Field;
        for lang in Lang::ALL {
            let t = Tr(lang);
            for err in [
                ApiError::NotFound,
                ApiError::Gone,
                ApiError::Csrf,
                ApiError::Forbidden,
                ApiError::RateLimited(std::time::Duration::from_secs(1)),
                ApiError::internal("x"),
            ] {
                let code = super::super::render::code(&err);
                assert!(t.has(&format!("errors.e{code}")), "{lang:?} {code}");
                assert!(t.has(&format!("errors.t{}", err.status().as_u16())));
            }
            assert!(
                error_message(lang, &ApiError::invalid(Field::Title, "too long"))
                    .contains("too long")
            );
        }
    }
}
