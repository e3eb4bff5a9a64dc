//! Users and API keys ([`AccountStore`]).

use async_trait::async_trait;
use sqlx::FromRow;
use time::OffsetDateTime;

use kurz_core::account::{ApiKey, NewApiKey, NewUser, Principal, Role, User};
use kurz_core::clock::{from_millis, to_millis};
use kurz_core::error::{AccountError, StoreError};
use kurz_core::ports::{AccountStore, Authenticator};

use crate::db::Arg;
use crate::error::is_unique_violation;
use crate::store::SqlStore;

#[derive(Debug, FromRow)]
struct UserRow {
    id: i64,
    username: String,
    role: String,
    created_at: i64,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            username: row.username,
            role: Role::parse(&row.role).unwrap_or(Role::User),
            created_at: from_millis(row.created_at),
        }
    }
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
                match self.primary.execute(&self.q.insert_user, &args).await {
                    Ok(_) => Ok(true),
                    Err(e) if is_unique_violation(&e) => Ok(false),
                    Err(e) => Err(e),
                }
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
