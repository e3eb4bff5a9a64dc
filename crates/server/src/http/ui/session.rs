//! Who is looking at a page: the session cookie, the language, and the
//! form token (CSRF) every form carries.
//!
//! A session is a random token in an `HttpOnly`, `SameSite=Lax` cookie; the
//! store keeps only its SHA-256 and answers for it on every request, so a
//! logout, a password change or a disabled account ends it on every node
//! at once (no cache to expire).
//!
//! Form tokens are bound to a secret the browser holds but a page of another
//! site cannot read: the session token once logged in, else a random
//! `kurz_csrf` cookie. The token is a hash of it, so it shows nothing of the
//! session in the page. `SameSite=Lax` already keeps cross-site posts from
//! carrying the session; the token also covers forms without a session
//! (logging in, anonymous shortening) and browsers without `SameSite`.

use std::net::{IpAddr, Ipv4Addr};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use kurz_core::account::Principal;

use super::i18n::Lang;
use super::{error_page, Nav, Page};
use crate::http::client_ip::ClientIp;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::secret::{hash_key, random_token};

pub const SESSION_COOKIE: &str = "kurz_session";
pub const CSRF_COOKIE: &str = "kurz_csrf";
pub const LANG_COOKIE: &str = "kurz_lang";
/// Longest cookie value looked at: tokens are 43 characters.
const MAX_TOKEN_LEN: usize = 128;

/// The value of cookie `name`, if the request has it once or more (the
/// first wins).
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// The language of a request: the remembered choice, else
/// `Accept-Language`.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(Lang::parse)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .map(Lang::negotiate)
        })
        .unwrap_or_default()
}

/// A cookie's name as this instance sets it: over https with the
/// `__Host-` prefix, which browsers accept only from this very host, with
/// `Secure` and `Path=/`, so a sibling subdomain or a plain-http answer
/// cannot plant a session or a form secret of its own.
fn cookie_name(secure: bool, name: &str) -> String {
    if secure {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

/// The form token for a secret the browser holds.
fn csrf_for(basis: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"kurz-csrf\0");
    h.update(basis.as_bytes());
    hex::encode(&h.finalize()[..20])
}

/// A request of a UI page, as the page needs it.
#[derive(Debug)]
pub struct Viewer {
    pub lang: Lang,
    pub user: Option<Principal>,
    /// The session token of a live session.
    session: Option<String>,
    /// What form tokens are made from: the session token, else the
    /// `kurz_csrf` cookie.
    csrf_basis: String,
    /// Set when the request had no `kurz_csrf` cookie: the answer sets it.
    new_csrf_cookie: bool,
    /// Cookies get `Secure` when the instance is served over https.
    pub secure: bool,
    /// Path and query of the request, for "come back here" links.
    pub path: String,
    pub client: IpAddr,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let headers = &parts.headers;
        let lang = lang_of(headers);
        let secure = state.site.base_url.starts_with("https://");
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        let client = parts
            .extensions
            .get::<ClientIp>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |&ClientIp(ip)| ip);
        let mut session = None;
        let mut user = None;
        if let Some(token) = cookie(headers, &cookie_name(secure, SESSION_COOKIE))
            .filter(|t| t.len() <= MAX_TOKEN_LEN)
        {
            match state.accounts.session(&hash_key(token)).await {
                Ok(Some(who)) => {
                    user = Some(who);
                    session = Some(token.to_owned());
                }
                Ok(None) => {}
                Err(e) => return Err(error_page(lang, ApiError::from(e))),
            }
        }
        let csrf_cookie = cookie(headers, &cookie_name(secure, CSRF_COOKIE))
            .filter(|t| (20..=MAX_TOKEN_LEN).contains(&t.len()))
            .map(str::to_owned);
        let new_csrf_cookie = csrf_cookie.is_none();
        let csrf_basis = session.clone().or(csrf_cookie).unwrap_or_else(random_token);
        Ok(Self {
            lang,
            user,
            session,
            csrf_basis,
            new_csrf_cookie,
            secure,
            path,
            client,
        })
    }
}

impl Viewer {
    /// The frame of a page titled `title`.
    pub fn page(&self, title: impl Into<String>, nav: Nav) -> Page {
        Page::new(
            self.lang,
            self.user.clone(),
            self.csrf(),
            title.into(),
            nav,
            &self.path,
        )
    }

    /// The token this viewer's forms carry.
    pub fn csrf(&self) -> String {
        csrf_for(&self.csrf_basis)
    }

    /// Refuses a form whose token is not this viewer's (403, 40302).
    pub fn check_csrf(&self, token: &str) -> Result<(), Response> {
        let expected = self.csrf();
        let same = token.len() == expected.len()
            && token
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            Ok(())
        } else {
            Err(self.fail(ApiError::Csrf))
        }
    }

    /// The logged-in user, or a redirect to the login page that comes back
    /// here.
    pub fn require_user(&self) -> Result<&Principal, Response> {
        self.user.as_ref().ok_or_else(|| {
            let next = percent_encoding::utf8_percent_encode(&self.path, super::QUERY_VALUE);
            Redirect::to(&format!("/login?next={next}")).into_response()
        })
    }

    /// An admin, or the login page, or 403.
    pub fn require_admin(&self) -> Result<&Principal, Response> {
        let who = self.require_user()?;
        if who.is_admin() {
            Ok(who)
        } else {
            Err(self.fail(ApiError::Forbidden))
        }
    }

    /// The error page for `err`, as the answer to this viewer.
    pub fn fail(&self, err: impl Into<ApiError>) -> Response {
        self.finish(error_page(self.lang, err.into()))
    }

    /// A text of the viewer's language, owned (a page's title).
    pub fn text(&self, key: &str) -> String {
        super::i18n::Tr(self.lang).owned(key)
    }

    /// The session token of a live session (logging out ends it).
    pub fn session_token(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// Adds what the answer owes the browser: the `kurz_csrf` cookie when
    /// the request had none.
    pub fn finish(&self, mut response: Response) -> Response {
        if self.new_csrf_cookie && self.session.is_none() {
            let cookie = self.cookie(CSRF_COOKIE, &self.csrf_basis, None);
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        response
    }

    /// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, the whole site,
    /// `Secure` over https; `max_age` in seconds, `None` for the browser
    /// session, `Some(0)` to delete.
    pub fn cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
        let name = cookie_name(self.secure, name);
        let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if let Some(age) = max_age {
            text.push_str(&format!("; Max-Age={age}"));
        }
        if self.secure {
            text.push_str("; Secure");
        }
        // Names and values are ours (base62, hex, language tags).
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("x=; Max-Age=0"))
    }
}

/// A new session token and its hash for the store.
pub fn new_session_token() -> (String, String) {
    let token = random_token();
    let hash = hash_key(&token);
    (token, hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; kurz_lang=zh-CN; kurz_session=\"abc\""),
        );
        assert_eq!(cookie(&h, "kurz_lang"), Some("zh-CN"));
        assert_eq!(cookie(&h, "kurz_session"), Some("abc"));
        assert_eq!(cookie(&h, "kurz"), None);
        assert_eq!(lang_of(&h), Lang::ZhCn);
    }

    #[test]
    fn cookies_over_https_are_bound_to_the_host() {
        assert_eq!(cookie_name(true, SESSION_COOKIE), "__Host-kurz_session");
        assert_eq!(cookie_name(false, SESSION_COOKIE), "kurz_session");
    }

    #[test]
    fn form_tokens_depend_on_the_secret_and_do_not_show_it() {
        let a = csrf_for("secret-a");
        assert_eq!(a, csrf_for("secret-a"));
        assert_ne!(a, csrf_for("secret-b"));
        assert!(!a.contains("secret"));
        assert_eq!(a.len(), 40);
    }
}
