//! Shlink's error shape: `application/problem+json` (RFC 7807) with the
//! `type` URIs Shlink's clients match on. kurz's own errors are read back
//! from the answer in kurz's shape ([`render_problems`]), so one
//! classification serves both APIs.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Map, Value};

const TYPE_BASE: &str = "https://shlink.io/api/error/";

/// One Shlink problem answer.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: String,
    /// Shlink's additional members (`shortCode`, `invalidElements`, ...).
    extra: Map<String, Value>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &'static str, title: &'static str) -> Self {
        Self {
            status,
            kind,
            title,
            detail: title.to_owned(),
            extra: Map::new(),
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// `invalid-data`: a field Shlink would take but kurz cannot, or a
    /// value out of range; `detail` says why.
    pub fn invalid(field: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-data", "Invalid data")
            .detail(detail)
            .with("invalidElements", json!([field]))
    }

    pub fn short_url_not_found(slug: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "short-url-not-found",
            "Short URL not found",
        )
        .detail(format!("No URL found with short code \"{slug}\""))
        .with("shortCode", slug)
    }

    pub fn non_unique_slug(slug: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "non-unique-slug",
            "Invalid custom slug",
        )
        .detail(format!("Provided slug \"{slug}\" is already in use."))
        .with("customSlug", slug)
    }

    pub fn tag_not_found(tag: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "tag-not-found", "Tag not found")
            .detail(format!("Tag with name \"{tag}\" could not be found"))
            .with("tag", tag)
    }

    pub fn tag_conflict(old: &str, new: &str) -> Self {
        Self::new(StatusCode::CONFLICT, "tag-conflict", "Tag conflict")
            .detail(format!(
                "You cannot rename tag {old} to {new}, because it already exists"
            ))
            .with("oldName", old)
            .with("newName", new)
    }

    pub fn forbidden_tag_operation(what: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden-tag-operation",
            "Forbidden tag operation",
        )
        .detail(format!("You are not allowed to {what} tags"))
    }

    pub fn missing_authentication() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "missing-authentication",
            "Invalid authorization",
        )
        .detail(
            "Expected one of the following authentication headers, [\"X-Api-Key\"], \
             but none were provided",
        )
        .with("expectedHeaders", json!(["X-Api-Key"]))
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found")
            .detail("Requested route does not exist.")
    }

    pub fn domain_not_found(authority: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "domain-not-found",
            "Domain not found",
        )
        .detail(format!(
            "Domain with authority \"{authority}\" could not be found"
        ))
        .with("authority", authority)
    }

    pub fn mercure_not_configured() -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "mercure-not-configured",
            "Mercure integration not configured",
        )
        .detail("This Shlink instance is not integrated with a mercure hub.")
    }

    /// A kurz error as Shlink would have said it.
    fn from_kurz(status: StatusCode, e: &KurzError) -> Self {
        let (kind, title) = match e.code {
            40000..=40099 => ("invalid-data", "Invalid data"),
            40101 => ("invalid-api-key", "Invalid API key"),
            40301 => ("forbidden-operation", "Forbidden operation"),
            40401 => ("not-found", "Not found"),
            40501 => ("method-not-allowed", "Method not allowed"),
            40801 => ("request-timeout", "Request timeout"),
            40901 => ("non-unique-slug", "Invalid custom slug"),
            41301 => ("request-too-large", "Request body too large"),
            42901 => ("too-many-requests", "Too many requests"),
            50301 | 50302 => ("service-unavailable", "Service unavailable"),
            _ if status.is_client_error() => ("invalid-request", "Invalid request"),
            _ => ("internal-server-error", "Internal server error"),
        };
        let mut p = Self::new(status, kind, title).detail(match e.code {
            40101 => "Provided API key does not exist or is invalid.".to_owned(),
            40401 => "Requested route does not exist.".to_owned(),
            _ => e.message.clone(),
        });
        if kind == "invalid-data" {
            let fields: Vec<&str> = e.field.as_deref().map(field_name).into_iter().collect();
            p = p.with("invalidElements", json!(fields));
        }
        p
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = self.extra;
        body.insert("type".into(), format!("{TYPE_BASE}{}", self.kind).into());
        body.insert("title".into(), self.title.into());
        body.insert("detail".into(), self.detail.into());
        body.insert("status".into(), self.status.as_u16().into());
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            )],
            bytes,
        )
            .into_response()
    }
}

/// kurz's error body, `{"error": {"code", "message", "field"}}`: what
/// every layer of the service answers a failure with.
#[derive(Debug, Deserialize)]
struct KurzBody {
    error: KurzError,
}

#[derive(Debug, Deserialize)]
struct KurzError {
    code: u32,
    message: String,
    field: Option<String>,
}

/// A field as Shlink's API spells it, from kurz's spelling.
fn field_name(kurz: &str) -> &str {
    match kurz {
        "url" => "longUrl",
        "alias" => "customSlug",
        "slug_length" => "shortCodeLength",
        "expires_at" => "validUntil",
        "max_visits" => "maxVisits",
        "tag" => "tags",
        "limit" => "itemsPerPage",
        "q" => "searchTerm",
        "from" => "startDate",
        "to" => "endDate",
        other => other,
    }
}

/// Longest kurz error body read back; they are a few hundred bytes.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// An answer some layer or handler gave in kurz's error shape, re-rendered
/// as Shlink's problem from the same classification (the five-digit code,
/// message and field), keeping its status and headers (`Retry-After`).
/// Reading the classification back here, and only here, keeps the error
/// answers of the rest of the service (the redirect path's 404 among them)
/// as cheap as they were.
pub async fn render_problems(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json");
    if !(status.is_client_error() || status.is_server_error()) || !is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return Problem::new(status, "internal-server-error", "Internal server error")
            .into_response();
    };
    let Ok(kurz) = serde_json::from_slice::<KurzBody>(&bytes) else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    let mut problem = Problem::from_kurz(status, &kurz.error).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    problem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn kurz_errors_get_shlink_types_and_field_names() {
        use crate::http::error::ApiError;
        use kurz_core::error::Field;

        let kurz = ApiError::invalid(Field::MaxVisits, "the maximum must be at least 1");
        let r = render_problems(kurz.into_response()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let bytes = axum::body::to_bytes(r.into_body(), 4096)
            .await
            .expect("body");
        let p: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(p["type"], "https://shlink.io/api/error/invalid-data");
        assert_eq!(p["detail"], "the maximum must be at least 1");
        assert_eq!(p["invalidElements"], json!(["maxVisits"]));

        let r = render_problems(
            ApiError::RateLimited(std::time::Duration::from_secs(3)).into_response(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "3");
        let r = render_problems(ApiError::Unauthenticated.into_response()).await;
        let bytes = axum::body::to_bytes(r.into_body(), 4096)
            .await
            .expect("body");
        let p: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(p["type"], "https://shlink.io/api/error/invalid-api-key");
    }
}
