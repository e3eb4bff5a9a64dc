//! `kurz export` / `kurz import`: moving an instance between backends
//! without changing a slug.
//!
//! The format is JSON lines, one record per line, each with a `type`:
//!
//! 1. one `header`: `format` (`"kurz-export"`), `version` (1), `exported_at`
//!    (RFC 3339), `slug_secret` (hex) and `next_id` (the ID counter);
//! 2. `user` records: `username`, `password_hash` (argon2id PHC), `role`,
//!    `created_at`;
//! 3. `key` records: `username`, `name`, `key_hash` (hex SHA-256),
//!    `read_only`, `created_at`, `revoked_at`;
//! 4. `link` records: every column of a link, tombstones included, with
//!    `owner` as a user name and `tags` as an array.
//!
//! Timestamps inside records are integer milliseconds since the Unix epoch,
//! as stored. Users get new numeric IDs on import (records refer to them by
//! name); link IDs, slugs, the secret and the counter move unchanged.

use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use kurz_core::error::StoreError;

pub const FORMAT: &str = "kurz-export";
pub const VERSION: u32 = 1;

/// Links inserted per statement on import.
pub(crate) const IMPORT_BATCH: usize = 500;
/// Links read per query on export.
pub(crate) const EXPORT_PAGE: i64 = 1000;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub(crate) enum Record {
    Header {
        format: String,
        version: u32,
        exported_at: String,
        slug_secret: String,
        next_id: i64,
    },
    User(UserRecord),
    Key(KeyRecord),
    Link(LinkRecord),
}

#[derive(Debug, Serialize, Deserialize, FromRow)]
pub(crate) struct UserRecord {
    pub(crate) username: String,
    pub(crate) password_hash: String,
    pub(crate) role: String,
    pub(crate) created_at: i64,
}

#[derive(Debug, Serialize, Deserialize, FromRow)]
pub(crate) struct KeyRecord {
    pub(crate) username: String,
    pub(crate) name: Option<String>,
    pub(crate) key_hash: String,
    pub(crate) read_only: bool,
    pub(crate) created_at: i64,
    pub(crate) revoked_at: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, FromRow)]
pub(crate) struct LinkRecord {
    pub(crate) id: i64,
    pub(crate) slug: String,
    pub(crate) url: String,
    pub(crate) owner: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) expires_at: Option<i64>,
    pub(crate) max_visits: Option<i64>,
    pub(crate) visits: i64,
    #[serde(with = "json_text")]
    pub(crate) tags: String,
    pub(crate) title: Option<String>,
    pub(crate) redirect_status: Option<i64>,
    pub(crate) forward_query: bool,
    pub(crate) password_hash: Option<String>,
    pub(crate) disabled: bool,
    pub(crate) pending: bool,
    pub(crate) deleted_at: Option<i64>,
}

/// Tags are stored as JSON text and exported as a JSON array.
mod json_text {
    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(S::Error::custom)?;
        value.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        if !value.is_array() {
            return Err(D::Error::custom("tags must be an array"));
        }
        Ok(value.to_string())
    }
}

/// What an export or import moved.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TransferStats {
    pub users: u64,
    pub keys: u64,
    pub links: u64,
}

impl fmt::Display for TransferStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} users, {} keys, {} links",
            self.users, self.keys, self.links
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("reading or writing the export failed")]
    Io(#[from] io::Error),
    #[error("line {line} of the export is not valid: {message}")]
    Format { line: u64, message: String },
    #[error("the target database already holds users or links; import into a fresh one")]
    NotEmpty,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TransferError {
    pub(crate) fn format(line: u64, message: impl fmt::Display) -> Self {
        Self::Format {
            line,
            message: message.to_string(),
        }
    }
}

pub(crate) fn write_record(out: &mut (dyn io::Write + Send), record: &Record) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")
}

/// Implements `crate::Admin` (readiness, close, export, import) for
/// `SqlStore<$db>`.
macro_rules! transfer_impl {
    ($db:ty) => {
        #[async_trait::async_trait]
        impl $crate::Admin for $crate::sql::SqlStore<$db> {
            async fn ensure_ready(&self) -> Result<(), StoreError> {
                self.ready_secret().await.map(|_| ())
            }

            async fn close(&self) {
                self.primary.close().await;
                for r in &self.replicas {
                    r.close().await;
                }
            }

            async fn export(
                &self,
                out: &mut (dyn std::io::Write + Send),
            ) -> Result<$crate::transfer::TransferStats, $crate::transfer::TransferError> {
                use $crate::transfer::{write_record, KeyRecord, LinkRecord, Record, UserRecord};
                let secret = self.ready_secret().await?.clone();
                let next_id: i64 = self
                    .timed(sqlx::query_scalar(&self.q.read_next_id).fetch_one(&self.primary))
                    .await?;
                write_record(
                    out,
                    &Record::Header {
                        format: $crate::transfer::FORMAT.to_owned(),
                        version: $crate::transfer::VERSION,
                        exported_at: kurz_core::link::now()
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default(),
                        slug_secret: hex::encode(secret.as_bytes()),
                        next_id,
                    },
                )?;
                let mut stats = $crate::transfer::TransferStats::default();
                let users: Vec<UserRecord> = self
                    .timed(
                        sqlx::query_as(&format!(
                            "select {} as username, password_hash, role, created_at \
                             from users order by id",
                            self.q.dialect.text("username")
                        ))
                        .fetch_all(&self.primary),
                    )
                    .await?;
                for u in users {
                    write_record(out, &Record::User(u))?;
                    stats.users += 1;
                }
                let keys: Vec<KeyRecord> = self
                    .timed(
                        sqlx::query_as(&format!(
                            "select {} as username, k.name, {} as key_hash, k.read_only, \
                             k.created_at, k.revoked_at from api_keys k \
                             join users u on u.id = k.user_id order by k.id",
                            self.q.dialect.text("u.username"),
                            self.q.dialect.text("k.key_hash")
                        ))
                        .fetch_all(&self.primary),
                    )
                    .await?;
                for k in keys {
                    write_record(out, &Record::Key(k))?;
                    stats.keys += 1;
                }
                let page_sql = self.q.dialect.placeholders(&format!(
                    "select l.id, {} as slug, l.url, {} as owner, l.created_at, l.updated_at, \
                     l.expires_at, l.max_visits, l.visits, l.tags, l.title, l.redirect_status, \
                     l.forward_query, l.password_hash, l.disabled, l.pending, l.deleted_at \
                     from links l left join users u on u.id = l.owner_id \
                     where l.id > ? order by l.id limit ?",
                    self.q.dialect.text("l.slug"),
                    self.q.dialect.text("u.username")
                ));
                let mut after = i64::MIN;
                loop {
                    let page: Vec<LinkRecord> = self
                        .timed(
                            sqlx::query_as(&page_sql)
                                .bind(after)
                                .bind($crate::transfer::EXPORT_PAGE)
                                .fetch_all(&self.primary),
                        )
                        .await?;
                    let Some(last) = page.last() else { break };
                    after = last.id;
                    for l in page {
                        write_record(out, &Record::Link(l))?;
                        stats.links += 1;
                    }
                }
                out.flush()?;
                Ok(stats)
            }

            async fn import(
                &self,
                input: &mut (dyn std::io::BufRead + Send),
            ) -> Result<$crate::transfer::TransferStats, $crate::transfer::TransferError> {
                use $crate::transfer::{LinkRecord, Record, TransferError, IMPORT_BATCH};
                self.ready_secret().await?;
                let users: i64 = self
                    .timed(sqlx::query_scalar("select count(*) from users").fetch_one(&self.primary))
                    .await?;
                let links: i64 = self
                    .timed(sqlx::query_scalar("select count(*) from links").fetch_one(&self.primary))
                    .await?;
                if users > 0 || links > 0 {
                    return Err(TransferError::NotEmpty);
                }

                let mut stats = $crate::transfer::TransferStats::default();
                let mut header: Option<(String, i64)> = None;
                let mut owners: std::collections::HashMap<String, i64> =
                    std::collections::HashMap::new();
                let mut batch: Vec<LinkRecord> = Vec::with_capacity(IMPORT_BATCH);
                let mut max_id = 0i64;
                let mut line_no = 0u64;
                let mut line = String::new();
                loop {
                    line.clear();
                    if input.read_line(&mut line)? == 0 {
                        break;
                    }
                    line_no += 1;
                    if line.trim().is_empty() {
                        continue;
                    }
                    let record: Record = serde_json::from_str(&line)
                        .map_err(|e| TransferError::format(line_no, e))?;
                    match record {
                        Record::Header { format, version, slug_secret, next_id, .. } => {
                            if line_no != 1 {
                                return Err(TransferError::format(line_no, "a second header"));
                            }
                            if format != $crate::transfer::FORMAT
                                || version != $crate::transfer::VERSION
                            {
                                return Err(TransferError::format(
                                    line_no,
                                    format!("unsupported format {format} version {version}"),
                                ));
                            }
                            $crate::sql::parse_secret(&slug_secret)
                                .map_err(|e| TransferError::format(line_no, e))?;
                            header = Some((slug_secret, next_id));
                        }
                        _ if header.is_none() => {
                            return Err(TransferError::format(line_no, "the header must come first"));
                        }
                        Record::User(u) => {
                            self.timed(
                                sqlx::query(&self.q.insert_user)
                                    .bind(&u.username)
                                    .bind(&u.password_hash)
                                    .bind(&u.role)
                                    .bind(u.created_at)
                                    .execute(&self.primary),
                            )
                            .await?;
                            let id: i64 = self
                                .timed(
                                    sqlx::query_scalar(&self.q.dialect.placeholders(
                                        "select id from users where username = ?",
                                    ))
                                    .bind(&u.username)
                                    .fetch_one(&self.primary),
                                )
                                .await?;
                            owners.insert(u.username, id);
                            stats.users += 1;
                        }
                        Record::Key(k) => {
                            let user_id = *owners.get(&k.username).ok_or_else(|| {
                                TransferError::format(line_no, format!("unknown user {}", k.username))
                            })?;
                            self.timed(
                                sqlx::query(&self.q.dialect.placeholders(
                                    "insert into api_keys (user_id, name, key_hash, read_only, \
                                     created_at, revoked_at) values (?, ?, ?, ?, ?, ?)",
                                ))
                                .bind(user_id)
                                .bind(&k.name)
                                .bind(&k.key_hash)
                                .bind(k.read_only)
                                .bind(k.created_at)
                                .bind(k.revoked_at)
                                .execute(&self.primary),
                            )
                            .await?;
                            stats.keys += 1;
                        }
                        Record::Link(l) => {
                            if let Some(owner) = &l.owner {
                                if !owners.contains_key(owner) {
                                    return Err(TransferError::format(
                                        line_no,
                                        format!("unknown owner {owner}"),
                                    ));
                                }
                            }
                            max_id = max_id.max(l.id);
                            batch.push(l);
                            if batch.len() == IMPORT_BATCH {
                                stats.links += self.insert_links(&batch, &owners).await?;
                                batch.clear();
                            }
                        }
                    }
                }
                let Some((secret, next_id)) = header else {
                    return Err(TransferError::format(0, "the export is empty"));
                };
                stats.links += self.insert_links(&batch, &owners).await?;
                self.timed(
                    sqlx::query(&self.q.dialect.placeholders(
                        "update id_counters set next_id = ? where name = 'link'",
                    ))
                    .bind(next_id.max(max_id.saturating_add(1)))
                    .execute(&self.primary),
                )
                .await?;
                self.timed(
                    sqlx::query(&self.q.dialect.placeholders(
                        "update settings set value = ? where name = 'slug_secret'",
                    ))
                    .bind(secret)
                    .execute(&self.primary),
                )
                .await?;
                Ok(stats)
            }
        }

        impl $crate::sql::SqlStore<$db> {
            async fn insert_links(
                &self,
                batch: &[$crate::transfer::LinkRecord],
                owners: &std::collections::HashMap<String, i64>,
            ) -> Result<u64, StoreError> {
                if batch.is_empty() {
                    return Ok(0);
                }
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "insert into links (id, slug, url, url_hash, owner_id, created_at, updated_at, \
                     expires_at, max_visits, visits, tags, title, redirect_status, forward_query, \
                     password_hash, disabled, pending, deleted_at) ",
                );
                qb.push_values(batch, |mut row, l| {
                    row.push_bind(l.id)
                        .push_bind(l.slug.clone())
                        .push_bind(l.url.clone())
                        .push_bind(if l.deleted_at.is_some() { 0 } else { $crate::sql::url_hash(&l.url) })
                        .push_bind(l.owner.as_ref().and_then(|o| owners.get(o).copied()))
                        .push_bind(l.created_at)
                        .push_bind(l.updated_at)
                        .push_bind(l.expires_at)
                        .push_bind(l.max_visits)
                        .push_bind(l.visits)
                        .push_bind(l.tags.clone())
                        .push_bind(l.title.clone())
                        .push_bind(l.redirect_status)
                        .push_bind(l.forward_query)
                        .push_bind(l.password_hash.clone())
                        .push_bind(l.disabled)
                        .push_bind(l.pending)
                        .push_bind(l.deleted_at);
                });
                let done = self.timed(qb.build().execute(&self.primary)).await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use transfer_impl;
