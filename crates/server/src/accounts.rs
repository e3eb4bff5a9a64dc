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

/// Deletes expired UI sessions once an hour until `stop`: an expired
/// session already counts for nothing, so this only keeps the table small.
pub async fn purge_sessions(
    accounts: std::sync::Arc<AccountService>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match accounts.purge_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(sessions = n, "expired sessions deleted"),
            Err(e) => tracing::warn!(error = %e, "deleting expired sessions failed; will retry"),
        }
    }
}
