//! Users and API keys ([`AccountStore`], [`Authenticator`]) and web-UI
//! sessions ([`SessionStore`]).

use async_trait::async_trait;
use sqlx::FromRow;
use time::OffsetDateTime;

use kurz_core::account::{ApiKey, NewApiKey, NewSession, NewUser, Principal, Role, User};
use kurz_core::clock::{from_millis, to_millis};
use kurz_core::error::{AccountError, StoreError};
use kurz_core::ports::{AccountStore, Authenticator, SessionStore};

use crate::db::Arg;
use crate::error::inserted;
use crate::store::SqlStore;

#[derive(Debug, FromRow)]
struct UserRow {
    id: i64,
    username: String,
    role: String,
    created_at: i64,
    disabled_at: Option<i64>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            username: row.username,
            role: Role::parse(&row.role).unwrap_or(Role::User),
            created_at: from_millis(row.created_at),
            disabled: row.disabled_at.is_some(),
        }
    }
}

#[derive(Debug, FromRow)]
struct LoginRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

#[derive(Debug, FromRow)]
struct KeyRow {
    id: i64,
    user_id: i64,
    name: Option<String>,
    read_only: bool,
    created_at: i64,
}

impl From<KeyRow> for ApiKey {
    fn from(row: KeyRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            name: row.name,
            read_only: row.read_only,
            created_at: from_millis(row.created_at),
        }
    }
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn create_user(&self, user: NewUser) -> Result<User, AccountError> {
        self.ready().await?;
        let args = [
            Arg::Text(&user.username),
            Arg::Text(&user.password_hash),
            Arg::Text(user.role.as_str()),
            Arg::Int(to_millis(user.created_at)),
        ];
        let inserted = self
            .timed("create_user", async {
                inserted(self.primary.execute(&self.q.insert_user, &args).await)
            })
            .await?;
        if !inserted {
            return Err(AccountError::UsernameTaken);
        }
        self.user_by_name(&user.username)
            .await?
            .ok_or_else(|| StoreError::Other("a user vanished after its insert".into()).into())
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.ready().await?;
        let row: Option<UserRow> = self
            .timed(
                "user_by_name",
                self.primary
                    .fetch_optional(&self.q.user_by_name, &[Arg::Text(username)]),
            )
            .await?;
        Ok(row.map(User::from))
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.ready().await?;
        let row: Option<UserRow> = self
            .timed(
                "user_by_id",
                self.primary
                    .fetch_optional(&self.q.user_by_id, &[Arg::Int(id)]),
            )
            .await?;
        Ok(row.map(User::from))
    }

    async fn login_record(&self, username: &str) -> Result<Option<(User, String)>, StoreError> {
        self.ready().await?;
        let row: Option<LoginRow> = self
            .timed(
                "login_record",
                self.primary
                    .fetch_optional(&self.q.login_record, &[Arg::Text(username)]),
            )
            .await?;
        Ok(row.map(|r| (r.user.into(), r.password_hash)))
    }

    async fn list_users(&self, after: Option<i64>, limit: u32) -> Result<Vec<User>, StoreError> {
        self.ready().await?;
        // IDs start at 1, so 0 is before every user.
        let args = [Arg::Int(after.unwrap_or(0)), Arg::Int(i64::from(limit))];
        let rows: Vec<UserRow> = self
            .timed(
                "list_users",
                self.primary.fetch_all(&self.q.list_users, &args),
            )
            .await?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    async fn set_role(&self, user_id: i64, role: Role) -> Result<bool, StoreError> {
        self.ready().await?;
        let args = [Arg::Text(role.as_str()), Arg::Int(user_id)];
        let changed = self
            .timed("set_role", self.primary.execute(&self.q.set_role, &args))
            .await?;
        Ok(changed == 1)
    }

    async fn set_disabled(
        &self,
        user_id: i64,
        disabled: bool,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.ready().await?;
        let changed = if disabled {
            let args = [Arg::Int(to_millis(at)), Arg::Int(user_id)];
            self.timed(
                "set_disabled",
                self.primary.execute(&self.q.disable_user, &args),
            )
            .await?
        } else {
            self.timed(
                "set_disabled",
                self.primary
                    .execute(&self.q.enable_user, &[Arg::Int(user_id)]),
            )
            .await?
        };
        Ok(changed == 1)
    }

    async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        _at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.ready().await?;
        let args = [Arg::Text(password_hash), Arg::Int(user_id)];
        let changed = self
            .timed(
                "set_password",
                self.primary.execute(&self.q.set_password, &args),
            )
            .await?;
        Ok(changed == 1)
    }

    async fn create_key(&self, key: NewApiKey) -> Result<ApiKey, StoreError> {
        self.ready().await?;
        let args = [
            Arg::Int(key.user_id),
            Arg::OptText(key.name.as_deref()),
            Arg::Text(&key.key_hash),
            Arg::Bool(key.read_only),
            Arg::Int(to_millis(key.created_at)),
        ];
        let row: KeyRow = self
            .timed("create_key", async {
                self.primary.execute(&self.q.insert_key, &args).await?;
                self.primary
                    .fetch_one(&self.q.key_by_hash, &[Arg::Text(&key.key_hash)])
                    .await
            })
            .await?;
        Ok(row.into())
    }

    async fn keys_of(&self, user_id: i64) -> Result<Vec<ApiKey>, StoreError> {
        self.ready().await?;
        let rows: Vec<KeyRow> = self
            .timed(
                "keys_of",
                self.primary
                    .fetch_all(&self.q.keys_of, &[Arg::Int(user_id)]),
            )
            .await?;
        Ok(rows.into_iter().map(ApiKey::from).collect())
    }

    async fn revoke_key(
        &self,
        user_id: i64,
        key_id: i64,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.ready().await?;
        let args = [Arg::Int(to_millis(at)), Arg::Int(key_id), Arg::Int(user_id)];
        let revoked = self
            .timed(
                "revoke_key",
                self.primary.execute(&self.q.revoke_key, &args),
            )
            .await?;
        Ok(revoked == 1)
    }
}

#[async_trait]
impl Authenticator for SqlStore {
    async fn authenticate(&self, key_hash: &str) -> Result<Option<Principal>, StoreError> {
        self.ready().await?;
        let row: Option<(i64, bool, i64, String, String)> = self
            .timed(
                "authenticate",
                self.primary
                    .fetch_optional(&self.q.authenticate, &[Arg::Text(key_hash)]),
            )
            .await?;
        Ok(
            row.map(|(key_id, read_only, user_id, username, role)| Principal {
                user_id,
                username,
                role: Role::parse(&role).unwrap_or(Role::User),
                key_id,
                read_only,
            }),
        )
    }
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        self.ready().await?;
        let args = [
            Arg::Text(&session.token_hash),
            Arg::Int(session.user_id),
            Arg::Int(to_millis(session.created_at)),
            Arg::Int(to_millis(session.expires_at)),
        ];
        self.timed(
            "create_session",
            self.primary.execute(&self.q.insert_session, &args),
        )
        .await?;
        Ok(())
    }

    async fn session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Principal>, StoreError> {
        self.ready().await?;
        let args = [Arg::Text(token_hash), Arg::Int(to_millis(now))];
        let row: Option<(i64, String, String)> = self
            .timed(
                "session",
                self.primary.fetch_optional(&self.q.session, &args),
            )
            .await?;
        Ok(row.map(|(user_id, username, role)| Principal {
            user_id,
            username,
            role: Role::parse(&role).unwrap_or(Role::User),
            key_id: 0,
            read_only: false,
        }))
    }

    async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        self.ready().await?;
        let gone = self
            .timed(
                "delete_session",
                self.primary
                    .execute(&self.q.delete_session, &[Arg::Text(token_hash)]),
            )
            .await?;
        Ok(gone > 0)
    }

    async fn delete_sessions_of(&self, user_id: i64) -> Result<u64, StoreError> {
        self.ready().await?;
        self.timed(
            "delete_sessions_of",
            self.primary
                .execute(&self.q.delete_sessions_of, &[Arg::Int(user_id)]),
        )
        .await
    }

    async fn purge_sessions(&self, before: OffsetDateTime, max: u32) -> Result<u64, StoreError> {
        self.ready().await?;
        let args = [Arg::Int(to_millis(before)), Arg::Int(i64::from(max))];
        self.timed(
            "purge_sessions",
            self.primary.execute(&self.q.purge_sessions, &args),
        )
        .await
    }
}
