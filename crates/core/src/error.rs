//! Errors in domain words. Infrastructure causes are boxed inside
//! [`StoreError`] so the core never names sqlx or redis.

use crate::slug::{AliasError, CodeSpaceExhausted};
use crate::target::UrlError;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

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

/// Why a link could not be created, read or changed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error(transparent)]
    Alias(#[from] AliasError),
    /// Another field is invalid; `field` names it.
    #[error("{message}")]
    Field {
        field: &'static str,
        message: String,
    },
    #[error("this alias is already taken")]
    SlugTaken,
    #[error("no such link")]
    NotFound,
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error(transparent)]
    CodeSpace(#[from] CodeSpaceExhausted),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LinkError {
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        Self::Field {
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

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("this user name is already taken")]
    UsernameTaken,
    #[error("{message}")]
    Field {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}
