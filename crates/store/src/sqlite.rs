//! The repositories on SQLite, the embedded default.
//!
//! WAL mode, so redirects (readers) never wait for the API (the writer), and
//! a busy timeout, so writers queue for the write lock instead of failing.
//! Every write is a single statement or a transaction whose first statement
//! writes: a deferred transaction that reads first and writes later can fail
//! with SQLITE_BUSY without waiting.

use std::str::FromStr;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{FromRow, QueryBuilder, Sqlite, SqlitePool};
use time::OffsetDateTime;

use kurz_core::account::{ApiKey, NewApiKey, NewUser, Principal, Role, User};
use kurz_core::error::{AccountError, InsertError, StoreError};
use kurz_core::link::{from_millis, to_millis, Link, LinkChanges, ListQuery, NewLink};
use kurz_core::ports::{AccountRepo, LinkRepo};
use kurz_core::slug::SlugSecret;

use crate::error::{is_unique_violation, store_error};
use crate::segment::SegmentAllocator;
use crate::{DbOptions, OpenError, Synchronous};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

const LINK_COLUMNS: &str = "l.id, l.slug, l.url, l.owner_id, u.username as owner, l.created_at, \
     l.updated_at, l.expires_at, l.max_visits, l.visits, l.tags, l.title, l.redirect_status, \
     l.forward_query, l.password_hash, l.disabled, l.pending";

#[derive(Debug)]
pub(crate) struct SqliteStore {
    pool: SqlitePool,
    ids: SegmentAllocator,
}

impl SqliteStore {
    pub(crate) async fn open(options: &DbOptions) -> Result<Self, OpenError> {
        let connect = SqliteConnectOptions::from_str(&options.url)
            .map_err(OpenError::Connect)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match options.synchronous {
                Synchronous::Full => SqliteSynchronous::Full,
                Synchronous::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(OpenError::Connect)?;
        MIGRATOR.run(&pool).await.map_err(OpenError::Migrate)?;
        Ok(Self {
            pool,
            ids: SegmentAllocator::new(options.id_block),
        })
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) async fn slug_secret(
        &self,
        candidate: &SlugSecret,
    ) -> Result<SlugSecret, StoreError> {
        sqlx::query(
            "insert into settings (name, value, created_at) values ('slug_secret', ?, ?) \
             on conflict (name) do nothing",
        )
        .bind(hex::encode(candidate.as_bytes()))
        .bind(to_millis(OffsetDateTime::now_utc()))
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        let stored: String =
            sqlx::query_scalar("select value from settings where name = 'slug_secret'")
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
        let bytes = hex::decode(stored.trim())
            .ok()
            .and_then(|b| <[u8; SlugSecret::LEN]>::try_from(b).ok())
            .ok_or_else(|| StoreError::Other("the stored slug secret is corrupt".into()))?;
        Ok(SlugSecret::from_bytes(bytes))
    }

    async fn link_by_id(&self, id: i64) -> Result<Option<Link>, StoreError> {
        let sql = format!(
            "select {LINK_COLUMNS} from links l left join users u on u.id = l.owner_id \
             where l.id = ? and l.deleted_at is null"
        );
        let row: Option<LinkRow> = sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(LinkRow::into_link).transpose()
    }
}

/// A stable 64-bit hash of a target URL. The reuse lookup goes through an
/// index on it instead of an index on the full URL, which may be 8 KiB long.
fn url_hash(url: &str) -> i64 {
    let digest = Sha256::digest(url.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(first)
}

#[derive(Debug, FromRow)]
struct LinkRow {
    id: i64,
    slug: String,
    url: String,
    owner_id: Option<i64>,
    owner: Option<String>,
    created_at: i64,
    updated_at: i64,
    expires_at: Option<i64>,
    max_visits: Option<i64>,
    visits: i64,
    tags: String,
    title: Option<String>,
    redirect_status: Option<i64>,
    forward_query: bool,
    password_hash: Option<String>,
    disabled: bool,
    pending: bool,
}

impl LinkRow {
    fn into_link(self) -> Result<Link, StoreError> {
        let tags: Vec<String> =
            serde_json::from_str(&self.tags).map_err(|e| StoreError::Other(Box::new(e)))?;
        Ok(Link {
            id: self.id,
            slug: self.slug,
            url: self.url,
            owner_id: self.owner_id,
            owner: self.owner,
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
            expires_at: self.expires_at.map(from_millis),
            max_visits: self.max_visits,
            visits: self.visits,
            tags,
            title: self.title,
            redirect_status: self.redirect_status.and_then(|c| u16::try_from(c).ok()),
            forward_query: self.forward_query,
            password_hash: self.password_hash,
            disabled: self.disabled,
            pending: self.pending,
        })
    }
}

fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned())
}

/// Escapes `%`, `_` and the escape character itself for `like ... escape '\'`.
fn like_pattern(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[async_trait]
impl LinkRepo for SqliteStore {
    async fn next_id(&self) -> Result<u64, StoreError> {
        self.ids
            .next(|n| async move {
                let end: i64 = sqlx::query_scalar(
                    "update id_counters set next_id = next_id + ? where name = 'link' \
                     returning next_id",
                )
                .bind(i64::try_from(n).unwrap_or(i64::MAX))
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
                Ok(u64::try_from(end).unwrap_or(0))
            })
            .await
    }

    async fn insert(&self, link: NewLink) -> Result<Link, InsertError> {
        let created = to_millis(link.created_at);
        let result = sqlx::query(
            "insert into links (id, slug, url, url_hash, owner_id, created_at, updated_at, \
             expires_at, max_visits, tags, title, redirect_status, forward_query, password_hash, \
             pending) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(link.id)
        .bind(&link.slug)
        .bind(link.url.as_str())
        .bind(url_hash(link.url.as_str()))
        .bind(link.owner_id)
        .bind(created)
        .bind(created)
        .bind(link.expires_at.map(to_millis))
        .bind(link.max_visits)
        .bind(tags_json(&link.tags))
        .bind(&link.title)
        .bind(link.redirect_status.map(i64::from))
        .bind(link.forward_query)
        .bind(&link.password_hash)
        .bind(link.pending)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(InsertError::SlugTaken),
            Err(e) => return Err(store_error(e).into()),
        }
        self.link_by_id(link.id).await?.ok_or_else(|| {
            StoreError::Other("a link vanished right after its insert".into()).into()
        })
    }

    async fn by_slug(&self, slug: &str) -> Result<Option<Link>, StoreError> {
        let sql = format!(
            "select {LINK_COLUMNS} from links l left join users u on u.id = l.owner_id \
             where l.slug = ? and l.deleted_at is null"
        );
        let row: Option<LinkRow> = sqlx::query_as(&sql)
            .bind(slug)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(LinkRow::into_link).transpose()
    }

    async fn by_owner_and_url(
        &self,
        owner_id: Option<i64>,
        url: &str,
    ) -> Result<Option<Link>, StoreError> {
        let sql = format!(
            "select {LINK_COLUMNS} from links l left join users u on u.id = l.owner_id \
             where l.owner_id is ? and l.url_hash = ? and l.url = ? and l.deleted_at is null \
             order by l.created_at desc, l.id desc limit 1"
        );
        let row: Option<LinkRow> = sqlx::query_as(&sql)
            .bind(owner_id)
            .bind(url_hash(url))
            .bind(url)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(LinkRow::into_link).transpose()
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<Link>, StoreError> {
        let mut qb: QueryBuilder<'_, Sqlite> = QueryBuilder::new(format!(
            "select {LINK_COLUMNS} from links l left join users u on u.id = l.owner_id \
             where l.deleted_at is null"
        ));
        if let Some(owner) = query.owner_id {
            qb.push(" and l.owner_id = ").push_bind(owner);
        }
        if let Some(c) = query.after {
            qb.push(" and (l.created_at < ")
                .push_bind(c.created_at_ms)
                .push(" or (l.created_at = ")
                .push_bind(c.created_at_ms)
                .push(" and l.id < ")
                .push_bind(c.id)
                .push("))");
        }
        if let Some(q) = &query.q {
            let pattern = like_pattern(q);
            qb.push(" and (l.slug like ")
                .push_bind(pattern.clone())
                .push(" escape '\\' or l.url like ")
                .push_bind(pattern.clone())
                .push(" escape '\\' or l.title like ")
                .push_bind(pattern)
                .push(" escape '\\')");
        }
        if let Some(tag) = &query.tag {
            qb.push(" and exists (select 1 from json_each(l.tags) where json_each.value = ")
                .push_bind(tag.clone())
                .push(")");
        }
        qb.push(" order by l.created_at desc, l.id desc limit ")
            .push_bind(i64::from(query.limit));
        let rows: Vec<LinkRow> = qb
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.into_iter().map(LinkRow::into_link).collect()
    }

    async fn update(
        &self,
        id: i64,
        changes: &LinkChanges,
        at: OffsetDateTime,
    ) -> Result<Option<Link>, StoreError> {
        let mut qb: QueryBuilder<'_, Sqlite> = QueryBuilder::new("update links set updated_at = ");
        qb.push_bind(to_millis(at));
        if let Some(url) = &changes.url {
            qb.push(", url = ").push_bind(url.as_str().to_owned());
            qb.push(", url_hash = ").push_bind(url_hash(url.as_str()));
        }
        if let Some(v) = changes.expires_at {
            qb.push(", expires_at = ").push_bind(v.map(to_millis));
        }
        if let Some(v) = changes.max_visits {
            qb.push(", max_visits = ").push_bind(v);
        }
        if let Some(v) = &changes.password_hash {
            qb.push(", password_hash = ").push_bind(v.clone());
        }
        if let Some(v) = &changes.tags {
            qb.push(", tags = ").push_bind(tags_json(v));
        }
        if let Some(v) = &changes.title {
            qb.push(", title = ").push_bind(v.clone());
        }
        if let Some(v) = changes.redirect_status {
            qb.push(", redirect_status = ").push_bind(v.map(i64::from));
        }
        if let Some(v) = changes.forward_query {
            qb.push(", forward_query = ").push_bind(v);
        }
        if let Some(v) = changes.disabled {
            qb.push(", disabled = ").push_bind(v);
        }
        if let Some(v) = changes.pending {
            qb.push(", pending = ").push_bind(v);
        }
        qb.push(" where id = ")
            .push_bind(id)
            .push(" and deleted_at is null");
        let done = qb.build().execute(&self.pool).await.map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.link_by_id(id).await
    }

    async fn delete(&self, id: i64, at: OffsetDateTime) -> Result<bool, StoreError> {
        // The row stays so the slug stays taken; what it pointed to goes.
        let done = sqlx::query(
            "update links set deleted_at = ?, updated_at = ?, url = '', url_hash = 0, \
             password_hash = null, title = null, tags = '[]' \
             where id = ? and deleted_at is null",
        )
        .bind(to_millis(at))
        .bind(to_millis(at))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn take_visit(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "update links set visits = visits + 1 \
             where id = ? and deleted_at is null and (max_visits is null or visits < max_visits)",
        )
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_visits(&self, counts: &[(i64, u64)]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        for &(id, n) in counts {
            sqlx::query("update links set visits = visits + ? where id = ?")
                .bind(i64::try_from(n).unwrap_or(i64::MAX))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("select 1")
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

#[derive(Debug, FromRow)]
struct UserRow {
    id: i64,
    username: String,
    role: String,
    created_at: i64,
}

impl UserRow {
    fn into_user(self) -> User {
        User {
            id: self.id,
            username: self.username,
            role: Role::parse(&self.role).unwrap_or(Role::User),
            created_at: from_millis(self.created_at),
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

impl KeyRow {
    fn into_key(self) -> ApiKey {
        ApiKey {
            id: self.id,
            user_id: self.user_id,
            name: self.name,
            read_only: self.read_only,
            created_at: from_millis(self.created_at),
        }
    }
}

#[async_trait]
impl AccountRepo for SqliteStore {
    async fn create_user(&self, user: NewUser) -> Result<User, AccountError> {
        let now = to_millis(OffsetDateTime::now_utc());
        let row: Result<UserRow, _> = sqlx::query_as(
            "insert into users (username, password_hash, role, created_at) values (?, ?, ?, ?) \
             returning id, username, role, created_at",
        )
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(now)
        .fetch_one(&self.pool)
        .await;
        match row {
            Ok(row) => Ok(row.into_user()),
            Err(e) if is_unique_violation(&e) => Err(AccountError::UsernameTaken),
            Err(e) => Err(store_error(e).into()),
        }
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> =
            sqlx::query_as("select id, username, role, created_at from users where username = ?")
                .bind(username)
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
        Ok(row.map(UserRow::into_user))
    }

    async fn create_key(&self, key: NewApiKey) -> Result<ApiKey, StoreError> {
        let row: KeyRow = sqlx::query_as(
            "insert into api_keys (user_id, name, key_hash, read_only, created_at) \
             values (?, ?, ?, ?, ?) returning id, user_id, name, read_only, created_at",
        )
        .bind(key.user_id)
        .bind(&key.name)
        .bind(&key.key_hash)
        .bind(key.read_only)
        .bind(to_millis(OffsetDateTime::now_utc()))
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(row.into_key())
    }

    async fn keys_of(&self, user_id: i64) -> Result<Vec<ApiKey>, StoreError> {
        let rows: Vec<KeyRow> = sqlx::query_as(
            "select id, user_id, name, read_only, created_at from api_keys \
             where user_id = ? and revoked_at is null order by id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(rows.into_iter().map(KeyRow::into_key).collect())
    }

    async fn revoke_key(&self, user_id: i64, key_id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "update api_keys set revoked_at = ? where id = ? and user_id = ? and revoked_at is null",
        )
        .bind(to_millis(OffsetDateTime::now_utc()))
        .bind(key_id)
        .bind(user_id)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn authenticate(&self, key_hash: &str) -> Result<Option<Principal>, StoreError> {
        let row: Option<(i64, bool, i64, String, String)> = sqlx::query_as(
            "select k.id, k.read_only, u.id, u.username, u.role from api_keys k \
             join users u on u.id = k.user_id where k.key_hash = ? and k.revoked_at is null",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
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
