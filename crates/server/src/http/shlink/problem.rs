//! Shlink's error shape: `application/problem+json` (RFC 7807) with the
//! `type` URIs Shlink's clients match on. kurz's own errors reach it
//! through their [`Classified`] form, so one classification serves both
//! APIs.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use kurz_core::error::Field;

use crate::http::render::Classified;

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
    fn from_classified(status: StatusCode, c: &Classified) -> Self {
        let (kind, title) = match c.code {
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
        let mut p = Self::new(status, kind, title).detail(match c.code {
            40101 => "Provided API key does not exist or is invalid.".to_owned(),
            40401 => "Requested route does not exist.".to_owned(),
            _ => c.message.clone(),
        });
        if kind == "invalid-data" {
            let fields: Vec<&str> = c.field.map(field_name).into_iter().collect();
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

/// A field as Shlink's API spells it.
fn field_name(field: Field) -> &'static str {
    match field {
        Field::Url => "longUrl",
        Field::Alias => "customSlug",
        Field::SlugLength => "shortCodeLength",
        Field::ExpiresAt => "validUntil",
        Field::MaxVisits => "maxVisits",
        Field::Tags | Field::Tag => "tags",
        Field::Title => "title",
        Field::Limit => "itemsPerPage",
        Field::Query => "searchTerm",
        Field::From => "startDate",
        Field::To => "endDate",
        _ => "body",
    }
}

/// An answer some layer or handler gave as a kurz error, re-rendered as
/// Shlink's problem, keeping its status and headers (`Retry-After`).
pub fn render_problems(response: Response) -> Response {
    let Some(classified) = response.extensions().get::<Classified>().cloned() else {
        return response;
    };
    let (parts, _) = response.into_parts();
    let mut problem = Problem::from_classified(parts.status, &classified).into_response();
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

    #[test]
    fn kurz_errors_get_shlink_types_and_field_names() {
        let c = Classified {
            code: 40030,
            message: "the maximum must be at least 1".into(),
            field: Some(Field::MaxVisits),
        };
        let p = Problem::from_classified(StatusCode::BAD_REQUEST, &c);
        assert_eq!(p.kind, "invalid-data");
        assert_eq!(p.detail, "the maximum must be at least 1");
        assert_eq!(p.extra["invalidElements"], json!(["maxVisits"]));
        let c = Classified {
            code: 40101,
            message: String::new(),
            field: None,
        };
        assert_eq!(
            Problem::from_classified(StatusCode::UNAUTHORIZED, &c).kind,
            "invalid-api-key"
        );
    }
}
