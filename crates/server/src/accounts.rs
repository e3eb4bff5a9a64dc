//! Making users and keys: shared by the CLI and the API.

use kurz_core::account::{valid_username, ApiKey, NewApiKey, NewUser, Role, User};
use kurz_core::error::AccountError;
use kurz_core::ports::AccountRepo;

use crate::secret::{self, BoundedHasher, SecretError, MAX_PASSWORD_LEN};

/// Shortest password accepted for an account.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest key name.
const MAX_KEY_NAME_LEN: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

pub async fn create_user(
    repo: &dyn AccountRepo,
    hasher: &BoundedHasher,
    username: &str,
    password: String,
    role: Role,
) -> Result<User, CreateError> {
    if !valid_username(username) {
        return Err(AccountError::Field {
            field: "username",
            message: "a user name is 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'".into(),
        }
        .into());
    }
    let chars = password.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&chars) {
        return Err(AccountError::Field {
            field: "password",
            message: format!(
                "a password is {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters long"
            ),
        }
        .into());
    }
    let password_hash = hasher.hash(password).await?;
    Ok(repo
        .create_user(NewUser {
            username: username.to_owned(),
            password_hash,
            role,
        })
        .await?)
}

/// A new key for `user_id`; the returned string is the only copy of it.
pub async fn create_key(
    repo: &dyn AccountRepo,
    user_id: i64,
    name: Option<String>,
    read_only: bool,
) -> Result<(ApiKey, String), AccountError> {
    if name
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_KEY_NAME_LEN || n.chars().any(char::is_control))
    {
        return Err(AccountError::Field {
            field: "name",
            message: format!("a key name is at most {MAX_KEY_NAME_LEN} printable characters"),
        });
    }
    let key = secret::generate_key();
    let stored = repo
        .create_key(NewApiKey {
            user_id,
            name,
            key_hash: secret::hash_key(&key),
            read_only,
        })
        .await?;
    Ok((stored, key))
}
