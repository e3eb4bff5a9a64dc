//! `/ui/account`: change your own password. The change ends every session
//! of the user (other browsers, a borrowed session), and this browser gets
//! a fresh one so it stays signed in.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use kurz_core::account::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
use kurz_core::error::{AccountError, HashError};

use super::keys::DoneQuery;
use super::session::{new_session_token, Viewer, SESSION_COOKIE};
use super::{error_page, render, Nav, Page, UiForm};
use crate::http::error::ApiError;
use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/account", get(form))
        .route("/ui/account/password", post(change_password))
}

#[derive(Debug, Template)]
#[template(path = "ui/account.html")]
struct AccountPage {
    page: Page,
    notice: Option<String>,
    /// The field the error is about: `current`, `new` or `repeat`.
    error_field: &'static str,
    error: Option<String>,
    min: usize,
    max: usize,
}

impl AccountPage {
    fn new(page: Page) -> Self {
        Self {
            page,
            notice: None,
            error_field: "",
            error: None,
            min: MIN_PASSWORD_LEN,
            max: MAX_PASSWORD_LEN,
        }
    }
}

/// `GET /ui/account`.
pub async fn form(viewer: Viewer, Query(q): Query<DoneQuery>) -> Result<Response, Response> {
    viewer.require_user()?;
    let mut page = AccountPage::new(viewer.page(viewer.text("account.title"), Nav::Keys));
    if q.done.as_deref() == Some("password") {
        page.notice = Some(page.page.t.owned("account.changed"));
    }
    Ok(render(&viewer, StatusCode::OK, &page))
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

/// `POST /ui/account/password`.
pub async fn change_password(
    State(state): State<AppState>,
    viewer: Viewer,
    UiForm(form): UiForm<PasswordForm>,
) -> Result<Response, Response> {
    viewer.check_csrf(&form.csrf)?;
    let who = viewer.require_user()?;
    let refuse = |field: &'static str, key: &str, status: StatusCode| {
        let mut page = AccountPage::new(viewer.page(viewer.text("account.title"), Nav::Keys));
        page.error = Some(page.page.t.owned(key));
        page.error_field = field;
        render(&viewer, status, &page)
    };
    if form.new != form.repeat {
        return Ok(refuse(
            "repeat",
            "account.mismatch",
            StatusCode::BAD_REQUEST,
        ));
    }
    // The current password is a guess like a login's: a stolen session
    // must not try passwords faster than the login form allows.
    if let Some(limits) = &state.limits {
        if let Err(wait) = limits.check_login(&who.username, viewer.client).await {
            state.metrics.rate_limited(crate::metrics::Limit::Login);
            return Err(viewer.fail(ApiError::RateLimited(wait)));
        }
    }
    let changed = state
        .accounts
        .change_password(who, who.user_id, Some(form.current), form.new)
        .await;
    match changed {
        Ok(()) => {}
        Err(AccountError::WrongPassword) => {
            return Ok(refuse("current", "account.wrong", StatusCode::BAD_REQUEST))
        }
        Err(AccountError::Invalid { .. }) => {
            return Ok(refuse("new", "account.length", StatusCode::BAD_REQUEST))
        }
        Err(AccountError::Hash(HashError::Busy)) => {
            return Err(viewer.finish(error_page(
                viewer.lang,
                ApiError::RateLimited(std::time::Duration::from_secs(1)),
            )))
        }
        Err(e) => return Err(viewer.fail(e)),
    }
    // Every session of the user ended, this one too: a new one keeps this
    // browser signed in, as logging in would.
    let (token, hash) = new_session_token();
    let ttl = state.site.session_ttl;
    if let Err(e) = state.accounts.start_session(who.user_id, hash, ttl).await {
        return Err(viewer.fail(e));
    }
    let mut response = Redirect::to("/ui/account?done=password").into_response();
    let cookie = viewer.cookie(SESSION_COOKIE, &token, Some(ttl.whole_seconds()));
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}
