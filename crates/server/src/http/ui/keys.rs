//! `/ui/keys`: the caller's API keys. A new key is shown once, on the
//! answer to the form that made it (never cached, never on the list);
//! revoking asks first, with a dialog or, without script, a page.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use kurz_core::account::{ApiKey, MAX_KEY_NAME_LEN};
use kurz_core::error::Field;

use super::session::Viewer;
use super::{error_message, fields, render, Nav, Page, UiForm};
use crate::http::error::ApiError;
use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/keys", get(list).post(create))
        .route("/ui/keys/{id}/revoke", get(confirm_revoke).post(revoke))
}

/// A key as the list shows it: never its secret (the store has none).
#[derive(Debug)]
pub struct KeyRow {
    pub id: i64,
    pub name: Option<String>,
    pub read_only: bool,
    pub created: String,
}

impl From<ApiKey> for KeyRow {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            name: k.name,
            read_only: k.read_only,
            created: fields::show_time(k.created_at),
        }
    }
}

#[derive(Debug, Template)]
#[template(path = "ui/keys.html")]
struct KeysPage {
    page: Page,
    keys: Vec<KeyRow>,
    notice: Option<String>,
    name: String,
    read_only: bool,
    error: Option<String>,
    max_name: usize,
}

#[derive(Debug, Template)]
#[template(path = "ui/keys_created.html")]
struct CreatedPage {
    page: Page,
    key: KeyRow,
    secret: String,
}

/// The confirmation step of a destructive action, for browsers without
/// script (with script, the form's `data-confirm` dialog asked already).
#[derive(Debug, Template)]
#[template(path = "ui/admin_confirm.html")]
pub struct ConfirmPage {
    pub page: Page,
    pub heading: String,
    pub question: String,
    /// What is about to go, shown as data (escaped).
    pub subject: String,
    pub action: String,
    pub button: String,
    pub cancel: String,
}

#[derive(Debug, Deserialize)]
pub struct DoneQuery {
    pub done: Option<String>,
}

/// A path segment that must be a row ID; anything else is no such page.
pub fn id_of(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(ApiError::NotFound)
}

/// The error page for `err`, as the answer to `viewer`.
pub fn fail(viewer: &Viewer, err: impl Into<ApiError>) -> Response {
    viewer.fail(err)
}

async fn keys_of(state: &AppState, viewer: &Viewer) -> Result<Vec<KeyRow>, Response> {
    let Some(who) = viewer.user.as_ref() else {
        return Ok(Vec::new());
    };
    match state.accounts.keys_of(who).await {
        Ok(keys) => Ok(keys.into_iter().map(KeyRow::from).collect()),
        Err(e) => Err(viewer.fail(e)),
    }
}

/// `GET /ui/keys`.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<DoneQuery>,
) -> Result<Response, Response> {
    viewer.require_user()?;
    let keys = keys_of(&state, &viewer).await?;
    let page = viewer.page(viewer.text("keys.title"), Nav::Keys);
    let notice = match q.done.as_deref() {
        Some("revoked") => Some(page.t.owned("keys.revoked")),
        _ => None,
    };
    Ok(render(
        &viewer,
        StatusCode::OK,
        &KeysPage {
            page,
            keys,
            notice,
            name: String::new(),
            read_only: false,
            error: None,
            max_name: MAX_KEY_NAME_LEN,
        },
    ))
}

#[derive(Debug, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    read_only: Option<String>,
}

/// `POST /ui/keys`: the new key, on this answer only. Not a redirect to a
/// page that shows it: the key is kept nowhere to show it from again.
pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    UiForm(form): UiForm<CreateForm>,
) -> Result<Response, Response> {
    viewer.check_csrf(&form.csrf)?;
    let who = viewer.require_user()?;
    // A session never is, but a read-only caller must not mint a key
    // with more rights than itself.
    if who.read_only {
        return Err(viewer.fail(ApiError::Forbidden));
    }
    let read_only = fields::checked(form.read_only.as_deref());
    let made = crate::accounts::create_key(
        &state.accounts,
        who.user_id,
        fields::text(&form.name),
        read_only,
    )
    .await
    .map_err(ApiError::from);
    match made {
        Ok((key, secret)) => {
            let page = viewer.page(
                super::i18n::Tr(viewer.lang).owned("keys.created_title"),
                Nav::Keys,
            );
            Ok(render(
                &viewer,
                StatusCode::OK,
                &CreatedPage {
                    page,
                    key: key.into(),
                    secret,
                },
            ))
        }
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            let keys = keys_of(&state, &viewer).await?;
            let page = viewer.page(viewer.text("keys.title"), Nav::Keys);
            let error = Some(if e.field() == Some(Field::KeyName) {
                super::i18n::Tr(viewer.lang).fmt1("keys.name_rule", MAX_KEY_NAME_LEN)
            } else {
                error_message(viewer.lang, &e)
            });
            Ok(render(
                &viewer,
                StatusCode::BAD_REQUEST,
                &KeysPage {
                    page,
                    keys,
                    notice: None,
                    name: form.name,
                    read_only,
                    error,
                    max_name: MAX_KEY_NAME_LEN,
                },
            ))
        }
        Err(e) => Err(viewer.fail(e)),
    }
}

/// The caller's key `id`, or 404 (another user's key is no different
/// from a missing one).
async fn own_key(state: &AppState, viewer: &Viewer, id: i64) -> Result<KeyRow, Response> {
    keys_of(state, viewer)
        .await?
        .into_iter()
        .find(|k| k.id == id)
        .ok_or_else(|| viewer.fail(ApiError::NotFound))
}

fn confirm_page(viewer: &Viewer, key: &KeyRow) -> Response {
    let t = super::i18n::Tr(viewer.lang);
    let page = viewer.page(t.owned("keys.revoke_title"), Nav::Keys);
    let subject = key
        .name
        .clone()
        .unwrap_or_else(|| t.fmt1("keys.unnamed_id", key.id));
    render(
        viewer,
        StatusCode::OK,
        &ConfirmPage {
            page,
            heading: t.owned("keys.revoke_title"),
            question: t.owned("keys.revoke_question"),
            subject,
            action: format!("/ui/keys/{}/revoke", key.id),
            button: t.owned("keys.revoke"),
            cancel: "/ui/keys".to_owned(),
        },
    )
}

/// `GET /ui/keys/{id}/revoke`: the confirmation page.
pub async fn confirm_revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    viewer.require_user()?;
    let id = id_of(&id).map_err(|e| viewer.fail(e))?;
    let key = own_key(&state, &viewer, id).await?;
    Ok(confirm_page(&viewer, &key))
}

#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    pub csrf: String,
    /// Filled in once confirmed: by the script after its dialog
    /// (`data-confirmed`), or by the confirmation page. Empty, the answer
    /// is the confirmation page.
    #[serde(default)]
    pub confirmed: String,
}

impl ConfirmForm {
    pub fn confirmed(&self) -> bool {
        !self.confirmed.is_empty()
    }
}

/// `POST /ui/keys/{id}/revoke`: the key stops working at once, on every
/// node.
pub async fn revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    UiForm(form): UiForm<ConfirmForm>,
) -> Result<Response, Response> {
    viewer.check_csrf(&form.csrf)?;
    let who = viewer.require_user()?;
    let id = id_of(&id).map_err(|e| viewer.fail(e))?;
    if !form.confirmed() {
        let key = own_key(&state, &viewer, id).await?;
        return Ok(confirm_page(&viewer, &key));
    }
    if who.read_only {
        return Err(viewer.fail(ApiError::Forbidden));
    }
    match state.accounts.revoke_key(who, id).await {
        Ok(true) => Ok(Redirect::to("/ui/keys?done=revoked").into_response()),
        Ok(false) => Err(viewer.fail(ApiError::NotFound)),
        Err(e) => Err(viewer.fail(e)),
    }
}
