//! `ApiError`: every error answer of the HTTP API, and the one place where an
//! error becomes a status code and a five-digit code (API.md, "Errors").

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use kurz_core::error::{AccountError, BoxError, LinkError, StoreError};
use kurz_core::slug::AliasError;
use kurz_core::target::UrlError;

use crate::secret::SecretError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Not JSON, wrong types, unknown content type.
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error(transparent)]
    Alias(#[from] AliasError),
    #[error("{message}")]
    Field {
        field: &'static str,
        message: String,
    },
    #[error("a valid API key is required")]
    Unauthenticated,
    #[error("wrong password")]
    WrongPassword,
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("this alias is already taken")]
    AliasTaken,
    #[error("this user name is already taken")]
    UsernameTaken,
    #[error("this link has expired, is disabled or has reached its visit limit")]
    Gone,
    /// The body is larger than the route's limit, in bytes.
    #[error("the request body is larger than {}", human_size(*.0))]
    TooLarge(usize),
    /// The client did not send the whole body within the body time-out.
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    #[error("too many requests; retry later")]
    RateLimited(Duration),
    #[error("internal error")]
    Internal(#[source] BoxError),
    #[error("the store is unavailable; retry later")]
    Unavailable(#[source] BoxError),
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: u32,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        Self::Field {
            field,
            message: message.into(),
        }
    }

    pub fn internal(err: impl Into<BoxError>) -> Self {
        Self::Internal(err.into())
    }

    /// HTTP status and the code from API.md's table.
    pub fn status_and_code(&self) -> (StatusCode, u32) {
        use StatusCode as S;
        match self {
            Self::BadRequest(_) => (S::BAD_REQUEST, 40000),
            Self::Url(e) => (
                S::BAD_REQUEST,
                match e {
                    UrlError::Missing => 40010,
                    UrlError::Scheme => 40011,
                    UrlError::TooLong(_) => 40012,
                    UrlError::Malformed(_) => 40013,
                    UrlError::Blocked => 40014,
                    UrlError::Private => 40015,
                    UrlError::SelfReference => 40016,
                },
            ),
            Self::Alias(e) => (
                S::BAD_REQUEST,
                match e {
                    AliasError::Invalid => 40020,
                    AliasError::Reserved => 40021,
                    AliasError::Blocked => 40022,
                },
            ),
            Self::Field { .. } => (S::BAD_REQUEST, 40030),
            Self::Unauthenticated => (S::UNAUTHORIZED, 40101),
            Self::WrongPassword => (S::UNAUTHORIZED, 40102),
            Self::Forbidden => (S::FORBIDDEN, 40301),
            Self::NotFound => (S::NOT_FOUND, 40401),
            Self::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, 40501),
            Self::AliasTaken => (S::CONFLICT, 40901),
            Self::UsernameTaken => (S::CONFLICT, 40902),
            Self::Gone => (S::GONE, 41001),
            Self::BodyTimeout => (S::REQUEST_TIMEOUT, 40801),
            Self::TooLarge(_) => (S::PAYLOAD_TOO_LARGE, 41301),
            Self::RateLimited(_) => (S::TOO_MANY_REQUESTS, 42901),
            Self::Internal(_) => (S::INTERNAL_SERVER_ERROR, 50000),
            Self::Unavailable(_) => (S::SERVICE_UNAVAILABLE, 50301),
        }
    }

    fn field_name(&self) -> Option<&'static str> {
        match self {
            Self::Url(_) => Some("url"),
            Self::Alias(_) | Self::AliasTaken => Some("alias"),
            Self::Field { field, .. } => Some(field),
            Self::UsernameTaken => Some("username"),
            Self::WrongPassword => Some("password"),
            _ => None,
        }
    }

    /// Logs server-side failures with their cause chain; the client only
    /// sees the opaque message.
    pub(crate) fn log(&self) {
        if let Self::Internal(cause) | Self::Unavailable(cause) = self {
            let mut chain = cause.to_string();
            let mut source = cause.source();
            while let Some(s) = source {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                source = s.source();
            }
            tracing::error!(error = %chain, "{self}");
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let (status, code) = self.status_and_code();
        let body = Body {
            error: Detail {
                code,
                message: self.to_string(),
                field: self.field_name(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Self::RateLimited(wait) = self {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

/// `1 MiB`, `16 KiB`, `100 bytes`: limits as people write them.
fn human_size(bytes: usize) -> String {
    const KIB: usize = 1024;
    match bytes {
        b if b >= KIB * KIB && b % (KIB * KIB) == 0 => format!("{} MiB", b / (KIB * KIB)),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
    }
}

impl From<SecretError> for ApiError {
    fn from(err: SecretError) -> Self {
        match err {
            // The hashing slots are a shared bound, not this client's fault,
            // but "retry in a moment" is what 429 with Retry-After says.
            SecretError::Busy => Self::RateLimited(Duration::from_secs(1)),
            other => Self::internal(other),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            other @ StoreError::Other(_) => Self::Internal(Box::new(other)),
        }
    }
}

impl From<LinkError> for ApiError {
    fn from(err: LinkError) -> Self {
        match err {
            LinkError::Url(e) => e.into(),
            LinkError::Alias(e) => e.into(),
            LinkError::Field { field, message } => Self::Field { field, message },
            LinkError::SlugTaken => Self::AliasTaken,
            LinkError::NotFound => Self::NotFound,
            LinkError::Forbidden => Self::Forbidden,
            LinkError::CodeSpace(e) => Self::internal(e),
            LinkError::Store(e) => e.into(),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::UsernameTaken => Self::UsernameTaken,
            AccountError::Field { field, message } => Self::Field { field, message },
            AccountError::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn every_code_is_five_digits_and_matches_its_status() {
        let all = [
            ApiError::BadRequest(String::new()),
            ApiError::Url(UrlError::Missing),
            ApiError::Alias(AliasError::Invalid),
            ApiError::field("x", "y"),
            ApiError::Unauthenticated,
            ApiError::WrongPassword,
            ApiError::Forbidden,
            ApiError::NotFound,
            ApiError::MethodNotAllowed,
            ApiError::AliasTaken,
            ApiError::UsernameTaken,
            ApiError::Gone,
            ApiError::BodyTimeout,
            ApiError::TooLarge(1024),
            ApiError::RateLimited(Duration::from_secs(1)),
            ApiError::internal("boom"),
            ApiError::Unavailable("down".into()),
        ];
        for e in all {
            let (status, code) = e.status_and_code();
            assert!((10_000..100_000).contains(&code));
            assert_eq!(u32::from(status.as_u16()), code / 100, "{e:?}");
        }
    }
}
