//! The SQL that differs between backends, kept in one place. Statements are
//! written once with `?` placeholders and rewritten to `$1, $2, ...` for
//! PostgreSQL when the store is built, not per query.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    MySql,
    Postgres,
}

/// The click count of `l` (a row of `links`), from its counter (ADR 0033):
/// a link never visited has none.
pub(crate) const VISITS_OF_L: &str =
    "coalesce((select c.visits from link_counts c where c.link_id = l.id), 0)";

/// Every fixed statement the repositories run, in the backend's spelling.
#[derive(Debug, Clone)]
pub(crate) struct Queries {
    pub(crate) dialect: Dialect,
    pub(crate) select_links: String,
    pub(crate) link_by_id: String,
    pub(crate) link_by_slug: String,
    pub(crate) link_by_owner_url: String,
    pub(crate) link_by_null_owner_url: String,
    pub(crate) lookup: String,
    pub(crate) most_visited: String,
    pub(crate) enabled_after: String,
    pub(crate) password_hash: String,
    pub(crate) insert_link: String,
    pub(crate) lease_ids: String,
    pub(crate) read_next_id: String,
    pub(crate) insert_user: String,
    pub(crate) insert_key: String,
    pub(crate) key_by_hash: String,
    pub(crate) delete_link: String,
    pub(crate) take_visit: String,
    pub(crate) insert_secret: String,
    pub(crate) select_secret: String,
    pub(crate) user_by_name: String,
    pub(crate) user_by_id: String,
    pub(crate) login_record: String,
    pub(crate) list_users: String,
    pub(crate) set_role: String,
    pub(crate) disable_user: String,
    pub(crate) enable_user: String,
    pub(crate) set_password: String,
    pub(crate) insert_session: String,
    pub(crate) session: String,
    pub(crate) delete_session: String,
    pub(crate) delete_sessions_of: String,
    pub(crate) purge_sessions: String,
    pub(crate) keys_of: String,
    pub(crate) revoke_key: String,
    pub(crate) authenticate: String,
}

impl Queries {
    pub(crate) fn new(dialect: Dialect) -> Self {
        let q = |sql: &str| dialect.placeholders(sql);
        let (slug, owner) = (dialect.text("l.slug"), dialect.text("u.username"));
        // Columns of a link as `LinkRow` reads them, with the owner's name.
        let select_links = format!(
            "select l.id, {slug} as slug, l.url, l.owner_id, {owner} as owner, l.created_at, \
             l.updated_at, l.expires_at, l.max_visits, {VISITS_OF_L} as visits, l.human_visits, \
             l.tags, l.title, \
             l.redirect_status, l.forward_query, l.crawlable, l.password_hash, l.disabled, \
             l.disabled_reason, l.pending from links l left join users u on u.id = l.owner_id"
        );
        // Columns of a user as `UserRow` reads them.
        let select_users = format!(
            "select id, {} as username, role, created_at, disabled_at from users",
            dialect.text("username")
        );
        Self {
            dialect,
            link_by_id: q(&format!(
                "{select_links} where l.id = ? and l.deleted_at is null"
            )),
            link_by_slug: q(&format!(
                "{select_links} where l.slug = ? and l.deleted_at is null"
            )),
            link_by_owner_url: q(&format!(
                "{select_links} where l.owner_id = ? and l.url_hash = ? and l.url = ? \
                 and l.deleted_at is null order by l.created_at desc, l.id desc limit ?"
            )),
            link_by_null_owner_url: q(&format!(
                "{select_links} where l.owner_id is null and l.url_hash = ? and l.url = ? \
                 and l.deleted_at is null order by l.created_at desc, l.id desc limit ?"
            )),
            // The hot path's one query: a point lookup on the unique slug
            // index, no join, no JSON, and no password hash.
            lookup: q(
                "select id, url, created_at, expires_at, max_visits, human_visits, redirect_status, \
                 forward_query, password_hash is not null as has_password, disabled, pending, \
                 disabled_reason from links where slug = ? and deleted_at is null",
            ),
            // Warm-up reads this once at start; an index on visits would
            // cost every click flush more than this scan of the narrow
            // counters costs once.
            most_visited: q(&format!(
                "select {} as slug, l.id, l.url, l.created_at, l.expires_at, l.max_visits, \
                 l.human_visits, l.redirect_status, l.forward_query, \
                 l.password_hash is not null as has_password, l.disabled, l.pending, \
                 l.disabled_reason from link_counts c join links l on l.id = c.link_id \
                 where l.deleted_at is null and c.visits > 0 \
                 order by c.visits desc limit ?",
                dialect.text("l.slug")
            )),
            // The blocklist rescan's keyset page: a range read on the
            // primary key, whatever the table's size.
            enabled_after: q(&format!(
                "select id, {} as slug, url from links where id > ? and deleted_at is null \
                 and disabled = ? order by id limit ?",
                dialect.text("slug")
            )),
            password_hash: q("select password_hash from links where id = ? and deleted_at is null"),
            insert_link: q(
                "insert into links (id, slug, url, url_hash, owner_id, created_at, \
                 updated_at, expires_at, max_visits, tags, title, redirect_status, forward_query, \
                 crawlable, password_hash, pending, human_visits) \
                 values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ),
            lease_ids: q("update id_counters set next_id = next_id + ? where name = 'link'"),
            read_next_id: "select next_id from id_counters where name = 'link'".to_owned(),
            insert_user: q(
                "insert into users (username, password_hash, role, created_at) \
                 values (?, ?, ?, ?)",
            ),
            insert_key: q(
                "insert into api_keys (user_id, name, key_hash, read_only, created_at) \
                 values (?, ?, ?, ?, ?)",
            ),
            key_by_hash: q(
                "select id, user_id, name, read_only, created_at from api_keys \
                 where key_hash = ?",
            ),
            // The row stays so the slug stays taken; what it pointed to goes.
            delete_link: q(
                "update links set deleted_at = ?, updated_at = ?, url = '', \
                 url_hash = 0, password_hash = null, title = null, tags = '[]' \
                 where id = ? and deleted_at is null",
            ),
            take_visit: q("update links set human_visits = human_visits + 1 where id = ? \
                 and deleted_at is null and (max_visits is null or human_visits < max_visits)"),
            insert_secret: q(match dialect {
                Dialect::MySql => {
                    "insert ignore into settings (name, value, created_at) \
                     values ('slug_secret', ?, ?)"
                }
                Dialect::Sqlite | Dialect::Postgres => {
                    "insert into settings (name, value, created_at) values ('slug_secret', ?, ?) \
                     on conflict (name) do nothing"
                }
            }),
            select_secret: "select value from settings where name = 'slug_secret'".to_owned(),
            user_by_name: q(&format!("{select_users} where username = ?")),
            user_by_id: q(&format!("{select_users} where id = ?")),
            login_record: q(&format!(
                "select id, {} as username, role, created_at, disabled_at, password_hash \
                 from users where username = ?",
                dialect.text("username")
            )),
            list_users: q(&format!("{select_users} where id > ? order by id limit ?")),
            set_role: q("update users set role = ? where id = ?"),
            // The first time stays when a disabled user is disabled again,
            // yet the row counts as found (MySQL counts matched rows).
            disable_user: q("update users set disabled_at = coalesce(disabled_at, ?) where id = ?"),
            enable_user: q("update users set disabled_at = null where id = ?"),
            set_password: q("update users set password_hash = ? where id = ?"),
            insert_session: q(
                "insert into sessions (token_hash, user_id, created_at, expires_at) \
                 values (?, ?, ?, ?)",
            ),
            // A point read on the primary key and one on users' ID: cheap
            // enough for every page.
            session: q(&format!(
                "select u.id, {owner}, u.role from sessions s join users u on u.id = s.user_id \
                 where s.token_hash = ? and s.expires_at > ? and u.disabled_at is null"
            )),
            delete_session: q("delete from sessions where token_hash = ?"),
            delete_sessions_of: q("delete from sessions where user_id = ?"),
            // SQLite and PostgreSQL have no `delete ... limit`.
            purge_sessions: q(match dialect {
                Dialect::MySql => "delete from sessions where expires_at < ? limit ?",
                Dialect::Sqlite | Dialect::Postgres => {
                    "delete from sessions where token_hash in \
                     (select token_hash from sessions where expires_at < ? limit ?)"
                }
            }),
            keys_of: q(
                "select id, user_id, name, read_only, created_at from api_keys \
                 where user_id = ? and revoked_at is null order by id",
            ),
            revoke_key: q("update api_keys set revoked_at = ? \
                 where id = ? and user_id = ? and revoked_at is null"),
            authenticate: q(&format!(
                "select k.id, k.read_only, u.id, {owner}, u.role from api_keys k \
                 join users u on u.id = k.user_id where k.key_hash = ? and k.revoked_at is null \
                 and u.disabled_at is null"
            )),
            select_links,
        }
    }
}

impl Dialect {
    /// Rewrites `?` placeholders to `$n` for PostgreSQL. Our statements hold
    /// no `?` inside string literals, which keeps this a plain scan.
    pub(crate) fn placeholders(self, sql: &str) -> String {
        if self != Self::Postgres {
            return sql.to_owned();
        }
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Appends the placeholder of the `n`th argument (from 1).
    pub(crate) fn push_placeholder(self, sql: &mut String, n: usize) {
        if self == Self::Postgres {
            sql.push('$');
            sql.push_str(&n.to_string());
        } else {
            sql.push('?');
        }
    }

    /// A column of a binary-collated text type, read as text. MySQL marks
    /// `*_bin` columns binary, and sqlx will not decode those as strings.
    pub(crate) fn text(self, column: &str) -> String {
        match self {
            Self::MySql => format!("cast({column} as char)"),
            Self::Sqlite | Self::Postgres => column.to_owned(),
        }
    }

    /// `like` that ignores case on every backend (PostgreSQL's does not).
    pub(crate) fn like(self) -> &'static str {
        match self {
            Self::Postgres => " ilike ",
            Self::Sqlite | Self::MySql => " like ",
        }
    }

    /// The opening of a condition "the JSON array in `l.tags` holds the
    /// bound string"; the caller binds the tag and pushes [`Self::tag_close`].
    pub(crate) fn tag_open(self) -> &'static str {
        match self {
            Self::Sqlite => "exists (select 1 from json_each(l.tags) where json_each.value = ",
            Self::MySql => "json_contains(l.tags, json_quote(",
            Self::Postgres => "l.tags::jsonb @> jsonb_build_array(",
        }
    }

    /// `l`'s tags as a table `j` of one row a tag (for a `from` clause
    /// after `l`, or a subquery about it), and the column that names each.
    pub(crate) fn tag_rows(self) -> (&'static str, &'static str) {
        let from = match self {
            Self::Sqlite => "json_each(l.tags) j",
            Self::MySql => {
                "json_table(l.tags, '$[*]' columns \
                 (tag varchar(255) character set utf8mb4 collate utf8mb4_bin path '$')) j"
            }
            Self::Postgres => "jsonb_array_elements_text(l.tags::jsonb) j(tag)",
        };
        let column = match self {
            Self::Sqlite => "j.value",
            Self::MySql | Self::Postgres => "j.tag",
        };
        (from, column)
    }

    pub(crate) fn tag_close(self) -> &'static str {
        match self {
            Self::Sqlite => ")",
            Self::MySql => "))",
            Self::Postgres => "::text)",
        }
    }
}

/// Escapes `%`, `_` and `!` for `like ... escape '!'`. `!` rather than a
/// backslash, because MySQL string literals treat backslashes specially.
pub(crate) fn like_pattern(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for c in q.chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_are_numbered() {
        assert_eq!(
            Dialect::Postgres.placeholders("a = ? and b = ?"),
            "a = $1 and b = $2"
        );
        assert_eq!(Dialect::MySql.placeholders("a = ?"), "a = ?");
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("5%_!"), "%5!%!_!!%");
    }
}
