//! Users, API keys and who is asking.

use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "user" => Some(Self::User),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub created_at: OffsetDateTime,
    /// Set by an admin: the user cannot sign in, and their sessions and
    /// API keys stop working, until an admin enables them again.
    pub disabled: bool,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub role: Role,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: i64,
    pub user_id: i64,
    pub name: Option<String>,
    pub read_only: bool,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub user_id: i64,
    pub name: Option<String>,
    /// Hex SHA-256 of the key: keys are long random strings, so a fast hash
    /// is as safe as a slow one and keeps authentication cheap.
    pub key_hash: String,
    pub read_only: bool,
    pub created_at: OffsetDateTime,
}

/// A signed-in browser of the web UI.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Hex SHA-256 of the session token: like an API key, the token is a
    /// long random string, so a fast hash is enough and a read of the
    /// table signs no one in.
    pub token_hash: String,
    pub user_id: i64,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// The authenticated caller of a request: by API key, or by a web-UI
/// session.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    /// `0` (no key has it) for a session and for the operator.
    pub key_id: i64,
    pub read_only: bool,
}

impl Principal {
    /// Whoever runs the command line on the server: an admin without a
    /// user row (user ID 0, which no row has) or key.
    pub fn operator() -> Self {
        Self {
            user_id: 0,
            username: "operator".into(),
            role: Role::Admin,
            key_id: 0,
            read_only: false,
        }
    }

    /// The user's row, `None` for the [operator](Self::operator).
    pub fn user_row(&self) -> Option<i64> {
        (self.user_id > 0).then_some(self.user_id)
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Links without an owner (anonymous or made from the CLI) belong to the
    /// admins.
    pub fn may_read(&self, owner_id: Option<i64>) -> bool {
        self.is_admin() || owner_id == Some(self.user_id)
    }

    pub fn may_write(&self, owner_id: Option<i64>) -> bool {
        !self.read_only && self.may_read(owner_id)
    }
}

/// Shortest password accepted for an account.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest password accepted (accounts and links), to keep hashing time
/// bounded.
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Longest key name.
pub const MAX_KEY_NAME_LEN: usize = 128;

/// A user name: 1 to 64 characters of letters, digits, `.`, `_` and `-`.
pub fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
