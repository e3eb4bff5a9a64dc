//! `ApiError`: what went wrong with a request, classified once: its kind,
//! the HTTP status, the [`Field`] at fault, a message, and a wait for rate
//! limits. It is independent of any API's body shape: `render` turns it
//! into kurz's JSON (API.md, "Errors"), and a second API surface renders the
//! same classification in its own shape.

use std::time::Duration;

use axum::http::StatusCode;

use kurz_core::error::{
    AccountError, BoxError, CatalogError, Field, HashError, LinkError, ReportError, StoreError,
};
use kurz_core::link::DisabledReason;
use kurz_core::service::UnlockError;
use kurz_core::slug::AliasError;
use kurz_core::target::UrlError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Not JSON, wrong types, unknown content type.
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error(transparent)]
    Alias(#[from] AliasError),
    /// Another input is invalid.
    #[error("{message}")]
    Invalid { field: Field, message: String },
    #[error("a valid API key is required")]
    Unauthenticated,
    #[error("wrong password")]
    WrongPassword,
    #[error("you are not allowed to do this")]
    Forbidden,
    /// A UI form without this browser's form token (CSRF).
    #[error("the form expired or did not come from this site; reload the page and try again")]
    Csrf,
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
    /// Disabled by the instance, for a reason its page names.
    #[error("{}", disabled_message(*.0))]
    Disabled(DisabledReason),
    /// An abuse report was resolved before, with this other action.
    #[error("this report was already resolved with {0}")]
    ReportResolved(&'static str),
    /// The body is larger than the route's limit, in bytes.
    #[error("the request body is larger than {}", human_size(*.0))]
    TooLarge(usize),
    /// The client did not send the whole body within the body time-out.
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    #[error("too many requests; retry later")]
    RateLimited(Duration),
    /// No new slug can be made until an operator acts (a longer slug
    /// length); retrying does not help, but it is no bug either.
    #[error("no new short link can be made: {0}")]
    NoFreeCode(String),
    #[error("internal error")]
    Internal(#[source] BoxError),
    #[error("the store is unavailable; retry later")]
    Unavailable(#[source] BoxError),
}

impl ApiError {
    pub fn invalid(field: Field, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }

    pub fn internal(err: impl Into<BoxError>) -> Self {
        Self::Internal(err.into())
    }

    pub fn status(&self) -> StatusCode {
        use StatusCode as S;
        match self {
            Self::BadRequest(_) | Self::Url(_) | Self::Alias(_) | Self::Invalid { .. } => {
                S::BAD_REQUEST
            }
            Self::Unauthenticated | Self::WrongPassword => S::UNAUTHORIZED,
            Self::Forbidden | Self::Csrf => S::FORBIDDEN,
            Self::NotFound => S::NOT_FOUND,
            Self::MethodNotAllowed => S::METHOD_NOT_ALLOWED,
            Self::BodyTimeout => S::REQUEST_TIMEOUT,
            Self::AliasTaken | Self::UsernameTaken | Self::ReportResolved(_) => S::CONFLICT,
            Self::Gone | Self::Disabled(_) => S::GONE,
            Self::TooLarge(_) => S::PAYLOAD_TOO_LARGE,
            Self::RateLimited(_) => S::TOO_MANY_REQUESTS,
            Self::Internal(_) => S::INTERNAL_SERVER_ERROR,
            Self::NoFreeCode(_) | Self::Unavailable(_) => S::SERVICE_UNAVAILABLE,
        }
    }

    /// The input at fault, if one is.
    pub fn field(&self) -> Option<Field> {
        match self {
            Self::Url(_) => Some(Field::Url),
            Self::Alias(_) | Self::AliasTaken => Some(Field::Alias),
            Self::Invalid { field, .. } => Some(*field),
            Self::UsernameTaken => Some(Field::Username),
            Self::WrongPassword => Some(Field::Password),
            _ => None,
        }
    }

    /// How long a rate-limited client should wait.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited(wait) => Some(*wait),
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

/// What the 410 of a link the instance disabled says, on its page and in
/// its JSON.
fn disabled_message(reason: DisabledReason) -> &'static str {
    match reason {
        DisabledReason::Abuse => {
            "this link was disabled for abuse: it was reported, and an administrator \
             found that it leads somewhere harmful"
        }
        DisabledReason::Blocklist => {
            "this link was disabled because its target is on a blocklist of harmful sites"
        }
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

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            other @ StoreError::Other(_) => Self::Internal(Box::new(other)),
        }
    }
}

impl From<HashError> for ApiError {
    fn from(err: HashError) -> Self {
        match err {
            // The hashing slots are a shared bound, not this client's fault,
            // but "retry in a moment" is what 429 with Retry-After says.
            HashError::Busy => Self::RateLimited(Duration::from_secs(1)),
            other @ HashError::Failed(_) => Self::internal(other),
        }
    }
}

impl From<LinkError> for ApiError {
    fn from(err: LinkError) -> Self {
        match err {
            LinkError::Url(e) => e.into(),
            LinkError::Alias(e) => e.into(),
            LinkError::Invalid { field, message } => Self::Invalid { field, message },
            LinkError::SlugTaken => Self::AliasTaken,
            LinkError::NotFound => Self::NotFound,
            LinkError::Forbidden => Self::Forbidden,
            LinkError::NoFreeCode(why) => Self::NoFreeCode(why.to_string()),
            LinkError::Hash(e) => e.into(),
            LinkError::Store(e) => e.into(),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::UsernameTaken => Self::UsernameTaken,
            AccountError::Invalid { field, message } => Self::Invalid { field, message },
            AccountError::Forbidden => Self::Forbidden,
            AccountError::NotFound => Self::NotFound,
            AccountError::WrongPassword => Self::WrongPassword,
            AccountError::Hash(e) => e.into(),
            AccountError::Store(e) => e.into(),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(err: CatalogError) -> Self {
        match err {
            CatalogError::Link(e) => e.into(),
            CatalogError::TagNotFound => Self::NotFound,
            CatalogError::TagTaken => Self::invalid(Field::Tags, err.to_string()),
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(err: ReportError) -> Self {
        match err {
            ReportError::Invalid { field, message } => Self::Invalid { field, message },
            ReportError::NotFound => Self::NotFound,
            ReportError::Forbidden => Self::Forbidden,
            ReportError::AlreadyResolved(done) => Self::ReportResolved(done),
            ReportError::Link(e) => e.into(),
            ReportError::Store(e) => e.into(),
        }
    }
}

impl From<UnlockError> for ApiError {
    fn from(err: UnlockError) -> Self {
        match err {
            UnlockError::Hash(e) => e.into(),
            UnlockError::Store(e) => e.into(),
        }
    }
}
