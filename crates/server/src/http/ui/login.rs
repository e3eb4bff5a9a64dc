//! `/login` and `/logout`.
//!
//! Logging in is throttled per user name and per client (the `login`
//! budgets of `http::limit`) before a password is hashed, and an unknown
//! name costs the same hash as a known one, so neither guessing nor timing
//! tells which names exist.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use kurz_core::error::{AccountError, HashError};

use super::session::{new_session_token, Viewer, SESSION_COOKIE};
use super::{error_page, local_path, render, Nav, Page, UiForm};
use crate::http::error::ApiError;
use crate::http::AppState;

#[derive(Debug, Template)]
#[template(path = "ui/login.html")]
struct LoginPage {
    page: Page,
    error: Option<String>,
    username: String,
    next: String,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /login`: the form; a logged-in user goes on at once.
pub async fn form(viewer: Viewer, Query(q): Query<NextQuery>) -> Response {
    let next = local_path(q.next.as_deref()).to_owned();
    if viewer.user.is_some() {
        return Redirect::to(&next).into_response();
    }
    let page = viewer.page(viewer.text("login.title"), Nav::None);
    render(
        &viewer,
        StatusCode::OK,
        &LoginPage {
            page,
            error: None,
            username: String::new(),
            next,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// `POST /login`.
pub async fn submit(
    State(state): State<AppState>,
    viewer: Viewer,
    UiForm(form): UiForm<LoginForm>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return refused;
    }
    let next = local_path(form.next.as_deref()).to_owned();
    let username = form.username.trim().to_owned();
    if let Some(limits) = &state.limits {
        if let Err(wait) = limits.check_login(&username, viewer.client).await {
            state.metrics.rate_limited(crate::metrics::Limit::Login);
            return viewer.fail(ApiError::RateLimited(wait));
        }
    }
    let user = match state.accounts.verify_login(&username, form.password).await {
        Ok(user) => user,
        Err(AccountError::Hash(HashError::Busy)) => {
            return viewer.finish(error_page(
                viewer.lang,
                ApiError::RateLimited(std::time::Duration::from_secs(1)),
            ))
        }
        Err(e) => return viewer.fail(e),
    };
    let Some(user) = user else {
        let page = viewer.page(viewer.text("login.title"), Nav::None);
        let error = Some(page.t.owned("login.wrong"));
        return render(
            &viewer,
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                page,
                error,
                username,
                next,
            },
        );
    };
    let (token, hash) = new_session_token();
    let ttl = state.site.session_ttl;
    if let Err(e) = state.accounts.start_session(user.id, hash, ttl).await {
        return viewer.fail(e);
    }
    // A browser logged in already (as anyone) leaves that session behind:
    // end it rather than leave a live token nobody holds any more.
    if let Some(old) = viewer.session_token() {
        if let Err(e) = state
            .accounts
            .end_session(&crate::secret::hash_key(old))
            .await
        {
            tracing::warn!(error = %e, "ending the session a new login replaced failed");
        }
    }
    // A new session replaces whatever the browser had: no fixation.
    let mut response = Redirect::to(&next).into_response();
    let cookie = viewer.cookie(SESSION_COOKIE, &token, Some(ttl.whole_seconds()));
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session in the store (on every node) and
/// deletes the cookie.
pub async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    UiForm(form): UiForm<LogoutForm>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return refused;
    }
    if let Some(token) = viewer.session_token() {
        if let Err(e) = state
            .accounts
            .end_session(&crate::secret::hash_key(token))
            .await
        {
            return error_page(viewer.lang, e.into());
        }
    }
    let mut response = Redirect::to("/").into_response();
    let cookie = viewer.cookie(SESSION_COOKIE, "", Some(0));
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}
