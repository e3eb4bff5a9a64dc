//! "My links" and "One link": the caller's links (everyone's for admins)
//! with search, a tag filter and keyset paging; one link with its short
//! URL, QR code, numbers and the edit form of every field the API's PATCH
//! takes; disable/enable; delete with a confirmation that works without
//! script; the QR code as a download.
//!
//! Another user's link answers 404, as if it did not exist: its slug is
//! public, but whose it is and what it holds are not.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use time::macros::format_description;
use time::OffsetDateTime;

use kurz_core::account::Principal;
use kurz_core::error::{Field, LinkError};
use kurz_core::link::{Link, LinkStatus};
use kurz_core::service::UpdateLink;

use super::i18n::Tr;
use super::session::Viewer;
use super::{error_message, fields, render, Nav, Page, UiForm, QUERY_VALUE};
use crate::http::api::links::{decode_cursor, encode_cursor};
use crate::http::api::qr::{self, QrParams};
use crate::http::error::ApiError;
use crate::http::render::field_name;
use crate::http::AppState;

/// Links a page of the list shows.
const PAGE_SIZE: u32 = 50;
/// Characters of a target the list shows; the whole URL is in its `title`.
const TARGET_CHARS: usize = 48;

/// What a path segment must have escaped (slugs are plain, but a link
/// imported from elsewhere need not be).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/links", get(list))
        .route("/ui/links/{slug}", get(one).post(save))
        .route("/ui/links/{slug}/disable", post(disable))
        .route("/ui/links/{slug}/enable", post(enable))
        .route("/ui/links/{slug}/delete", get(confirm_delete).post(delete))
        .route("/ui/links/{slug}/qr", get(qr_code))
}

/// The page of a link.
fn link_path(slug: &str) -> String {
    format!("/ui/links/{}", utf8_percent_encode(slug, SEGMENT))
}

/// A value for a query string.
fn query_value(v: &str) -> String {
    utf8_percent_encode(v, QUERY_VALUE).to_string()
}

/// `/ui/links` with the given search, tag and cursor.
fn list_path(q: Option<&str>, tag: Option<&str>, cursor: Option<&str>) -> String {
    let params: Vec<String> = [("q", q), ("tag", tag), ("cursor", cursor)]
        .into_iter()
        .filter_map(|(k, v)| {
            v.filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", query_value(v)))
        })
        .collect();
    if params.is_empty() {
        "/ui/links".to_owned()
    } else {
        format!("/ui/links?{}", params.join("&"))
    }
}

/// An error as the error page; `Forbidden` on reading a link reads as
/// "no such link".
fn not_found_if_forbidden(viewer: &Viewer, err: ApiError) -> Response {
    let err = match err {
        ApiError::Forbidden => ApiError::NotFound,
        other => other,
    };
    viewer.fail(err)
}

/// The link `slug` as `who` may see it, or the 404 page.
async fn read_link(
    state: &AppState,
    viewer: &Viewer,
    who: &Principal,
    slug: &str,
) -> Result<Link, Response> {
    state
        .links
        .get(who, slug)
        .await
        .map_err(|e| not_found_if_forbidden(viewer, ApiError::from(e)))
}

fn status_label(t: Tr, status: LinkStatus) -> &'static str {
    match status {
        LinkStatus::Active => t.get("links.status_active"),
        LinkStatus::Expired => t.get("links.status_expired"),
        LinkStatus::Disabled => t.get("links.status_disabled"),
        LinkStatus::Pending => t.get("links.status_pending"),
    }
}

/// A day as the list shows it: `2026-11-27`.
fn show_date(t: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]");
    t.to_offset(time::UtcOffset::UTC)
        .format(format)
        .unwrap_or_default()
}

/// A target short enough for a table cell: without `https://`, cut with
/// an ellipsis.
fn shortened(url: &str) -> String {
    let bare = url.strip_prefix("https://").unwrap_or(url);
    if bare.chars().count() <= TARGET_CHARS {
        bare.to_owned()
    } else {
        let mut cut: String = bare.chars().take(TARGET_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

// ---------------------------------------------------------------- the list

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    tag: Option<String>,
    cursor: Option<String>,
    done: Option<String>,
}

/// A tag and the list filtered by it.
#[derive(Debug)]
pub struct TagLink {
    pub name: String,
    pub href: String,
}

#[derive(Debug, Template)]
#[template(path = "ui/links_list.html")]
struct ListPage {
    page: Page,
    rows: Vec<LinkView>,
    q: String,
    tag: String,
    /// Whether this is a later page (a "first page" link then).
    paged: bool,
    next: Option<String>,
    first: String,
    clear_tag: String,
    notice: Option<&'static str>,
    show_owner: bool,
}

impl ListPage {
    fn filtered(&self) -> bool {
        !self.q.is_empty() || !self.tag.is_empty()
    }
}

/// `GET /ui/links`.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, Response> {
    let who = viewer.require_user()?;
    let Query(query) = query.map_err(|e| viewer.fail(ApiError::BadRequest(e.body_text())))?;
    let t = Tr(viewer.lang);
    let q = query
        .q
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let tag = query
        .tag
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let after = query
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(decode_cursor)
        .transpose()
        .map_err(|e| viewer.fail(e))?;
    let page_of = state
        .links
        .list(
            who,
            Some(PAGE_SIZE),
            after,
            Some(q.clone()),
            Some(tag.clone()),
        )
        .await
        .map_err(|e| viewer.fail(ApiError::from(e)))?;
    let q_opt = Some(q.as_str()).filter(|v| !v.is_empty());
    let rows = page_of
        .items
        .iter()
        .map(|link| LinkView::new(&state, t, who, link))
        .collect();
    let tag_opt = Some(tag.as_str()).filter(|v| !v.is_empty());
    let next = page_of
        .next
        .map(|c| list_path(q_opt, tag_opt, Some(&encode_cursor(c))));
    let notice = match query.done.as_deref() {
        Some("deleted") => Some(t.get("links.deleted")),
        _ => None,
    };
    let page = viewer.page(t.get("links.list_title"), Nav::Links);
    Ok(render(
        &viewer,
        StatusCode::OK,
        &ListPage {
            page,
            rows,
            paged: after.is_some(),
            next,
            first: list_path(q_opt, tag_opt, None),
            clear_tag: list_path(q_opt, None, None),
            q,
            tag,
            notice,
            show_owner: who.is_admin(),
        },
    ))
}

// ------------------------------------------------------------ one link

/// The edit form as sent (and as first shown, from the link).
#[derive(Debug, Default, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub expires_at: String,
    #[serde(default)]
    pub max_visits: String,
    #[serde(default)]
    password: String,
    pub remove_password: Option<String>,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub redirect_status: String,
    pub forward_query: Option<String>,
}

impl EditForm {
    fn of(link: &Link) -> Self {
        Self {
            url: link.url.clone(),
            expires_at: fields::time_value(link.expires_at),
            max_visits: link.max_visits.map(|n| n.to_string()).unwrap_or_default(),
            tags: link.tags.join(", "),
            title: link.title.clone().unwrap_or_default(),
            redirect_status: link
                .redirect_status
                .map(|n| n.to_string())
                .unwrap_or_default(),
            forward_query: link.forward_query.then(|| "on".to_owned()),
            ..Self::default()
        }
    }

    /// The change the form asks for: only the fields that differ from
    /// `link`, as the page showed it. Sending an unchanged field is not
    /// harmless: a past expiry would be refused, and an unchanged
    /// look-alike target would go back to review.
    fn change(&self, link: &Link) -> Result<UpdateLink, LinkError> {
        let shown = Self::of(link);
        let url = self.url.trim();
        let mut change = UpdateLink {
            url: (url != link.url).then(|| url.to_owned()),
            ..UpdateLink::default()
        };
        if self.expires_at.trim() != shown.expires_at {
            change.expires_at = Some(fields::time(Field::ExpiresAt, &self.expires_at)?);
        }
        let max_visits = fields::number(Field::MaxVisits, &self.max_visits)?;
        if max_visits != link.max_visits {
            change.max_visits = Some(max_visits);
        }
        if fields::checked(self.remove_password.as_deref()) {
            change.password = Some(None);
        } else if let Some(p) = fields::secret(&self.password) {
            change.password = Some(Some(p));
        }
        // Compared as shown, so a tag holding a comma is not split by an
        // edit of another field.
        if self.tags.trim() != shown.tags {
            change.tags = Some(fields::tags(&self.tags));
        }
        let title = fields::text(&self.title);
        if title != link.title {
            change.title = Some(title);
        }
        let status = fields::status(&self.redirect_status)?;
        if status != link.redirect_status {
            change.redirect_status = Some(status);
        }
        let forward = fields::checked(self.forward_query.as_deref());
        if forward != link.forward_query {
            change.forward_query = Some(forward);
        }
        Ok(change)
    }
}

fn is_empty(c: &UpdateLink) -> bool {
    c.url.is_none()
        && c.expires_at.is_none()
        && c.max_visits.is_none()
        && c.password.is_none()
        && c.tags.is_none()
        && c.title.is_none()
        && c.redirect_status.is_none()
        && c.forward_query.is_none()
        && c.disabled.is_none()
        && c.approved.is_none()
}

/// A link as the list and its page show it.
#[derive(Debug)]
pub struct LinkView {
    pub slug: String,
    pub href: String,
    pub short_url: String,
    pub url: String,
    /// The target cut for a table cell.
    pub target: String,
    /// Whether the target may be a link on the page (http and https only).
    pub url_is_web: bool,
    pub title: String,
    pub tags: Vec<TagLink>,
    pub status: &'static str,
    pub status_label: &'static str,
    pub visits: String,
    pub created: String,
    pub created_date: String,
    pub updated: String,
    pub expires: String,
    pub has_expiry: bool,
    pub max_visits: String,
    pub has_password: bool,
    pub owner: String,
    pub disabled: bool,
    /// Disabled by the instance (abuse, blocklist): only an admin enables it.
    pub locked: bool,
}

impl LinkView {
    fn new(state: &AppState, t: Tr, who: &Principal, link: &Link) -> Self {
        let status = state.links.status(link);
        let lower = link.url.to_ascii_lowercase();
        Self {
            slug: link.slug.clone(),
            href: link_path(&link.slug),
            short_url: state.site.short_url(&link.slug),
            url: link.url.clone(),
            url_is_web: lower.starts_with("https://") || lower.starts_with("http://"),
            title: link.title.clone().unwrap_or_default(),
            tags: link
                .tags
                .iter()
                .map(|name| TagLink {
                    href: list_path(None, Some(name), None),
                    name: name.clone(),
                })
                .collect(),
            target: shortened(&link.url),
            created_date: show_date(link.created_at),
            status: status.as_str(),
            status_label: status_label(t, status),
            visits: t.num(link.visits),
            created: fields::show_time(link.created_at),
            updated: fields::show_time(link.updated_at),
            expires: link
                .expires_at
                .map_or_else(|| t.get("common.never").to_owned(), fields::show_time),
            has_expiry: link.expires_at.is_some(),
            max_visits: link
                .max_visits
                .map_or_else(|| t.get("links.unlimited").to_owned(), |n| t.num(n)),
            has_password: link.password_hash.is_some(),
            owner: link.owner.clone().unwrap_or_default(),
            disabled: link.disabled,
            locked: link.disabled_reason.is_some() && !who.is_admin(),
        }
    }
}

#[derive(Debug, Template)]
#[template(path = "ui/links_one.html")]
struct OnePage {
    page: Page,
    link: LinkView,
    form: EditForm,
    error: Option<String>,
    error_field: &'static str,
    notice: Option<&'static str>,
    show_owner: bool,
}

impl OnePage {
    /// The error of `field`, to show next to it.
    fn err(&self, field: &str) -> Option<&str> {
        self.error.as_deref().filter(|_| self.error_field == field)
    }

    /// An error of no field of the form, shown above it.
    fn general_error(&self) -> Option<&str> {
        const FORM_FIELDS: [&str; 7] = [
            "url",
            "expires_at",
            "max_visits",
            "password",
            "tags",
            "title",
            "redirect_status",
        ];
        self.error
            .as_deref()
            .filter(|_| !FORM_FIELDS.contains(&self.error_field))
    }
}

#[derive(Debug, Deserialize)]
pub struct OneQuery {
    done: Option<String>,
}

/// `GET /ui/links/{slug}`.
pub async fn one(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    query: Result<Query<OneQuery>, QueryRejection>,
) -> Result<Response, Response> {
    let who = viewer.require_user()?;
    let link = read_link(&state, &viewer, who, &slug).await?;
    let t = Tr(viewer.lang);
    let notice = match query.ok().and_then(|Query(q)| q.done).as_deref() {
        Some("saved") => Some(t.get("links.saved")),
        Some("disabled") => Some(t.get("links.now_disabled")),
        Some("enabled") => Some(t.get("links.now_enabled")),
        _ => None,
    };
    let page = viewer.page(link.slug.clone(), Nav::Links);
    Ok(render(
        &viewer,
        StatusCode::OK,
        &OnePage {
            page,
            link: LinkView::new(&state, t, who, &link),
            form: EditForm::of(&link),
            error: None,
            error_field: "",
            notice,
            show_owner: who.is_admin(),
        },
    ))
}

/// `POST /ui/links/{slug}`: saves the edit form, then back to the page;
/// a refused value shows the form again with the message at its field.
pub async fn save(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    UiForm(form): UiForm<EditForm>,
) -> Result<Response, Response> {
    viewer.check_csrf(&form.csrf)?;
    let who = viewer.require_user()?;
    let link = read_link(&state, &viewer, who, &slug).await?;
    let saved = match form.change(&link) {
        Ok(change) if is_empty(&change) => Ok(()),
        Ok(change) => state.links.update(who, &link.slug, change).await.map(drop),
        Err(e) => Err(e),
    };
    match saved.map_err(ApiError::from) {
        Ok(()) => {
            Ok(Redirect::to(&format!("{}?done=saved", link_path(&link.slug))).into_response())
        }
        Err(e) if e.status() == StatusCode::BAD_REQUEST || e.status() == StatusCode::CONFLICT => {
            let status = e.status();
            let t = Tr(viewer.lang);
            let page = viewer.page(link.slug.clone(), Nav::Links);
            Ok(render(
                &viewer,
                status,
                &OnePage {
                    page,
                    link: LinkView::new(&state, t, who, &link),
                    error: Some(error_message(viewer.lang, &e)),
                    error_field: e.field().map_or("", field_name),
                    form: EditForm {
                        password: String::new(),
                        ..form
                    },
                    notice: None,
                    show_owner: who.is_admin(),
                },
            ))
        }
        Err(e) => Err(viewer.fail(e)),
    }
}

/// A form that carries only its token.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
}

async fn set_disabled(
    state: &AppState,
    viewer: &Viewer,
    slug: &str,
    csrf: &str,
    disabled: bool,
) -> Result<Response, Response> {
    viewer.check_csrf(csrf)?;
    let who = viewer.require_user()?;
    let link = read_link(state, viewer, who, slug).await?;
    let change = UpdateLink {
        disabled: Some(disabled),
        ..UpdateLink::default()
    };
    state
        .links
        .update(who, &link.slug, change)
        .await
        .map_err(|e| viewer.fail(ApiError::from(e)))?;
    let done = if disabled { "disabled" } else { "enabled" };
    Ok(Redirect::to(&format!("{}?done={done}", link_path(&link.slug))).into_response())
}

/// `POST /ui/links/{slug}/disable`.
pub async fn disable(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    UiForm(form): UiForm<TokenForm>,
) -> Result<Response, Response> {
    set_disabled(&state, &viewer, &slug, &form.csrf, true).await
}

/// `POST /ui/links/{slug}/enable`.
pub async fn enable(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    UiForm(form): UiForm<TokenForm>,
) -> Result<Response, Response> {
    set_disabled(&state, &viewer, &slug, &form.csrf, false).await
}

// ---------------------------------------------------------------- delete

#[derive(Debug, Template)]
#[template(path = "ui/links_delete.html")]
struct DeletePage {
    page: Page,
    link: LinkView,
}

/// `GET /ui/links/{slug}/delete`: the confirmation step, for browsers
/// without script (with script, the link page's dialog confirms).
pub async fn confirm_delete(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
) -> Result<Response, Response> {
    let who = viewer.require_user()?;
    let link = read_link(&state, &viewer, who, &slug).await?;
    let t = Tr(viewer.lang);
    let page = viewer.page(t.get("links.delete_title"), Nav::Links);
    Ok(render(
        &viewer,
        StatusCode::OK,
        &DeletePage {
            page,
            link: LinkView::new(&state, t, who, &link),
        },
    ))
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    /// `1` once confirmed: by the dialog (the script sets it) or by the
    /// confirmation page's form.
    #[serde(default)]
    confirmed: String,
}

/// `POST /ui/links/{slug}/delete`: deletes once confirmed; an unconfirmed
/// post (no script ran the dialog) goes to the confirmation page.
pub async fn delete(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    UiForm(form): UiForm<DeleteForm>,
) -> Result<Response, Response> {
    viewer.check_csrf(&form.csrf)?;
    let who = viewer.require_user()?;
    let link = read_link(&state, &viewer, who, &slug).await?;
    if form.confirmed != "1" {
        return Ok(Redirect::to(&format!("{}/delete", link_path(&link.slug))).into_response());
    }
    state
        .links
        .delete(who, &link.slug)
        .await
        .map_err(|e| not_found_if_forbidden(&viewer, ApiError::from(e)))?;
    Ok(Redirect::to("/ui/links?done=deleted").into_response())
}

// ---------------------------------------------------------------- QR code

#[derive(Debug, Deserialize)]
pub struct QrQuery {
    format: Option<String>,
    size: Option<String>,
    download: Option<String>,
}

/// `GET /ui/links/{slug}/qr?format=png|svg&size=N[&download=1]`: the API's
/// picture for the logged-in owner (or an admin); `download=1` saves it
/// as `<slug>.png` or `.svg`.
pub async fn qr_code(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    query: Result<Query<QrQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let who = viewer.require_user()?;
    let Query(query) = query.map_err(|e| viewer.fail(ApiError::BadRequest(e.body_text())))?;
    let ext = if query.format.as_deref() == Some("png") {
        "png"
    } else {
        "svg"
    };
    let params = QrParams::new(query.format, query.size);
    let mut response = qr::answer(&state, who, &slug, params, &headers)
        .await
        .map_err(|e| not_found_if_forbidden(&viewer, e))?;
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The SVG is ours, but opened on its own it is a document of this
    // site: it may run nothing.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    if query.download.as_deref() == Some("1") {
        let name: String = slug
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let name = if name.is_empty() {
            "qr".to_owned()
        } else {
            name
        };
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.{ext}\"")) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_paths_carry_only_what_is_set_escaped() {
        assert_eq!(list_path(None, None, None), "/ui/links");
        assert_eq!(
            list_path(Some("a b&c"), Some("x/y"), Some("")),
            "/ui/links?q=a%20b%26c&tag=x/y"
        );
        assert_eq!(link_path("a/b c"), "/ui/links/a%2Fb%20c");
    }

    #[test]
    fn targets_are_cut_for_the_table() {
        assert_eq!(shortened("https://example.com/"), "example.com/");
        assert_eq!(shortened("http://example.com/"), "http://example.com/");
        let long = format!("https://example.com/{}", "é".repeat(100));
        let cut = shortened(&long);
        assert_eq!(cut.chars().count(), TARGET_CHARS);
        assert!(cut.ends_with('…'));
    }
}
