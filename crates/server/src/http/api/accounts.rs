//! Users and API keys (API.md, "Users and keys").

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use kurz_core::account::{ApiKey, Role};
use kurz_core::error::Field;

use super::rfc3339;
use crate::accounts;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, Auth};
use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", post(create_user))
        .route("/api/v1/keys", post(create_key).get(list_keys))
        .route("/api/v1/keys/{id}", delete(revoke_key))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    username: String,
    /// 8 to 1,024 characters.
    password: String,
    /// `admin` or `user` (default).
    role: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    id: i64,
    username: String,
    role: &'static str,
    created_at: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    name: Option<String>,
    #[serde(default)]
    read_only: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyResponse {
    id: i64,
    name: Option<String>,
    /// The key itself: shown only in the answer to its creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    read_only: bool,
    created_at: String,
}

impl KeyResponse {
    fn new(key: ApiKey, secret: Option<String>) -> Self {
        Self {
            id: key.id,
            name: key.name,
            key: secret,
            read_only: key.read_only,
            created_at: rfc3339(key.created_at),
        }
    }
}

/// Create a user (admins only).
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts",
    request_body = CreateUserRequest,
    responses(
        (status = 201, body = UserResponse),
        (status = 400, description = "Invalid field (40030)"),
        (status = 401, description = "40101"), (status = 403, description = "40301"),
        (status = 409, description = "User name taken (40902)"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserResponse>), ApiError> {
    if !who.is_admin() || who.read_only {
        return Err(ApiError::Forbidden);
    }
    let role = match req.role.as_deref() {
        None => Role::User,
        Some(r) => Role::parse(r)
            .ok_or_else(|| ApiError::invalid(Field::Role, "role must be \"admin\" or \"user\""))?,
    };
    let user = state
        .accounts
        .create_user(&req.username, req.password, role)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(UserResponse {
            id: user.id,
            username: user.username,
            role: user.role.as_str(),
            created_at: rfc3339(user.created_at),
        }),
    ))
}

/// Create an API key for the caller; the key is shown only here.
#[utoipa::path(post, path = "/api/v1/keys", tag = "accounts",
    request_body = CreateKeyRequest,
    responses(
        (status = 201, body = KeyResponse),
        (status = 401, description = "40101"), (status = 403, description = "Read-only key (40301)"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn create_key(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(req): ApiJson<CreateKeyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    // A read-only key must not mint a key with more rights than itself.
    if who.read_only {
        return Err(ApiError::Forbidden);
    }
    let (key, secret) =
        accounts::create_key(&state.accounts, who.user_id, req.name, req.read_only).await?;
    // The only answer that ever carries the key: no cache may keep it.
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(KeyResponse::new(key, Some(secret))),
    ))
}

/// The caller's keys, without their secrets.
#[utoipa::path(get, path = "/api/v1/keys", tag = "accounts",
    responses((status = 200, body = [KeyResponse]), (status = 401, description = "40101")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list_keys(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<Vec<KeyResponse>>, ApiError> {
    let keys = state.accounts.keys_of(&who).await?;
    Ok(Json(
        keys.into_iter()
            .map(|k| KeyResponse::new(k, None))
            .collect(),
    ))
}

/// Revoke one of the caller's keys; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/keys/{id}", tag = "accounts",
    params(("id" = i64, Path)),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "40101"), (status = 403, description = "Read-only key (40301)"),
        (status = 404, description = "No such key of the caller's (40401)"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn revoke_key(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    if who.read_only {
        return Err(ApiError::Forbidden);
    }
    if state.accounts.revoke_key(&who, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
