//! Users, API keys and web-UI sessions: the rules for names, passwords and
//! key labels, who may administer whom, and password hashing through the
//! one [`PasswordHasher`] the API, the pages and the CLI share.
//!
//! The caller makes session tokens and API keys (random strings) and hands
//! over only their hashes, so nothing here ever holds a secret that signs
//! someone in.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::account::{
    valid_username, ApiKey, NewApiKey, NewSession, NewUser, Principal, Role, User,
    MAX_KEY_NAME_LEN, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN,
};
use crate::clock::{from_millis, to_millis, Clock};
use crate::error::{AccountError, Field, StoreError};
use crate::ports::{AccountStore, Authenticator, Invalidator, PasswordHasher, SessionStore};

/// Largest page of [`AccountService::list_users`].
pub const MAX_USERS_PAGE: u32 = 1000;

/// Expired sessions one purge statement deletes: small enough that a purge
/// never holds locks long on a busy table.
pub const SESSION_PURGE_BATCH: u32 = 1000;

/// Batches one [`AccountService::purge_sessions`] call runs at most, so a
/// call's work is bounded however many sessions expired; the next call
/// goes on.
pub const SESSION_PURGE_MAX_BATCHES: u32 = 100;

/// An argon2id hash with the server's parameters (19 MiB, 2 passes, 1
/// lane), checked for a login with an unknown name: the answer then takes
/// as long as for a known name with a wrong password, so its timing does
/// not tell which names exist. Its digest was made up, not computed from
/// any password, so no password matches it. The server's tests pin its
/// parameters to the hasher's.
pub const DUMMY_PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$\
    a3Vyei1sb2dpbi1kdW1teQ$qJj2Dw0pQm6Ue0mB9IbZTm5kQhq2EJv2m2vCyqjOGm8";

/// The ports an [`AccountService`] works through.
#[derive(Debug, Clone)]
pub struct AccountPorts {
    pub store: Arc<dyn AccountStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub authenticator: Arc<dyn Authenticator>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
    /// Told when a key is revoked, so no cache keeps it alive.
    pub invalidator: Arc<dyn Invalidator>,
}

#[derive(Debug, Clone)]
pub struct AccountService {
    store: Arc<dyn AccountStore>,
    sessions: Arc<dyn SessionStore>,
    authenticator: Arc<dyn Authenticator>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    invalidator: Arc<dyn Invalidator>,
}

impl AccountService {
    pub fn new(ports: AccountPorts) -> Self {
        Self {
            store: ports.store,
            sessions: ports.sessions,
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
        check_new_password(&password)?;
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

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.store.user_by_id(id).await
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

    /// The user whose name and password these are, `None` for an unknown
    /// name, a wrong password or a disabled user (the caller says the
    /// same to all three). An unknown name costs one password check too,
    /// against [`DUMMY_PASSWORD_HASH`], so timing does not tell it apart.
    /// [`HashError::Busy`](crate::error::HashError::Busy) passes through:
    /// the caller asks to retry in a moment.
    pub async fn verify_login(
        &self,
        username: &str,
        password: String,
    ) -> Result<Option<User>, AccountError> {
        // No stored password is this long, and checking one would cost
        // hashing time a client chooses.
        if password.chars().count() > MAX_PASSWORD_LEN {
            return Ok(None);
        }
        let record = if valid_username(username) {
            self.store.login_record(username).await?
        } else {
            None
        };
        let Some((user, hash)) = record else {
            self.hasher
                .verify(DUMMY_PASSWORD_HASH.to_owned(), password)
                .await?;
            return Ok(None);
        };
        let right = self.hasher.verify(hash, password).await?;
        Ok((right && !user.disabled).then_some(user))
    }

    /// Stores a session of `user_id` by the hash of its token (made by the
    /// caller, like an API key) and says when it expires: `ttl` from now.
    pub async fn start_session(
        &self,
        user_id: i64,
        token_hash: String,
        ttl: time::Duration,
    ) -> Result<OffsetDateTime, StoreError> {
        let created_at = self.clock.now();
        // Cut to the stored precision, so the time told is the time kept.
        let expires_at = from_millis(to_millis(created_at.saturating_add(ttl)));
        self.sessions
            .create_session(NewSession {
                token_hash,
                user_id,
                created_at,
                expires_at,
            })
            .await?;
        Ok(expires_at)
    }

    /// Who a session token (by its hash) signs in: `None` once it expired
    /// or ended, or while its user is disabled. Read fresh every time, so
    /// a role change counts on the next page.
    pub async fn session(&self, token_hash: &str) -> Result<Option<Principal>, StoreError> {
        self.sessions.session(token_hash, self.clock.now()).await
    }

    /// Signs a session out; `false` when it had ended already.
    pub async fn end_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        self.sessions.delete_session(token_hash).await
    }

    /// One page of users by ID, after the user `after`; admins only.
    pub async fn list_users(
        &self,
        who: &Principal,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<User>, AccountError> {
        if !who.is_admin() {
            return Err(AccountError::Forbidden);
        }
        if !(1..=MAX_USERS_PAGE).contains(&limit) {
            return Err(AccountError::invalid(
                Field::Limit,
                format!("a page holds 1 to {MAX_USERS_PAGE} users"),
            ));
        }
        Ok(self.store.list_users(after, limit).await?)
    }

    /// Gives a user another role; admins only. An admin may not take the
    /// admin role from themself: whoever demotes stays an admin, so the
    /// instance always keeps one (two admins demoting each other at the
    /// same instant could still both succeed; the command line's
    /// `kurz user add --role admin` makes a new one then). The operator
    /// (the command line) has no row and may change anyone. Cached API
    /// keys of the user carry the old role, so every node forgets them.
    pub async fn set_role(
        &self,
        who: &Principal,
        user_id: i64,
        role: Role,
    ) -> Result<(), AccountError> {
        require_admin(who)?;
        if who.user_row() == Some(user_id) && role != Role::Admin {
            return Err(AccountError::Forbidden);
        }
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .ok_or(AccountError::NotFound)?;
        if user.role == role {
            return Ok(());
        }
        if !self.store.set_role(user_id, role).await? {
            return Err(AccountError::NotFound);
        }
        self.forget_keys_of(user_id).await?;
        Ok(())
    }

    /// Disables or enables a user; admins only, and never themself (an
    /// admin who locked themself out could not undo it). Disabling ends
    /// every session of the user and makes every node forget their cached
    /// API keys, so neither works one request later. Enabling brings the
    /// keys back; a node that refused one meanwhile keeps refusing it for
    /// the few seconds its negative cache entry lives.
    pub async fn set_disabled(
        &self,
        who: &Principal,
        user_id: i64,
        disabled: bool,
    ) -> Result<(), AccountError> {
        require_admin(who)?;
        if who.user_row() == Some(user_id) {
            return Err(AccountError::Forbidden);
        }
        if !self
            .store
            .set_disabled(user_id, disabled, self.clock.now())
            .await?
        {
            return Err(AccountError::NotFound);
        }
        if disabled {
            // After the write: a session or key read from here on meets
            // the disabled row, and whatever was cached before goes now.
            self.sessions.delete_sessions_of(user_id).await?;
            self.forget_keys_of(user_id).await?;
        }
        Ok(())
    }

    /// Sets a user's password. Users change their own and must give the
    /// current one (admins too: a borrowed session must not lock its
    /// owner out); an admin sets anyone else's without it. The same length
    /// rules as [`Self::create_user`]. Ends every session of the user,
    /// the caller's included: the caller starts a fresh one if it should
    /// stay signed in. API keys keep working: they do not depend on the
    /// password, and are revoked on their own.
    pub async fn change_password(
        &self,
        who: &Principal,
        user_id: i64,
        current: Option<String>,
        new: String,
    ) -> Result<(), AccountError> {
        if who.read_only {
            return Err(AccountError::Forbidden);
        }
        let own = who.user_row() == Some(user_id);
        if !own && !who.is_admin() {
            return Err(AccountError::Forbidden);
        }
        check_new_password(&new)?;
        if own {
            let current = current.ok_or(AccountError::WrongPassword)?;
            let user = self
                .store
                .user_by_id(user_id)
                .await?
                .ok_or(AccountError::NotFound)?;
            let (_, hash) = self
                .store
                .login_record(&user.username)
                .await?
                .ok_or(AccountError::NotFound)?;
            if current.chars().count() > MAX_PASSWORD_LEN
                || !self.hasher.verify(hash, current).await?
            {
                return Err(AccountError::WrongPassword);
            }
        }
        let hash = self.hasher.hash(new).await?;
        if !self
            .store
            .set_password(user_id, &hash, self.clock.now())
            .await?
        {
            return Err(AccountError::NotFound);
        }
        self.sessions.delete_sessions_of(user_id).await?;
        Ok(())
    }

    /// Deletes expired sessions, [`SESSION_PURGE_BATCH`] at a time and at
    /// most [`SESSION_PURGE_MAX_BATCHES`] batches; how many went. The
    /// server calls it now and then; expired sessions sign no one in
    /// meanwhile, they only take room.
    pub async fn purge_sessions(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let mut purged = 0;
        for _ in 0..SESSION_PURGE_MAX_BATCHES {
            let gone = self
                .sessions
                .purge_sessions(now, SESSION_PURGE_BATCH)
                .await?;
            purged += gone;
            if gone < u64::from(SESSION_PURGE_BATCH) {
                break;
            }
        }
        Ok(purged)
    }

    /// Tells every cache to forget the user's keys: what a cached key
    /// carries (the user's role, that they may sign in) changed.
    async fn forget_keys_of(&self, user_id: i64) -> Result<(), StoreError> {
        for key in self.store.keys_of(user_id).await? {
            self.invalidator.key_revoked(key.id).await;
        }
        Ok(())
    }
}

/// Only a writing admin administers users: a read-only admin key may list
/// them but change nothing.
fn require_admin(who: &Principal) -> Result<(), AccountError> {
    if who.is_admin() && !who.read_only {
        Ok(())
    } else {
        Err(AccountError::Forbidden)
    }
}

fn check_new_password(password: &str) -> Result<(), AccountError> {
    let chars = password.chars().count();
    if (MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&chars) {
        Ok(())
    } else {
        Err(AccountError::invalid(
            Field::Password,
            format!("a password is {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters long"),
        ))
    }
}

#[cfg(test)]
mod tests;
