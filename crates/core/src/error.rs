//! Errors in domain words. Infrastructure causes are boxed inside
//! [`StoreError`] so the core never names sqlx or redis. Errors say which
//! input they are about with a [`Field`], never with an API's spelling of
//! it: each API renders the same error in its own vocabulary.

use crate::slug::{AliasError, CodeSpaceExhausted};
use crate::target::UrlError;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An input a request can get wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Url,
    Alias,
    /// Length of a generated slug.
    SlugLength,
    ExpiresAt,
    MaxVisits,
    Password,
    Tags,
    Title,
    RedirectStatus,
    /// Page size of a list.
    Limit,
    /// Where a list page starts.
    Cursor,
    /// Search text of a list.
    Query,
    /// Tag filter of a list.
    Tag,
    Username,
    Role,
    /// The label of an API key.
    KeyName,
    /// Start of a stats range.
    From,
    /// End of a stats range.
    To,
    /// Bucket width of a stats series.
    Interval,
    /// Output format of a listing or an image.
    Format,
    /// Pixels of an image's side.
    Size,
    /// The slug a request is about (an abuse report's).
    Slug,
    /// Why a link is reported.
    Reason,
    /// A report's free text.
    Details,
    /// The status a list is filtered by.
    Status,
    /// What to do with a report.
    Action,
}

/// A storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or did not answer in time: retrying later
    /// may work, and the client is told 503.
    #[error("the store is unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug or corrupt data.
    #[error("the store failed")]
    Other(#[source] BoxError),
}

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing slot and every place in the queue is taken: retry in
    /// a moment.
    #[error("too many password checks at once; retry in a moment")]
    Busy,
    #[error("the password could not be hashed")]
    Failed(#[source] BoxError),
}

/// Why a link could not be created, read or changed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error(transparent)]
    Alias(#[from] AliasError),
    /// Another input is invalid.
    #[error("{message}")]
    Invalid { field: Field, message: String },
    #[error("this alias is already taken")]
    SlugTaken,
    #[error("no such link")]
    NotFound,
    #[error("you are not allowed to do this")]
    Forbidden,
    /// No new slug could be made: the code space of the configured length
    /// is used up, or nearly every code met an alias or a blocked word.
    #[error("no free short code is left: {0}")]
    NoFreeCode(NoFreeCode),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a catalog question (search, tags, visits) was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error("no such tag")]
    TagNotFound,
    #[error("a tag of that name exists already")]
    TagTaken,
}

impl From<StoreError> for CatalogError {
    fn from(e: StoreError) -> Self {
        Self::Link(LinkError::Store(e))
    }
}

/// Why no code was free.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoFreeCode {
    #[error("{0}")]
    Exhausted(CodeSpaceExhausted),
    #[error("{0} generated codes in a row were taken or blocked")]
    Skipped(usize),
}

impl LinkError {
    pub fn invalid(field: Field, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// What an insert can run into besides a store failure.
#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    /// The unique index on the slug said no.
    #[error("slug already taken")]
    SlugTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an abuse report could not be filed, listed or resolved.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{message}")]
    Invalid { field: Field, message: String },
    /// No such link (filing) or no such report (resolving).
    #[error("not found")]
    NotFound,
    #[error("you are not allowed to do this")]
    Forbidden,
    /// The report was resolved before, otherwise than asked now.
    #[error("this report was already resolved: {0}")]
    AlreadyResolved(&'static str),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ReportError {
    pub fn invalid(field: Field, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("this user name is already taken")]
    UsernameTaken,
    #[error("{message}")]
    Invalid { field: Field, message: String },
    /// Only an admin may do this, or no one may do it to themself.
    #[error("you are not allowed to do this")]
    Forbidden,
    /// The user a request names does not exist.
    #[error("no such user")]
    NotFound,
    /// The current password given with a password change is wrong.
    #[error("wrong password")]
    WrongPassword,
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AccountError {
    pub fn invalid(field: Field, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}
