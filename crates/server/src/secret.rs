//! Passwords and API keys: argon2id for what people choose, SHA-256 for the
//! long random keys the service makes.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;
use sha2::{Digest, Sha256};

/// Every key starts with this, so leaked keys are easy to spot in code and
/// logs (and scanners can look for them).
pub const KEY_PREFIX: &str = "kurz_";
/// 40 base62 characters: about 238 bits of randomness.
const KEY_RANDOM_LEN: usize = 40;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Longest password accepted, to keep hashing time bounded.
pub const MAX_PASSWORD_LEN: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot hash the password: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("the hashing task failed")]
    Task(#[from] tokio::task::JoinError),
}

/// A new random API key. Shown once, stored only as [`hash_key`].
pub fn generate_key() -> String {
    let mut rng = rand::rngs::OsRng;
    let mut key = String::with_capacity(KEY_PREFIX.len() + KEY_RANDOM_LEN);
    key.push_str(KEY_PREFIX);
    for _ in 0..KEY_RANDOM_LEN {
        key.push(char::from(BASE62[rng.gen_range(0..BASE62.len())]));
    }
    key
}

/// Hex SHA-256 of a key: keys carry enough entropy that a slow hash adds
/// nothing, and authentication stays one cheap hash and one indexed lookup.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// argon2id with the crate's defaults (19 MiB, 2 passes), off the async
/// threads: it takes tens of milliseconds on purpose.
pub async fn hash_password(password: String) -> Result<String, SecretError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(SecretError::Hash)
    })
    .await?
}

/// `false` also for a hash that cannot be parsed.
pub async fn verify_password(hash: String, password: String) -> Result<bool, SecretError> {
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await?;
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hash_stably() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + KEY_RANDOM_LEN);
        assert_eq!(hash_key(&a), hash_key(&a));
        assert_ne!(hash_key(&a), hash_key(&b));
    }

    #[tokio::test]
    async fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse".into()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(hash.clone(), "correct horse".into())
            .await
            .expect("verify"));
        assert!(!verify_password(hash, "wrong".into()).await.expect("verify"));
    }
}
