//! Users and API keys: the rules for names, passwords and key labels, and
//! password hashing through the one [`PasswordHasher`] the API, the pages
//! and the CLI share.

use std::sync::Arc;

use crate::account::{
    valid_username, ApiKey, NewApiKey, NewUser, Principal, Role, User, MAX_KEY_NAME_LEN,
    MAX_PASSWORD_LEN, MIN_PASSWORD_LEN,
};
use crate::clock::Clock;
use crate::error::{AccountError, Field, StoreError};
use crate::ports::{AccountStore, Authenticator, Invalidator, PasswordHasher};

/// The ports an [`AccountService`] works through.
#[derive(Debug, Clone)]
pub struct AccountPorts {
    pub store: Arc<dyn AccountStore>,
    pub authenticator: Arc<dyn Authenticator>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
    /// Told when a key is revoked, so no cache keeps it alive.
    pub invalidator: Arc<dyn Invalidator>,
}

#[derive(Debug, Clone)]
pub struct AccountService {
    store: Arc<dyn AccountStore>,
    authenticator: Arc<dyn Authenticator>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    invalidator: Arc<dyn Invalidator>,
}

impl AccountService {
    pub fn new(ports: AccountPorts) -> Self {
        Self {
            store: ports.store,
            authenticator: ports.authenticator,
            hasher: ports.hasher,
            clock: ports.clock,
            invalidator: ports.invalidator,
        }
    }

    pub async fn create_user(
        &self,
        username: &str,
        password: String,
        role: Role,
    ) -> Result<User, AccountError> {
        if !valid_username(username) {
            return Err(AccountError::invalid(
                Field::Username,
                "a user name is 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'",
            ));
        }
        let chars = password.chars().count();
        if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&chars) {
            return Err(AccountError::invalid(
                Field::Password,
                format!("a password is {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters long"),
            ));
        }
        let password_hash = self.hasher.hash(password).await?;
        self.store
            .create_user(NewUser {
                username: username.to_owned(),
                password_hash,
                role,
                created_at: self.clock.now(),
            })
            .await
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.store.user_by_name(username).await
    }

    /// Stores a key of `user_id` by its hash; the key itself is made (and
    /// shown once) by the caller.
    pub async fn add_key(
        &self,
        user_id: i64,
        name: Option<String>,
        read_only: bool,
        key_hash: String,
    ) -> Result<ApiKey, AccountError> {
        if name.as_ref().is_some_and(|n| {
            n.chars().count() > MAX_KEY_NAME_LEN || n.chars().any(char::is_control)
        }) {
            return Err(AccountError::invalid(
                Field::KeyName,
                format!("a key name is at most {MAX_KEY_NAME_LEN} printable characters"),
            ));
        }
        Ok(self
            .store
            .create_key(NewApiKey {
                user_id,
                name,
                key_hash,
                read_only,
                created_at: self.clock.now(),
            })
            .await?)
    }

    pub async fn keys_of(&self, who: &Principal) -> Result<Vec<ApiKey>, StoreError> {
        self.store.keys_of(who.user_id).await
    }

    /// `false` when the caller has no such key. A revoked key stops
    /// working at once on every node: caches are told.
    pub async fn revoke_key(&self, who: &Principal, key_id: i64) -> Result<bool, StoreError> {
        let revoked = self
            .store
            .revoke_key(who.user_id, key_id, self.clock.now())
            .await?;
        if revoked {
            self.invalidator.key_revoked(key_id).await;
        }
        Ok(revoked)
    }

    pub async fn authenticate(&self, key_hash: &str) -> Result<Option<Principal>, StoreError> {
        self.authenticator.authenticate(key_hash).await
    }
}

// TEMPORARY STUBS (replaced by the sessions branch).
impl AccountService {
    pub async fn session(&self, _token_hash: &str) -> Result<Option<Principal>, StoreError> {
        Ok(None)
    }
    pub async fn verify_login(
        &self,
        _username: &str,
        _password: String,
    ) -> Result<Option<User>, AccountError> {
        Ok(None)
    }
    pub async fn start_session(
        &self,
        _user_id: i64,
        _token_hash: String,
        _ttl: time::Duration,
    ) -> Result<time::OffsetDateTime, StoreError> {
        Ok(self.clock.now())
    }
    pub async fn end_session(&self, _token_hash: &str) -> Result<(), StoreError> {
        Ok(())
    }
}
