//! Links: create, list, read, change, delete (API.md, "Links").

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use kurz_core::error::Field;
use kurz_core::link::{Cursor, Link};
use kurz_core::service::{Created, LinkPage, UpdateLink};

pub use super::create_body::CreateLinkRequest;
use super::create_body::{parse_time, tags, Tags};
use super::{cursor, nullable, rfc3339};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Auth, MaybeAuth};
use crate::http::render::field_name;
use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/links", get(list_links).post(create_link))
        .route(
            "/api/v1/links/{slug}",
            get(get_link).patch(update_link).delete(delete_link),
        )
}

/// A link as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkResponse {
    slug: String,
    short_url: String,
    url: String,
    /// `active`, `pending`, `disabled` or `expired`.
    status: &'static str,
    created_at: String,
    updated_at: String,
    expires_at: Option<String>,
    max_visits: Option<i64>,
    visits: i64,
    tags: Vec<String>,
    title: Option<String>,
    redirect_status: u16,
    forward_query: bool,
    has_password: bool,
    owner: Option<String>,
}

impl LinkResponse {
    pub(crate) fn new(link: Link, state: &AppState) -> Self {
        Self {
            short_url: state.site.short_url(&link.slug),
            status: state.links.status(&link).as_str(),
            created_at: rfc3339(link.created_at),
            updated_at: rfc3339(link.updated_at),
            expires_at: link.expires_at.map(rfc3339),
            redirect_status: link.redirect_code(state.site.default_redirect).get(),
            has_password: link.password_hash.is_some(),
            slug: link.slug,
            url: link.url,
            max_visits: link.max_visits,
            visits: link.visits,
            tags: link.tags,
            title: link.title,
            forward_query: link.forward_query,
            owner: link.owner,
        }
    }
}

/// Every field is optional; `null` clears `expires_at`, `max_visits`,
/// `password`, `title` and `redirect_status`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLinkRequest {
    url: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    expires_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    max_visits: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    password: Option<Option<String>>,
    #[schema(value_type = Option<Vec<String>>)]
    tags: Option<Tags>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u16>)]
    redirect_status: Option<Option<u16>>,
    forward_query: Option<bool>,
    disabled: Option<bool>,
    /// Admins only: approve an alias that matched the review list.
    approved: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1 to 1,000; default 50.
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Substring of slug, URL or title.
    q: Option<String>,
    /// Only links with this tag.
    tag: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkList {
    items: Vec<LinkResponse>,
    next_cursor: Option<String>,
}

impl LinkList {
    /// A page of links as the API shows it.
    pub(crate) fn new(page: LinkPage, state: &AppState) -> Self {
        Self {
            items: page
                .items
                .into_iter()
                .map(|l| LinkResponse::new(l, state))
                .collect(),
            next_cursor: page.next.map(encode_cursor),
        }
    }
}

pub(crate) fn encode_cursor(c: Cursor) -> String {
    cursor::encode(c.created_at_ms, c.id)
}

pub(crate) fn decode_cursor(text: &str) -> Result<Cursor, ApiError> {
    let (created_at_ms, id) = cursor::decode(text)?;
    Ok(Cursor { created_at_ms, id })
}

/// Create a link.
#[utoipa::path(post, path = "/api/v1/links", tag = "links",
    request_body = CreateLinkRequest,
    responses(
        (status = 201, description = "Created", body = LinkResponse),
        (status = 200, description = "`reuse` found an existing link", body = LinkResponse),
        (status = 400, description = "Invalid field (40000, 40010-40016, 40020-40022, 40030)"),
        (status = 401, description = "No valid API key (40101)"),
        (status = 403, description = "Read-only key (40301)"),
        (status = 409, description = "Alias taken (40901)"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn create_link(
    State(state): State<AppState>,
    MaybeAuth(who): MaybeAuth,
    ApiJson(req): ApiJson<CreateLinkRequest>,
) -> Result<Response, ApiError> {
    if who.is_none() && !state.site.allow_anonymous {
        return Err(ApiError::Unauthenticated);
    }
    let input = req.into_create()?;
    let (status, link) = match state.links.create(who.as_ref(), input).await? {
        Created::New(link) => (StatusCode::CREATED, link),
        Created::Existing(link) => (StatusCode::OK, link),
    };
    Ok((status, Json(LinkResponse::new(link, &state))).into_response())
}

/// The caller's links (everyone's for admins), newest first.
#[utoipa::path(get, path = "/api/v1/links", tag = "links", params(ListParams),
    responses(
        (status = 200, body = LinkList),
        (status = 400, description = "Bad `limit` or `cursor` (40030)"),
        (status = 401, description = "No valid API key (40101)"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list_links(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<LinkList>, ApiError> {
    let after = params.cursor.as_deref().map(decode_cursor).transpose()?;
    let page = state
        .links
        .list(&who, params.limit, after, params.q, params.tag)
        .await?;
    Ok(Json(LinkList::new(page, &state)))
}

/// One link.
#[utoipa::path(get, path = "/api/v1/links/{slug}", tag = "links",
    params(("slug" = String, Path)),
    responses(
        (status = 200, body = LinkResponse),
        (status = 401, description = "40101"), (status = 403, description = "40301"),
        (status = 404, description = "40401"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn get_link(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<LinkResponse>, ApiError> {
    let link = state.links.get(&who, &slug).await?;
    Ok(Json(LinkResponse::new(link, &state)))
}

/// Change a link; the change is visible on the redirect at once.
#[utoipa::path(patch, path = "/api/v1/links/{slug}", tag = "links",
    params(("slug" = String, Path)),
    request_body = UpdateLinkRequest,
    responses(
        (status = 200, body = LinkResponse),
        (status = 400, description = "Invalid field"),
        (status = 401, description = "40101"), (status = 403, description = "40301"),
        (status = 404, description = "40401"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn update_link(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateLinkRequest>,
) -> Result<Json<LinkResponse>, ApiError> {
    let expires_at = match req.expires_at {
        Some(Some(t)) => Some(Some(parse_time(
            Field::ExpiresAt,
            field_name(Field::ExpiresAt),
            &t,
        )?)),
        Some(None) => Some(None),
        None => None,
    };
    let change = UpdateLink {
        url: req.url,
        expires_at,
        max_visits: req.max_visits,
        password: req.password,
        tags: req.tags.map(tags).transpose()?,
        title: req.title,
        redirect_status: req.redirect_status,
        forward_query: req.forward_query,
        disabled: req.disabled,
        approved: req.approved,
        ..UpdateLink::default()
    };
    let link = state.links.update(&who, &slug, change).await?;
    Ok(Json(LinkResponse::new(link, &state)))
}

/// Delete a link. Its slug then answers 404 and is never given out again.
#[utoipa::path(delete, path = "/api/v1/links/{slug}", tag = "links",
    params(("slug" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "40101"), (status = 403, description = "40301"),
        (status = 404, description = "40401"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn delete_link(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiPath(slug): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.links.delete(&who, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let c = Cursor {
            created_at_ms: 1_700_000_000_123,
            id: 42,
        };
        assert_eq!(decode_cursor(&encode_cursor(c)).expect("valid"), c);
        assert!(decode_cursor("not-a-cursor").is_err());
    }
}
