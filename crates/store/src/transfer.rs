//! `kurz export` / `kurz import`: moving an instance between backends
//! without changing a slug.
//!
//! The format is JSON lines, one record per line, each with a `type`:
//!
//! 1. one `header`: `format` (`"kurz-export"`), `version` (1), `exported_at`
//!    (RFC 3339), `slug_secret` (hex) and `next_id` (the ID counter);
//! 2. `user` records: `username`, `password_hash` (argon2id PHC), `role`,
//!    `created_at`, and `disabled_at` for a disabled user;
//! 3. `key` records: `username`, `name`, `key_hash` (hex SHA-256),
//!    `read_only`, `created_at`, `revoked_at`;
//! 4. `link` records: every column of a link, tombstones included, with
//!    `owner` as a user name and `tags` as an array.
//!
//! Web-UI sessions are not exported: they are short-lived and bound to the
//! instance that made them; after a move everyone signs in again.
//!
//! Timestamps inside records are integer milliseconds since the Unix epoch,
//! as stored. Users get new numeric IDs on import (records refer to them by
//! name); link IDs, slugs, the secret and the counter move unchanged.
//!
//! An import runs in one transaction: one that fails half-way (a bad line,
//! a lost connection) leaves the database as it was, so it can be retried.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use kurz_core::error::StoreError;

use crate::analytics::add_visits;
use crate::db::{Arg, SqlBuilder, Tx};
use crate::dialect::VISITS_OF_L;
use crate::links::url_hash;
use crate::store::{parse_secret, SqlStore};

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
    /// Set while an admin has disabled the user; absent in exports from
    /// before users could be disabled, and for enabled users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) disabled_at: Option<i64>,
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
    /// Absent in exports from before it existed.
    #[serde(default)]
    pub(crate) crawlable: bool,
    pub(crate) password_hash: Option<String>,
    pub(crate) disabled: bool,
    /// `abuse` or `blocklist`; absent in exports from before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) disabled_reason: Option<String>,
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

fn write_record(out: &mut (dyn Write + Send), record: &Record) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")
}

impl SqlStore {
    pub(crate) async fn export(
        &self,
        out: &mut (dyn Write + Send),
    ) -> Result<TransferStats, TransferError> {
        let secret = self.ready().await?.clone();
        let (next_id,): (i64,) = self
            .timed("export", self.primary.fetch_one(&self.q.read_next_id, &[]))
            .await?;
        write_record(
            out,
            &Record::Header {
                format: FORMAT.to_owned(),
                version: VERSION,
                exported_at: self
                    .clock
                    .now()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                slug_secret: hex::encode(secret.as_bytes()),
                next_id,
            },
        )?;
        let mut stats = TransferStats::default();
        let text = |c| self.q.dialect.text(c);
        let users: Vec<UserRecord> = self
            .timed(
                "export",
                self.primary.fetch_all(
                    &format!(
                    "select {} as username, password_hash, role, created_at, disabled_at from users \
                     order by id",
                    text("username")
                ),
                    &[],
                ),
            )
            .await?;
        for u in users {
            write_record(out, &Record::User(u))?;
            stats.users += 1;
        }
        let keys: Vec<KeyRecord> = self
            .timed(
                "export",
                self.primary.fetch_all(
                    &format!(
                    "select {} as username, k.name, {} as key_hash, k.read_only, k.created_at, \
                     k.revoked_at from api_keys k join users u on u.id = k.user_id order by k.id",
                    text("u.username"),
                    text("k.key_hash")
                ),
                    &[],
                ),
            )
            .await?;
        for k in keys {
            write_record(out, &Record::Key(k))?;
            stats.keys += 1;
        }
        let page_sql = self.q.dialect.placeholders(&format!(
            "select l.id, {} as slug, l.url, {} as owner, l.created_at, l.updated_at, \
             l.expires_at, l.max_visits, {} as visits, l.tags, l.title, l.redirect_status, \
             l.forward_query, l.crawlable, l.password_hash, l.disabled, l.disabled_reason, \
             l.pending, l.deleted_at from links l left join users u on u.id = l.owner_id \
             where l.id > ? order by l.id limit ?",
            text("l.slug"),
            text("u.username"),
            VISITS_OF_L
        ));
        let mut after = i64::MIN;
        loop {
            let page: Vec<LinkRecord> = self
                .timed(
                    "export",
                    self.primary
                        .fetch_all(&page_sql, &[Arg::Int(after), Arg::Int(EXPORT_PAGE)]),
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

    pub(crate) async fn import(
        &self,
        input: &mut (dyn BufRead + Send),
    ) -> Result<TransferStats, TransferError> {
        self.ready().await?;
        let mut tx = self.timed("import", self.primary.begin()).await?;
        // A write first, so SQLite takes its write lock now rather than
        // failing busy at the first insert after these reads.
        self.timed(
            "import",
            tx.exec().execute(
                "update id_counters set next_id = next_id where name = 'link'",
                &[],
            ),
        )
        .await?;
        let (users,): (i64,) = self
            .timed(
                "import",
                tx.exec().fetch_one("select count(*) from users", &[]),
            )
            .await?;
        let (links,): (i64,) = self
            .timed(
                "import",
                tx.exec().fetch_one("select count(*) from links", &[]),
            )
            .await?;
        if users > 0 || links > 0 {
            return Err(TransferError::NotEmpty);
        }
        let stats = self.import_records(&mut tx, input).await?;
        self.timed("import", tx.commit()).await?;
        Ok(stats)
    }

    /// Reads the whole export into `tx`; nothing is kept unless the caller
    /// commits.
    async fn import_records(
        &self,
        tx: &mut Tx,
        input: &mut (dyn BufRead + Send),
    ) -> Result<TransferStats, TransferError> {
        let mut stats = TransferStats::default();
        let mut header: Option<(String, i64)> = None;
        let mut owners: HashMap<String, i64> = HashMap::new();
        let mut batch: Vec<LinkRecord> = Vec::with_capacity(IMPORT_BATCH);
        let mut max_id = 0i64;
        let mut line_no = 0u64;
        let mut line = String::new();
        let user_id = self
            .q
            .dialect
            .placeholders("select id from users where username = ?");
        let disable_user = self
            .q
            .dialect
            .placeholders("update users set disabled_at = ? where id = ?");
        let insert_key = self.q.dialect.placeholders(
            "insert into api_keys (user_id, name, key_hash, read_only, created_at, revoked_at) \
             values (?, ?, ?, ?, ?, ?)",
        );
        loop {
            line.clear();
            if input.read_line(&mut line)? == 0 {
                break;
            }
            line_no += 1;
            if line.trim().is_empty() {
                continue;
            }
            let record: Record =
                serde_json::from_str(&line).map_err(|e| TransferError::format(line_no, e))?;
            match record {
                Record::Header {
                    format,
                    version,
                    slug_secret,
                    next_id,
                    ..
                } => {
                    if line_no != 1 {
                        return Err(TransferError::format(line_no, "a second header"));
                    }
                    if format != FORMAT || version != VERSION {
                        return Err(TransferError::format(
                            line_no,
                            format!("unsupported format {format} version {version}"),
                        ));
                    }
                    parse_secret(&slug_secret).map_err(|e| TransferError::format(line_no, e))?;
                    header = Some((slug_secret, next_id));
                }
                _ if header.is_none() => {
                    return Err(TransferError::format(line_no, "the header must come first"));
                }
                Record::User(u) => {
                    let args = [
                        Arg::Text(&u.username),
                        Arg::Text(&u.password_hash),
                        Arg::Text(&u.role),
                        Arg::Int(u.created_at),
                    ];
                    self.timed(
                        "import_records",
                        tx.exec().execute(&self.q.insert_user, &args),
                    )
                    .await?;
                    let (id,): (i64,) = self
                        .timed(
                            "import_records",
                            tx.exec().fetch_one(&user_id, &[Arg::Text(&u.username)]),
                        )
                        .await?;
                    if let Some(at) = u.disabled_at {
                        self.timed(
                            "import_records",
                            tx.exec()
                                .execute(&disable_user, &[Arg::Int(at), Arg::Int(id)]),
                        )
                        .await?;
                    }
                    owners.insert(u.username, id);
                    stats.users += 1;
                }
                Record::Key(k) => {
                    let user_id = *owners.get(&k.username).ok_or_else(|| {
                        TransferError::format(line_no, format!("unknown user {}", k.username))
                    })?;
                    let args = [
                        Arg::Int(user_id),
                        Arg::OptText(k.name.as_deref()),
                        Arg::Text(&k.key_hash),
                        Arg::Bool(k.read_only),
                        Arg::Int(k.created_at),
                        Arg::OptInt(k.revoked_at),
                    ];
                    self.timed("import_records", tx.exec().execute(&insert_key, &args))
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
                        stats.links += self.insert_links(tx, &batch, &owners).await?;
                        batch.clear();
                    }
                }
            }
        }
        let Some((secret, next_id)) = header else {
            return Err(TransferError::format(0, "the export is empty"));
        };
        stats.links += self.insert_links(tx, &batch, &owners).await?;
        let counter = self
            .q
            .dialect
            .placeholders("update id_counters set next_id = ? where name = 'link'");
        let next = Arg::Int(next_id.max(max_id.saturating_add(1)));
        self.timed("import_records", tx.exec().execute(&counter, &[next]))
            .await?;
        let secret_sql = self
            .q
            .dialect
            .placeholders("update settings set value = ? where name = 'slug_secret'");
        self.timed(
            "import_records",
            tx.exec().execute(&secret_sql, &[Arg::Text(&secret)]),
        )
        .await?;
        Ok(stats)
    }

    async fn insert_links(
        &self,
        tx: &mut Tx,
        batch: &[LinkRecord],
        owners: &HashMap<String, i64>,
    ) -> Result<u64, StoreError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let mut b = SqlBuilder::new(
            self.q.dialect,
            "insert into links (id, slug, url, url_hash, owner_id, created_at, updated_at, \
             expires_at, max_visits, human_visits, tags, title, redirect_status, \
             forward_query, crawlable, password_hash, disabled, disabled_reason, pending, \
             deleted_at) values ",
        );
        for (i, l) in batch.iter().enumerate() {
            if i > 0 {
                b.push(", ");
            }
            let hash = if l.deleted_at.is_some() {
                0
            } else {
                url_hash(&l.url)
            };
            b.push("(")
                .bind(Arg::Int(l.id))
                .push(", ")
                .bind(Arg::Text(&l.slug))
                .push(", ")
                .bind(Arg::Text(&l.url))
                .push(", ")
                .bind(Arg::Int(hash))
                .push(", ")
                .bind(Arg::OptInt(
                    l.owner.as_ref().and_then(|o| owners.get(o).copied()),
                ))
                .push(", ")
                .bind(Arg::Int(l.created_at))
                .push(", ")
                .bind(Arg::Int(l.updated_at))
                .push(", ")
                .bind(Arg::OptInt(l.expires_at))
                .push(", ")
                .bind(Arg::OptInt(l.max_visits))
                .push(", ")
                // An export knows one count: a limited link that was used
                // stays used.
                .bind(Arg::Int(l.visits))
                .push(", ")
                .bind(Arg::Text(&l.tags))
                .push(", ")
                .bind(Arg::OptText(l.title.as_deref()))
                .push(", ")
                .bind(Arg::OptInt(l.redirect_status))
                .push(", ")
                .bind(Arg::Bool(l.forward_query))
                .push(", ")
                .bind(Arg::Bool(l.crawlable))
                .push(", ")
                .bind(Arg::OptText(l.password_hash.as_deref()))
                .push(", ")
                .bind(Arg::Bool(l.disabled))
                .push(", ")
                .bind(Arg::OptText(l.disabled_reason.as_deref()))
                .push(", ")
                .bind(Arg::Bool(l.pending))
                .push(", ")
                .bind(Arg::OptInt(l.deleted_at))
                .push(")");
        }
        let inserted = self
            .timed("insert_links", tx.exec().execute(b.sql(), b.args()))
            .await?;
        let counted: Vec<(i64, u64)> = batch
            .iter()
            .filter(|l| l.visits > 0)
            .map(|l| (l.id, l.visits.unsigned_abs()))
            .collect();
        if !counted.is_empty() {
            let b = add_visits(self.q.dialect, &counted);
            self.timed("insert_link_counts", tx.exec().execute(b.sql(), b.args()))
                .await?;
        }
        Ok(inserted)
    }
}
