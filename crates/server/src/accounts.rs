//! API keys are made here, where randomness is: the core stores them by
//! their hash. Shared by the CLI and the API.

use kurz_core::account::ApiKey;
use kurz_core::error::AccountError;
use kurz_core::service::AccountService;

use crate::secret;

/// A new key for `user_id`; the returned string is the only copy of it.
pub async fn create_key(
    accounts: &AccountService,
    user_id: i64,
    name: Option<String>,
    read_only: bool,
) -> Result<(ApiKey, String), AccountError> {
    let key = secret::generate_key();
    let stored = accounts
        .add_key(user_id, name, read_only, secret::hash_key(&key))
        .await?;
    Ok((stored, key))
}
