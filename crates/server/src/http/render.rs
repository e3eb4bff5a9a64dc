//! kurz's own error body (API.md, "Errors"): the five-digit code of each
//! kind, the message, and the field in the API's spelling.
//!
//! `{"error": {"code": 40011, "message": "...", "field": "url"}}`

use std::sync::LazyLock;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use kurz_core::error::Field;
use kurz_core::slug::AliasError;
use kurz_core::target::UrlError;

use super::error::ApiError;

#[derive(Serialize)]
struct Body {
    error: Detail,
}

#[derive(Serialize)]
struct Detail {
    code: u32,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

/// The code of API.md's table (and the README's additions).
pub fn code(err: &ApiError) -> u32 {
    match err {
        ApiError::BadRequest(_) => 40000,
        ApiError::Url(e) => match e {
            UrlError::Missing => 40010,
            UrlError::Scheme => 40011,
            UrlError::TooLong(_) => 40012,
            UrlError::Malformed(_) => 40013,
            UrlError::Blocked | UrlError::Lookalike(_) => 40014,
            UrlError::Private => 40015,
            UrlError::SelfReference => 40016,
        },
        ApiError::Alias(e) => match e {
            AliasError::Invalid => 40020,
            AliasError::Reserved => 40021,
            AliasError::Blocked => 40022,
        },
        ApiError::Invalid { .. } => 40030,
        ApiError::Unauthenticated => 40101,
        ApiError::WrongPassword => 40102,
        ApiError::Forbidden => 40301,
        ApiError::Csrf => 40302,
        ApiError::NotFound => 40401,
        ApiError::MethodNotAllowed => 40501,
        ApiError::BodyTimeout => 40801,
        ApiError::AliasTaken => 40901,
        ApiError::UsernameTaken => 40902,
        ApiError::ReportResolved(_) => 40903,
        ApiError::Gone | ApiError::Disabled(_) => 41001,
        ApiError::TooLarge(_) => 41301,
        ApiError::RateLimited(_) => 42901,
        ApiError::Internal(_) => 50000,
        ApiError::Unavailable(_) => 50301,
        ApiError::NoFreeCode(_) => 50302,
    }
}

/// A field as kurz's API spells it.
pub fn field_name(field: Field) -> &'static str {
    match field {
        Field::Url => "url",
        Field::Alias => "alias",
        Field::SlugLength => "slug_length",
        Field::ExpiresAt => "expires_at",
        Field::MaxVisits => "max_visits",
        Field::Password => "password",
        Field::Tags => "tags",
        Field::Title => "title",
        Field::RedirectStatus => "redirect_status",
        Field::Limit => "limit",
        Field::Cursor => "cursor",
        Field::Query => "q",
        Field::Tag => "tag",
        Field::Username => "username",
        Field::Role => "role",
        Field::KeyName => "name",
        Field::From => "from",
        Field::To => "to",
        Field::Interval => "interval",
        Field::Format => "format",
        Field::Size => "size",
        Field::Slug => "slug",
        Field::Reason => "reason",
        Field::Details => "details",
        Field::Status => "status",
        Field::Action => "action",
    }
}

/// The bodies of the answers a flood of unknown or dead slugs gets, written
/// once: they have no detail, and a 404 flood should cost no serialising.
static NOT_FOUND: LazyLock<Bytes> = LazyLock::new(|| body_of(&ApiError::NotFound));
static GONE: LazyLock<Bytes> = LazyLock::new(|| body_of(&ApiError::Gone));

fn body_of(err: &ApiError) -> Bytes {
    let body = Body {
        error: Detail {
            code: code(err),
            message: err.to_string(),
            field: err.field().map(field_name),
        },
    };
    serde_json::to_vec(&body).map_or_else(|_| Bytes::new(), Bytes::from)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let body = match self {
            ApiError::NotFound => Bytes::clone(&NOT_FOUND),
            ApiError::Gone => Bytes::clone(&GONE),
            _ => body_of(&self),
        };
        let mut response = (
            self.status(),
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        if let Some(wait) = self.retry_after() {
            set_retry_after(&mut response, wait);
        }
        response
    }
}

/// `Retry-After` in whole seconds, rounded up, at least 1.
pub fn set_retry_after(response: &mut Response, wait: Duration) {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_five_digits_and_matches_its_status() {
        let all = [
            ApiError::BadRequest(String::new()),
            ApiError::Url(UrlError::Missing),
            ApiError::Alias(AliasError::Invalid),
            ApiError::invalid(Field::Title, "y"),
            ApiError::Unauthenticated,
            ApiError::WrongPassword,
            ApiError::Forbidden,
            ApiError::Csrf,
            ApiError::NotFound,
            ApiError::MethodNotAllowed,
            ApiError::BodyTimeout,
            ApiError::AliasTaken,
            ApiError::UsernameTaken,
            ApiError::Gone,
            ApiError::Disabled(kurz_core::link::DisabledReason::Abuse),
            ApiError::ReportResolved("dismiss"),
            ApiError::TooLarge(1024),
            ApiError::RateLimited(Duration::from_secs(1)),
            ApiError::NoFreeCode(String::new()),
            ApiError::internal("boom"),
            ApiError::Unavailable("down".into()),
        ];
        for e in all {
            let code = code(&e);
            assert!((10_000..100_000).contains(&code));
            assert_eq!(u32::from(e.status().as_u16()), code / 100, "{e:?}");
        }
    }

    #[test]
    fn too_large_names_the_limit_of_the_route() {
        assert_eq!(
            ApiError::TooLarge(1024 * 1024).to_string(),
            "the request body is larger than 1 MiB"
        );
        assert_eq!(
            ApiError::TooLarge(16 * 1024).to_string(),
            "the request body is larger than 16 KiB"
        );
        assert_eq!(
            ApiError::TooLarge(100).to_string(),
            "the request body is larger than 100 bytes"
        );
    }
}
