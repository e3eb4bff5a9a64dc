//! The repositories, written once for the three backends.
//!
//! [`SqlStore`] holds a primary pool, optional replica pools and the
//! backend's statements. The trait impls are stamped out per backend by
//! `sql_store!`, because sqlx's executors are concrete per database and the
//! generic bounds for "any sqlx database" hide more than they show. Only
//! connection setup differs per backend (see `open.rs`); the statements that
//! differ live in [`crate::dialect`].
//!
//! Every write is a single statement or a transaction whose first statement
//! writes: on SQLite, a deferred transaction that reads first and writes
//! later can fail with SQLITE_BUSY without waiting for the lock.

use std::fmt;
use std::fs::{File, TryLockError};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::{Database, FromRow, Pool};
use tokio::sync::OnceCell;

use kurz_core::account::{ApiKey, Role, User};
use kurz_core::error::StoreError;
use kurz_core::link::{from_millis, Link};
use kurz_core::slug::SlugSecret;

use crate::dialect::Queries;
use crate::error::store_error;
use crate::segment::SegmentAllocator;
use crate::DbKind;

pub(crate) struct SqlStore<DB: Database> {
    pub(crate) kind: DbKind,
    pub(crate) primary: Pool<DB>,
    /// Read replicas for redirect lookups and lists; may be empty.
    pub(crate) replicas: Vec<Pool<DB>>,
    next_replica: AtomicUsize,
    pub(crate) q: Queries,
    pub(crate) ids: SegmentAllocator,
    /// Set once migrations ran and the secret was read; retried until then,
    /// so a store that was down at start becomes ready when it comes back.
    pub(crate) ready: OnceCell<SlugSecret>,
    /// Upper bound on one store call, on top of the pool's acquire timeout.
    query_timeout: Duration,
    /// SQLite: the file whose lock serialises migrations between processes
    /// (sqlx takes no lock for SQLite; the servers get advisory locks).
    migration_lock: Option<PathBuf>,
}

impl<DB: Database> fmt::Debug for SqlStore<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("kind", &self.kind)
            .field("replicas", &self.replicas.len())
            .finish_non_exhaustive()
    }
}

impl<DB: Database> SqlStore<DB> {
    pub(crate) fn new(
        kind: DbKind,
        primary: Pool<DB>,
        replicas: Vec<Pool<DB>>,
        q: Queries,
        id_block: u64,
        query_timeout: Duration,
        migration_lock: Option<PathBuf>,
    ) -> Self {
        Self {
            kind,
            primary,
            replicas,
            next_replica: AtomicUsize::new(0),
            q,
            ids: SegmentAllocator::new(id_block),
            ready: OnceCell::new(),
            query_timeout,
            migration_lock,
        }
    }

    /// Holds the migration lock file, if this backend needs one, until the
    /// returned guard is dropped. Two processes starting on a new SQLite
    /// file would otherwise both try to create the tables; the second now
    /// waits, then finds the migrations applied.
    pub(crate) async fn lock_migrations(&self) -> Result<Option<File>, StoreError> {
        let Some(path) = &self.migration_lock else {
            return Ok(None);
        };
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let mut waited = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(file)),
                Err(TryLockError::WouldBlock) => {
                    if !waited {
                        tracing::info!(
                            lock = %path.display(),
                            "another process is migrating this database; waiting"
                        );
                        waited = true;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(TryLockError::Error(e)) => return Err(StoreError::Unavailable(Box::new(e))),
            }
        }
    }

    /// The pool reads may use: replicas round-robin, else the primary.
    pub(crate) fn reader(&self) -> &Pool<DB> {
        if self.replicas.is_empty() {
            return &self.primary;
        }
        let i = self.next_replica.fetch_add(1, Ordering::Relaxed) % self.replicas.len();
        &self.replicas[i]
    }

    /// Runs one store call under the query timeout, in domain errors.
    pub(crate) async fn timed<T>(
        &self,
        call: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.query_timeout, call).await {
            Ok(result) => result.map_err(|e| store_error(e, self.kind)),
            Err(_) => Err(StoreError::Unavailable(
                "the store did not answer in time".into(),
            )),
        }
    }
}

/// A stable 64-bit hash of a target URL. The reuse lookup goes through an
/// index on it instead of an index on the full URL, which may be 8 KiB long.
pub(crate) fn url_hash(url: &str) -> i64 {
    let digest = Sha256::digest(url.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(first)
}

pub(crate) fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned())
}

pub(crate) fn parse_secret(stored: &str) -> Result<SlugSecret, StoreError> {
    hex::decode(stored.trim())
        .ok()
        .and_then(|b| <[u8; SlugSecret::LEN]>::try_from(b).ok())
        .map(SlugSecret::from_bytes)
        .ok_or_else(|| StoreError::Other("the stored slug secret is corrupt".into()))
}

#[derive(Debug, FromRow)]
pub(crate) struct LinkRow {
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
    pub(crate) fn into_link(self) -> Result<Link, StoreError> {
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

#[derive(Debug, FromRow)]
pub(crate) struct UserRow {
    id: i64,
    username: String,
    role: String,
    created_at: i64,
}

impl UserRow {
    pub(crate) fn into_user(self) -> User {
        User {
            id: self.id,
            username: self.username,
            role: Role::parse(&self.role).unwrap_or(Role::User),
            created_at: from_millis(self.created_at),
        }
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct KeyRow {
    id: i64,
    user_id: i64,
    name: Option<String>,
    read_only: bool,
    created_at: i64,
}

impl KeyRow {
    pub(crate) fn into_key(self) -> ApiKey {
        ApiKey {
            id: self.id,
            user_id: self.user_id,
            name: self.name,
            read_only: self.read_only,
            created_at: from_millis(self.created_at),
        }
    }
}

/// Implements the core's ports and the store's admin operations for
/// `SqlStore<$db>`.
macro_rules! sql_store {
    ($db:ty) => {
        impl $crate::sql::SqlStore<$db> {
            /// Applies migrations and reads (or makes) the slug secret, once.
            async fn ready_secret(&self) -> Result<&kurz_core::slug::SlugSecret, StoreError> {
                self.ready
                    .get_or_try_init(|| async {
                        // No query timeout here: a migration may rightly
                        // take long on a big table, and cutting it off
                        // half-way helps nobody.
                        self.migrate().await?;
                        let mut bytes = [0u8; kurz_core::slug::SlugSecret::LEN];
                        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
                        self.timed(
                            sqlx::query(&self.q.insert_secret)
                                .bind(hex::encode(bytes))
                                .bind(kurz_core::link::to_millis(kurz_core::link::now()))
                                .execute(&self.primary),
                        )
                        .await?;
                        let stored: String = self
                            .timed(
                                sqlx::query_scalar(&self.q.select_secret)
                                    .fetch_one(&self.primary),
                            )
                            .await?;
                        $crate::sql::parse_secret(&stored)
                    })
                    .await
            }

            async fn link_by_id(&self, id: i64) -> Result<Option<Link>, StoreError> {
                let row: Option<$crate::sql::LinkRow> = self
                    .timed(
                        sqlx::query_as(&self.q.link_by_id)
                            .bind(id)
                            .fetch_optional(&self.primary),
                    )
                    .await?;
                row.map($crate::sql::LinkRow::into_link).transpose()
            }

            async fn lookup(
                &self,
                pool: &sqlx::Pool<$db>,
                slug: &str,
            ) -> Result<Option<Link>, StoreError> {
                let row: Option<$crate::sql::LinkRow> = self
                    .timed(
                        sqlx::query_as(&self.q.link_by_slug)
                            .bind(slug)
                            .fetch_optional(pool),
                    )
                    .await?;
                row.map($crate::sql::LinkRow::into_link).transpose()
            }
        }

        #[async_trait::async_trait]
        impl kurz_core::ports::LinkRepo for $crate::sql::SqlStore<$db> {
            async fn next_id(&self) -> Result<u64, StoreError> {
                self.ready_secret().await?;
                self.ids
                    .next(|n| async move {
                        // The update locks the counter row until commit, so
                        // the select reads this lease and nobody else's.
                        self.timed(async {
                            let mut tx = self.primary.begin().await?;
                            sqlx::query(&self.q.lease_ids)
                                .bind(i64::try_from(n).unwrap_or(i64::MAX))
                                .execute(&mut *tx)
                                .await?;
                            let end: i64 = sqlx::query_scalar(&self.q.read_next_id)
                                .fetch_one(&mut *tx)
                                .await?;
                            tx.commit().await?;
                            Ok(u64::try_from(end).unwrap_or(0))
                        })
                        .await
                    })
                    .await
            }

            async fn slug_secret(&self) -> Result<kurz_core::slug::SlugSecret, StoreError> {
                self.ready_secret().await.cloned()
            }

            async fn insert(&self, link: NewLink) -> Result<Link, InsertError> {
                self.ready_secret().await?;
                let created = kurz_core::link::to_millis(link.created_at);
                let inserted = self
                    .timed(async {
                        let result = sqlx::query(&self.q.insert_link)
                            .bind(link.id)
                            .bind(&link.slug)
                            .bind(link.url.as_str())
                            .bind($crate::sql::url_hash(link.url.as_str()))
                            .bind(link.owner_id)
                            .bind(created)
                            .bind(created)
                            .bind(link.expires_at.map(kurz_core::link::to_millis))
                            .bind(link.max_visits)
                            .bind($crate::sql::tags_json(&link.tags))
                            .bind(&link.title)
                            .bind(link.redirect_status.map(i64::from))
                            .bind(link.forward_query)
                            .bind(&link.password_hash)
                            .bind(link.pending)
                            .execute(&self.primary)
                            .await;
                        match result {
                            Ok(_) => Ok(true),
                            Err(e) if $crate::error::is_unique_violation(&e) => Ok(false),
                            Err(e) => Err(e),
                        }
                    })
                    .await?;
                if !inserted {
                    return Err(InsertError::SlugTaken);
                }
                self.link_by_id(link.id).await?.ok_or_else(|| {
                    StoreError::Other("a link vanished right after its insert".into()).into()
                })
            }

            async fn by_slug(&self, slug: &str) -> Result<Option<Link>, StoreError> {
                self.ready_secret().await?;
                self.lookup(&self.primary, slug).await
            }

            async fn resolve(&self, slug: &str) -> Result<Option<Link>, StoreError> {
                self.ready_secret().await?;
                if self.replicas.is_empty() {
                    return self.lookup(&self.primary, slug).await;
                }
                // A link created a moment ago may not have reached the
                // replica yet, and a replica may be down: either way the
                // primary decides.
                match self.lookup(self.reader(), slug).await {
                    Ok(Some(link)) => Ok(Some(link)),
                    Ok(None) => self.lookup(&self.primary, slug).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "replica lookup failed; asking the primary");
                        self.lookup(&self.primary, slug).await
                    }
                }
            }

            async fn by_owner_and_url(
                &self,
                owner_id: Option<i64>,
                url: &str,
            ) -> Result<Vec<Link>, StoreError> {
                self.ready_secret().await?;
                let query = match owner_id {
                    Some(owner) => sqlx::query_as(&self.q.link_by_owner_url).bind(owner),
                    None => sqlx::query_as(&self.q.link_by_null_owner_url),
                };
                let rows: Vec<$crate::sql::LinkRow> = self
                    .timed(
                        query
                            .bind($crate::sql::url_hash(url))
                            .bind(url)
                            .bind(kurz_core::ports::REUSE_CANDIDATES)
                            .fetch_all(&self.primary),
                    )
                    .await?;
                rows.into_iter().map($crate::sql::LinkRow::into_link).collect()
            }

            async fn list(&self, query: &ListQuery) -> Result<Vec<Link>, StoreError> {
                self.ready_secret().await?;
                let dialect = self.q.dialect;
                let mut qb = sqlx::QueryBuilder::<$db>::new(format!(
                    "{} where l.deleted_at is null",
                    self.q.select_links
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
                    let pattern = $crate::dialect::like_pattern(q);
                    qb.push(" and (l.slug")
                        .push(dialect.like())
                        .push_bind(pattern.clone())
                        .push(" escape '!' or l.url")
                        .push(dialect.like())
                        .push_bind(pattern.clone())
                        .push(" escape '!' or l.title")
                        .push(dialect.like())
                        .push_bind(pattern)
                        .push(" escape '!')");
                }
                if let Some(tag) = &query.tag {
                    qb.push(dialect.tag_open())
                        .push_bind(tag.clone())
                        .push(dialect.tag_close());
                }
                qb.push(" order by l.created_at desc, l.id desc limit ")
                    .push_bind(i64::from(query.limit));
                let rows: Vec<$crate::sql::LinkRow> = self
                    .timed(qb.build_query_as().fetch_all(self.reader()))
                    .await?;
                rows.into_iter().map($crate::sql::LinkRow::into_link).collect()
            }

            async fn update(
                &self,
                id: i64,
                changes: &LinkChanges,
                at: time::OffsetDateTime,
            ) -> Result<Option<Link>, StoreError> {
                self.ready_secret().await?;
                let mut qb = sqlx::QueryBuilder::<$db>::new("update links set updated_at = ");
                qb.push_bind(kurz_core::link::to_millis(at));
                if let Some(url) = &changes.url {
                    qb.push(", url = ").push_bind(url.as_str().to_owned());
                    qb.push(", url_hash = ")
                        .push_bind($crate::sql::url_hash(url.as_str()));
                }
                if let Some(v) = changes.expires_at {
                    qb.push(", expires_at = ")
                        .push_bind(v.map(kurz_core::link::to_millis));
                }
                if let Some(v) = changes.max_visits {
                    qb.push(", max_visits = ").push_bind(v);
                }
                if let Some(v) = &changes.password_hash {
                    qb.push(", password_hash = ").push_bind(v.clone());
                }
                if let Some(v) = &changes.tags {
                    qb.push(", tags = ").push_bind($crate::sql::tags_json(v));
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
                let done = self.timed(qb.build().execute(&self.primary)).await?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                self.link_by_id(id).await
            }

            async fn delete(&self, id: i64, at: time::OffsetDateTime) -> Result<bool, StoreError> {
                self.ready_secret().await?;
                let at = kurz_core::link::to_millis(at);
                let done = self
                    .timed(
                        sqlx::query(&self.q.delete_link)
                            .bind(at)
                            .bind(at)
                            .bind(id)
                            .execute(&self.primary),
                    )
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn take_visit(&self, id: i64) -> Result<bool, StoreError> {
                self.ready_secret().await?;
                let done = self
                    .timed(sqlx::query(&self.q.take_visit).bind(id).execute(&self.primary))
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn add_visits(&self, counts: &[(i64, u64)]) -> Result<(), StoreError> {
                if counts.is_empty() {
                    return Ok(());
                }
                self.ready_secret().await?;
                self.timed(async {
                    let mut tx = self.primary.begin().await?;
                    for &(id, n) in counts {
                        sqlx::query(&self.q.add_visits)
                            .bind(i64::try_from(n).unwrap_or(i64::MAX))
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await
                })
                .await
            }

            async fn ping(&self) -> Result<(), StoreError> {
                self.timed(sqlx::query("select 1").execute(&self.primary)).await?;
                self.ready_secret().await.map(|_| ())
            }
        }

        #[async_trait::async_trait]
        impl kurz_core::ports::AccountRepo for $crate::sql::SqlStore<$db> {
            async fn create_user(&self, user: NewUser) -> Result<User, AccountError> {
                self.ready_secret().await?;
                let inserted = self
                    .timed(async {
                        match sqlx::query(&self.q.insert_user)
                        .bind(&user.username)
                        .bind(&user.password_hash)
                        .bind(user.role.as_str())
                        .bind(kurz_core::link::to_millis(kurz_core::link::now()))
                        .execute(&self.primary)
                        .await
                        {
                            Ok(_) => Ok(true),
                            Err(e) if $crate::error::is_unique_violation(&e) => Ok(false),
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
                self.ready_secret().await?;
                let row: Option<$crate::sql::UserRow> = self
                    .timed(
                        sqlx::query_as(&self.q.user_by_name)
                            .bind(username)
                            .fetch_optional(&self.primary),
                    )
                    .await?;
                Ok(row.map($crate::sql::UserRow::into_user))
            }

            async fn create_key(&self, key: NewApiKey) -> Result<ApiKey, StoreError> {
                self.ready_secret().await?;
                let row: $crate::sql::KeyRow = self
                    .timed(async {
                        sqlx::query(&self.q.insert_key)
                        .bind(key.user_id)
                        .bind(&key.name)
                        .bind(&key.key_hash)
                        .bind(key.read_only)
                        .bind(kurz_core::link::to_millis(kurz_core::link::now()))
                        .execute(&self.primary)
                        .await?;
                        sqlx::query_as(&self.q.key_by_hash)
                        .bind(&key.key_hash)
                        .fetch_one(&self.primary)
                        .await
                    })
                    .await?;
                Ok(row.into_key())
            }

            async fn keys_of(&self, user_id: i64) -> Result<Vec<ApiKey>, StoreError> {
                self.ready_secret().await?;
                let rows: Vec<$crate::sql::KeyRow> = self
                    .timed(
                        sqlx::query_as(&self.q.keys_of)
                            .bind(user_id)
                            .fetch_all(&self.primary),
                    )
                    .await?;
                Ok(rows.into_iter().map($crate::sql::KeyRow::into_key).collect())
            }

            async fn revoke_key(&self, user_id: i64, key_id: i64) -> Result<bool, StoreError> {
                self.ready_secret().await?;
                let done = self
                    .timed(
                        sqlx::query(&self.q.revoke_key)
                            .bind(kurz_core::link::to_millis(kurz_core::link::now()))
                            .bind(key_id)
                            .bind(user_id)
                            .execute(&self.primary),
                    )
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn authenticate(&self, key_hash: &str) -> Result<Option<Principal>, StoreError> {
                self.ready_secret().await?;
                let row: Option<(i64, bool, i64, String, String)> = self
                    .timed(
                        sqlx::query_as(&self.q.authenticate)
                            .bind(key_hash)
                            .fetch_optional(&self.primary),
                    )
                    .await?;
                Ok(row.map(|(key_id, read_only, user_id, username, role)| Principal {
                    user_id,
                    username,
                    role: Role::parse(&role).unwrap_or(Role::User),
                    key_id,
                    read_only,
                }))
            }
        }
    };
}

pub(crate) use sql_store;
