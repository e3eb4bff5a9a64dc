//! `/admin`: users, the alias review queue and abuse reports, for admins
//! only (anyone else gets 403). Every rule (who may demote or disable
//! whom, what a password is) is the core's; these pages put its refusals
//! into words.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use kurz_core::account::{Principal, Role, User, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
use kurz_core::error::{AccountError, Field, HashError};
use kurz_core::link::{Cursor, Link};
use kurz_core::report::{Report, ReportStatus};
use kurz_core::service::UpdateLink;

use super::i18n::Tr;
use super::keys::{id_of, ConfirmForm, ConfirmPage};
use super::session::Viewer;
use super::{fields, render, Nav, Page, UiForm};
use crate::http::api::cursor;
use crate::http::error::ApiError;
use crate::http::AppState;

/// Rows of one page of every admin list.
const PAGE_SIZE: u32 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(users))
        .route("/admin/users", get(users).post(create_user))
        .route("/admin/users/{id}", get(user))
        .route("/admin/users/{id}/role", post(set_role))
        .route("/admin/users/{id}/status", post(set_status))
        .route("/admin/users/{id}/password", post(reset_password))
        .route("/admin/review", get(review))
        .route("/admin/review/{slug}/approve", post(approve))
        .route(
            "/admin/review/{slug}/reject",
            get(confirm_reject).post(reject),
        )
        .route("/admin/reports", get(reports))
        .route("/admin/reports/{id}/resolve", post(resolve))
}

/// Which page of the admin area, for its sub-navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Users,
    Review,
    Reports,
}

fn admin_page(viewer: &Viewer, key: &str) -> Page {
    viewer.page(Tr(viewer.lang).owned(key), Nav::Admin)
}

/// The notice for `?done=...`: a fixed set of keys, so nothing from the
/// query reaches the page.
fn notice(t: Tr, done: Option<&str>, known: &[&str]) -> Option<String> {
    let done = done?;
    known
        .iter()
        .find(|k| **k == done)
        .map(|k| t.owned(&format!("admin.done_{k}")))
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    after: Option<String>,
    done: Option<String>,
    status: Option<String>,
}

// ---------------------------------------------------------------- users

#[derive(Debug)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub admin: bool,
    pub disabled: bool,
    pub created: String,
    pub is_self: bool,
}

impl UserRow {
    fn new(u: User, who: &Principal) -> Self {
        Self {
            id: u.id,
            is_self: who.user_row() == Some(u.id),
            username: u.username,
            admin: u.role == Role::Admin,
            disabled: u.disabled,
            created: fields::show_time(u.created_at),
        }
    }
}

/// The new-user form as sent, shown again after a refusal (never the
/// password).
#[derive(Debug, Default, Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    pub role: String,
}

#[derive(Debug, Template)]
#[template(path = "ui/admin_users.html")]
struct UsersPage {
    page: Page,
    tab: Tab,
    users: Vec<UserRow>,
    /// The `after` of the next page.
    next: Option<i64>,
    paged: bool,
    notice: Option<String>,
    form: NewUserForm,
    error: Option<String>,
    error_field: &'static str,
    min: usize,
    max: usize,
}

/// One page of users after `after`, and where the next one starts.
async fn list_page(
    state: &AppState,
    viewer: &Viewer,
    who: &Principal,
    after: Option<i64>,
) -> Result<(Vec<UserRow>, Option<i64>), Response> {
    let mut found = state
        .accounts
        .list_users(who, after, PAGE_SIZE + 1)
        .await
        .map_err(|e| viewer.fail(e))?;
    let more = found.len() > PAGE_SIZE as usize;
    found.truncate(PAGE_SIZE as usize);
    let next = if more {
        found.last().map(|u| u.id)
    } else {
        None
    };
    Ok((
        found.into_iter().map(|u| UserRow::new(u, who)).collect(),
        next,
    ))
}

fn users_page(
    viewer: &Viewer,
    (users, next): (Vec<UserRow>, Option<i64>),
    paged: bool,
) -> UsersPage {
    UsersPage {
        page: admin_page(viewer, "admin.users_title"),
        tab: Tab::Users,
        users,
        next,
        paged,
        notice: None,
        form: NewUserForm {
            role: "user".into(),
            ..NewUserForm::default()
        },
        error: None,
        error_field: "",
        min: MIN_PASSWORD_LEN,
        max: MAX_PASSWORD_LEN,
    }
}

/// `GET /admin`, `GET /admin/users?after=ID`.
pub async fn users(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> Result<Response, Response> {
    let who = viewer.require_admin()?;
    let after = match q.after.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(a.parse::<i64>().map_err(|_| {
            viewer.fail(ApiError::invalid(Field::Cursor, "the page does not exist"))
        })?),
    };
    let rows = list_page(&state, &viewer, who, after).await?;
    let mut page = users_page(&viewer, rows, after.is_some());
    page.notice = notice(page.page.t, q.done.as_deref(), &["created"]);
    Ok(render(&viewer, StatusCode::OK, &page))
}

/// A refusal about a user field in the page's language: the core's
/// messages are English, so the fields it names get ours.
fn account_message(t: Tr, err: &AccountError) -> Option<(&'static str, String)> {
    match err {
        AccountError::UsernameTaken => Some(("username", t.owned("errors.e40902"))),
        AccountError::Invalid {
            field: Field::Username,
            ..
        } => Some(("username", t.owned("admin.username_rule"))),
        AccountError::Invalid {
            field: Field::Password,
            ..
        } => Some((
            "password",
            t.fmt2("admin.password_rule", MIN_PASSWORD_LEN, MAX_PASSWORD_LEN),
        )),
        AccountError::Invalid {
            field: Field::Role, ..
        } => Some(("role", t.owned("admin.role_rule"))),
        _ => None,
    }
}

fn busy(viewer: &Viewer) -> Response {
    viewer.fail(ApiError::RateLimited(std::time::Duration::from_secs(1)))
}

/// `POST /admin/users`.
pub async fn create_user(
    State(state): State<AppState>,
    viewer: Viewer,
    UiForm(form): UiForm<NewUserForm>,
) -> Result<Response, Response> {
    viewer.check_csrf(&form.csrf)?;
    let who = viewer.require_admin()?;
    let username = form.username.trim().to_owned();
    let made = match Role::parse(&form.role) {
        Some(role) => {
            state
                .accounts
                .create_user(&username, form.password.clone(), role)
                .await
        }
        None => Err(AccountError::invalid(Field::Role, "admin or user")),
    };
    let err = match made {
        Ok(user) => {
            return Ok(
                Redirect::to(&format!("/admin/users/{}?done=created", user.id)).into_response(),
            )
        }
        Err(AccountError::Hash(HashError::Busy)) => return Err(busy(&viewer)),
        Err(e) => e,
    };
    let Some((field, message)) = account_message(Tr(viewer.lang), &err) else {
        return Err(viewer.fail(err));
    };
    let rows = list_page(&state, &viewer, who, None).await?;
    let mut page = users_page(&viewer, rows, false);
    page.form = NewUserForm {
        password: String::new(),
        username,
        ..form
    };
    page.error = Some(message);
    page.error_field = field;
    let status = if matches!(err, AccountError::UsernameTaken) {
        StatusCode::CONFLICT
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(render(&viewer, status, &page))
}

#[derive(Debug, Template)]
#[template(path = "ui/admin_user.html")]
struct UserPage {
    page: Page,
    tab: Tab,
    user: UserRow,
    notice: Option<String>,
    /// The form the error is about: `role`, `status` or `password`.
    error_form: &'static str,
    error: Option<String>,
    min: usize,
    max: usize,
}

async fn load_user(
    state: &AppState,
    viewer: &Viewer,
    who: &Principal,
    raw_id: &str,
) -> Result<UserRow, Response> {
    let id = id_of(raw_id).map_err(|e| viewer.fail(e))?;
    match state.accounts.user_by_id(id).await {
        Ok(Some(u)) => Ok(UserRow::new(u, who)),
        Ok(None) => Err(viewer.fail(ApiError::NotFound)),
        Err(e) => Err(viewer.fail(e)),
    }
}

fn one_user_page(viewer: &Viewer, user: UserRow) -> UserPage {
    let t = Tr(viewer.lang);
    UserPage {
        page: viewer.page(t.fmt1("admin.user_title", &user.username), Nav::Admin),
        tab: Tab::Users,
        user,
        notice: None,
        error_form: "",
        error: None,
        min: MIN_PASSWORD_LEN,
        max: MAX_PASSWORD_LEN,
    }
}

/// `GET /admin/users/{id}`: role, status and password of one user.
pub async fn user(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, Response> {
    let who = viewer.require_admin()?;
    let row = load_user(&state, &viewer, who, &id).await?;
    let mut page = one_user_page(&viewer, row);
    page.notice = notice(
        page.page.t,
        q.done.as_deref(),
        &["created", "role", "disabled", "enabled", "password"],
    );
    Ok(render(&viewer, StatusCode::OK, &page))
}

/// The user page again, with what was refused next to its form.
async fn refused_on_user(
    state: &AppState,
    viewer: &Viewer,
    who: &Principal,
    id: &str,
    form: &'static str,
    message: String,
    status: StatusCode,
) -> Result<Response, Response> {
    let row = load_user(state, viewer, who, id).await?;
    let mut page = one_user_page(viewer, row);
    page.error_form = form;
    page.error = Some(message);
    Ok(render(viewer, status, &page))
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
}

/// `POST /admin/users/{id}/role`.
pub async fn set_role(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    UiForm(form): UiForm<RoleForm>,
) -> Result<Response, Response> {
    viewer.check_csrf(&form.csrf)?;
    let who = viewer.require_admin()?;
    let user_id = id_of(&id).map_err(|e| viewer.fail(e))?;
    let t = Tr(viewer.lang);
    let Some(role) = Role::parse(&form.role) else {
        let msg = t.owned("admin.role_rule");
        return refused_on_user(
            &state,
            &viewer,
            who,
            &id,
            "role",
            msg,
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    match state.accounts.set_role(who, user_id, role).await {
        Ok(()) => Ok(Redirect::to(&format!("/admin/users/{user_id}?done=role")).into_response()),
        // An admin's only refusal: their own role.
        Err(AccountError::Forbidden) if who.user_row() == Some(user_id) => {
            let msg = t.owned("admin.not_own_role");
            refused_on_user(
                &state,
                &viewer,
                who,
                &id,
                "role",
                msg,
                StatusCode::FORBIDDEN,
            )
            .await
        }
        Err(e) => Err(viewer.fail(e)),
    }
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    csrf: String,
    /// `disable` or `enable`.
    #[serde(default)]
    action: String,
}

/// `POST /admin/users/{id}/status`: disable (their sessions end, their
/// keys stop working, they cannot log in) or enable.
pub async fn set_status(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    UiForm(form): UiForm<StatusForm>,
) -> Result<Response, Response> {
    viewer.check_csrf(&form.csrf)?;
    let who = viewer.require_admin()?;
    let user_id = id_of(&id).map_err(|e| viewer.fail(e))?;
    let disabled = match form.action.as_str() {
        "disable" => true,
        "enable" => false,
        _ => return Err(viewer.fail(ApiError::invalid(Field::Action, "disable or enable"))),
    };
    match state.accounts.set_disabled(who, user_id, disabled).await {
        Ok(()) => {
            let done = if disabled { "disabled" } else { "enabled" };
            Ok(Redirect::to(&format!("/admin/users/{user_id}?done={done}")).into_response())
        }
        Err(AccountError::Forbidden) if who.user_row() == Some(user_id) => {
            let msg = Tr(viewer.lang).owned("admin.not_own_status");
            refused_on_user(
                &state,
                &viewer,
                who,
                &id,
                "status",
                msg,
                StatusCode::FORBIDDEN,
            )
            .await
        }
        Err(e) => Err(viewer.fail(e)),
    }
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

/// `POST /admin/users/{id}/password`: sets another user's password (and
/// ends their sessions). Your own is changed on `/ui/account`, with the
/// current one.
pub async fn reset_password(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    UiForm(form): UiForm<ResetForm>,
) -> Result<Response, Response> {
    viewer.check_csrf(&form.csrf)?;
    let who = viewer.require_admin()?;
    let user_id = id_of(&id).map_err(|e| viewer.fail(e))?;
    let t = Tr(viewer.lang);
    let refuse = |key: &str, status| {
        let msg = t.fmt2(key, MIN_PASSWORD_LEN, MAX_PASSWORD_LEN);
        refused_on_user(&state, &viewer, who, &id, "password", msg, status)
    };
    if who.user_row() == Some(user_id) {
        return refuse("admin.own_password", StatusCode::FORBIDDEN).await;
    }
    if form.new != form.repeat {
        return refuse("admin.mismatch", StatusCode::BAD_REQUEST).await;
    }
    match state
        .accounts
        .change_password(who, user_id, None, form.new)
        .await
    {
        Ok(()) => {
            Ok(Redirect::to(&format!("/admin/users/{user_id}?done=password")).into_response())
        }
        Err(AccountError::Invalid { .. }) => {
            refuse("admin.password_rule", StatusCode::BAD_REQUEST).await
        }
        Err(AccountError::Hash(HashError::Busy)) => Err(busy(&viewer)),
        Err(e) => Err(viewer.fail(e)),
    }
}

// --------------------------------------------------------------- review

#[derive(Debug)]
pub struct LinkRow {
    pub slug: String,
    pub short_url: String,
    pub url: String,
    pub title: Option<String>,
    pub owner: Option<String>,
    pub created: String,
}

impl LinkRow {
    fn new(state: &AppState, l: Link) -> Self {
        Self {
            short_url: state.site.short_url(&l.slug),
            slug: l.slug,
            url: l.url,
            title: l.title,
            owner: l.owner,
            created: fields::show_time(l.created_at),
        }
    }
}

#[derive(Debug, Template)]
#[template(path = "ui/admin_review.html")]
struct ReviewPage {
    page: Page,
    tab: Tab,
    links: Vec<LinkRow>,
    next: Option<String>,
    paged: bool,
    notice: Option<String>,
}

fn decode_after(after: Option<&str>) -> Result<Option<Cursor>, ApiError> {
    after
        .filter(|a| !a.is_empty())
        .map(|a| cursor::decode(a).map(|(created_at_ms, id)| Cursor { created_at_ms, id }))
        .transpose()
}

/// `GET /admin/review`: links whose alias waits for an admin.
pub async fn review(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> Result<Response, Response> {
    let who = viewer.require_admin()?;
    let after = decode_after(q.after.as_deref()).map_err(|e| viewer.fail(e))?;
    let found = state
        .links
        .review_queue(who, Some(PAGE_SIZE), after)
        .await
        .map_err(|e| viewer.fail(e))?;
    let page = admin_page(&viewer, "admin.review_title");
    let notice = notice(
        page.t,
        q.done.as_deref(),
        &["approved", "rejected", "stale"],
    );
    let template = ReviewPage {
        page,
        tab: Tab::Review,
        links: found
            .items
            .into_iter()
            .map(|l| LinkRow::new(&state, l))
            .collect(),
        next: found.next.map(|c| cursor::encode(c.created_at_ms, c.id)),
        paged: after.is_some(),
        notice,
    };
    Ok(render(&viewer, StatusCode::OK, &template))
}

/// A link of the queue, or `None` when it left the queue (approved or
/// deleted by someone else meanwhile).
async fn pending(
    state: &AppState,
    viewer: &Viewer,
    who: &Principal,
    slug: &str,
) -> Result<Option<Link>, Response> {
    match state.links.get(who, slug).await {
        Ok(link) if link.pending => Ok(Some(link)),
        Ok(_) => Ok(None),
        Err(kurz_core::error::LinkError::NotFound) => Ok(None),
        Err(e) => Err(viewer.fail(e)),
    }
}

const STALE: &str = "/admin/review?done=stale";

/// `POST /admin/review/{slug}/approve`: the alias starts redirecting.
pub async fn approve(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    UiForm(form): UiForm<ConfirmForm>,
) -> Result<Response, Response> {
    viewer.check_csrf(&form.csrf)?;
    let who = viewer.require_admin()?;
    if pending(&state, &viewer, who, &slug).await?.is_none() {
        return Ok(Redirect::to(STALE).into_response());
    }
    let approval = UpdateLink {
        approved: Some(true),
        ..UpdateLink::default()
    };
    state
        .links
        .update(who, &slug, approval)
        .await
        .map_err(|e| viewer.fail(e))?;
    Ok(Redirect::to("/admin/review?done=approved").into_response())
}

fn confirm_reject_page(viewer: &Viewer, link: &LinkRow) -> Response {
    let t = Tr(viewer.lang);
    let page = viewer.page(t.owned("admin.reject_title"), Nav::Admin);
    render(
        viewer,
        StatusCode::OK,
        &ConfirmPage {
            page,
            heading: t.owned("admin.reject_title"),
            question: t.owned("admin.reject_question"),
            subject: format!("{} → {}", link.short_url, link.url),
            action: format!("/admin/review/{}/reject", link.slug),
            button: t.owned("admin.reject"),
            cancel: "/admin/review".to_owned(),
        },
    )
}

/// `GET /admin/review/{slug}/reject`: the confirmation page.
pub async fn confirm_reject(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
) -> Result<Response, Response> {
    let who = viewer.require_admin()?;
    match pending(&state, &viewer, who, &slug).await? {
        Some(link) => Ok(confirm_reject_page(&viewer, &LinkRow::new(&state, link))),
        None => Ok(Redirect::to(STALE).into_response()),
    }
}

/// `POST /admin/review/{slug}/reject`: deletes the link, once confirmed.
pub async fn reject(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    UiForm(form): UiForm<ConfirmForm>,
) -> Result<Response, Response> {
    viewer.check_csrf(&form.csrf)?;
    let who = viewer.require_admin()?;
    // Only a link still waiting: a stale form must not delete a link
    // another admin approved meanwhile.
    let Some(link) = pending(&state, &viewer, who, &slug).await? else {
        return Ok(Redirect::to(STALE).into_response());
    };
    if !form.confirmed() {
        return Ok(confirm_reject_page(&viewer, &LinkRow::new(&state, link)));
    }
    match state.links.delete(who, &slug).await {
        Ok(()) => Ok(Redirect::to("/admin/review?done=rejected").into_response()),
        Err(kurz_core::error::LinkError::NotFound) => Ok(Redirect::to(STALE).into_response()),
        Err(e) => Err(viewer.fail(e)),
    }
}

// -------------------------------------------------------------- reports

#[derive(Debug)]
pub struct ReportRow {
    pub id: i64,
    pub slug: String,
    pub short_url: String,
    pub reason: String,
    pub details: Option<String>,
    /// Where the link leads, `None` once it was deleted.
    pub target: Option<String>,
    pub created: String,
    /// Translated; `None` while open.
    pub resolution: Option<String>,
    pub resolved: Option<String>,
}

impl ReportRow {
    fn new(state: &AppState, t: Tr, r: Report, target: Option<String>) -> Self {
        Self {
            target,
            id: r.id,
            short_url: state.site.short_url(&r.slug),
            slug: r.slug,
            reason: t.owned(&format!("admin.reason_{}", r.reason.as_str())),
            details: r.details,
            created: fields::show_time(r.created_at),
            resolution: r
                .resolution
                .map(|x| t.owned(&format!("admin.resolution_{}", x.as_str()))),
            resolved: r.resolved_at.map(fields::show_time),
        }
    }
}

#[derive(Debug, Template)]
#[template(path = "ui/admin_reports.html")]
struct ReportsPage {
    page: Page,
    tab: Tab,
    open: bool,
    reports: Vec<ReportRow>,
    next: Option<String>,
    paged: bool,
    notice: Option<String>,
}

/// `GET /admin/reports?status=open|resolved`.
pub async fn reports(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> Result<Response, Response> {
    let who = viewer.require_admin()?;
    let status = match q.status.as_deref() {
        None | Some("" | "open") => ReportStatus::Open,
        Some("resolved") => ReportStatus::Resolved,
        Some(_) => {
            return Err(viewer.fail(ApiError::invalid(
                Field::Status,
                "the status is open or resolved",
            )))
        }
    };
    let after = decode_after(q.after.as_deref()).map_err(|e| viewer.fail(e))?;
    let found = state
        .reports
        .list(who, Some(status.as_str()), Some(PAGE_SIZE), after)
        .await
        .map_err(|e| viewer.fail(e))?;
    // Where each link leads is what an admin judges a report by; one
    // lookup per link, however many reports it has.
    let mut targets: HashMap<String, Option<String>> = HashMap::new();
    for r in &found.items {
        if !targets.contains_key(&r.slug) {
            let link = state
                .links
                .by_slug(&r.slug)
                .await
                .map_err(|e| viewer.fail(e))?;
            targets.insert(r.slug.clone(), link.map(|l| l.url));
        }
    }
    let page = admin_page(&viewer, "admin.reports_title");
    let t = page.t;
    let notice = notice(t, q.done.as_deref(), &["disabled_link", "dismissed"]);
    let reports = found
        .items
        .into_iter()
        .map(|r| {
            let target = targets.get(&r.slug).cloned().flatten();
            ReportRow::new(&state, t, r, target)
        })
        .collect();
    let template = ReportsPage {
        page,
        tab: Tab::Reports,
        open: status == ReportStatus::Open,
        reports,
        next: found.next.map(|c| cursor::encode(c.created_at_ms, c.id)),
        paged: after.is_some(),
        notice,
    };
    Ok(render(&viewer, StatusCode::OK, &template))
}

#[derive(Debug, Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    csrf: String,
    /// `disable` (the link) or `dismiss`.
    #[serde(default)]
    action: String,
}

/// `POST /admin/reports/{id}/resolve`.
pub async fn resolve(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    UiForm(form): UiForm<ResolveForm>,
) -> Result<Response, Response> {
    viewer.check_csrf(&form.csrf)?;
    let who = viewer.require_admin()?;
    let id = id_of(&id).map_err(|e| viewer.fail(e))?;
    let report = state
        .reports
        .resolve(who, id, &form.action)
        .await
        .map_err(|e| viewer.fail(e))?;
    let done = match report.resolution.map(|r| r.as_str()) {
        Some("disable") => "disabled_link",
        _ => "dismissed",
    };
    Ok(Redirect::to(&format!("/admin/reports?done={done}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ui::i18n::Lang;
    use kurz_core::report::{ReportReason, Resolution};

    /// Keys built at run time are not seen by the catalog test.
    #[test]
    fn reasons_resolutions_and_notices_are_translated() {
        for lang in Lang::ALL {
            let t = Tr(lang);
            for r in ReportReason::ALL {
                assert!(t.has(&format!("admin.reason_{}", r.as_str())), "{r:?}");
            }
            for r in [Resolution::Disable, Resolution::Dismiss] {
                assert!(t.has(&format!("admin.resolution_{}", r.as_str())));
            }
            for done in [
                "created",
                "role",
                "disabled",
                "enabled",
                "password",
                "approved",
                "rejected",
                "stale",
                "disabled_link",
                "dismissed",
            ] {
                assert!(t.has(&format!("admin.done_{done}")), "{done}");
            }
        }
    }

    #[test]
    fn only_known_notices_show() {
        let t = Tr(Lang::En);
        assert!(notice(t, Some("created"), &["created"]).is_some());
        assert!(notice(t, Some("<script>"), &["created"]).is_none());
        assert!(notice(t, Some("role"), &["created"]).is_none());
    }
}
