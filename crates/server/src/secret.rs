//! Passwords and API keys: argon2id for what people choose, SHA-256 for the
//! long random keys the service makes.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::Argon2;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::Semaphore;

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
    /// Every hashing slot and every place in the queue is taken.
    #[error("too many password checks at once; retry in a moment")]
    Busy,
}

/// Runs argon2id off the async workers, at most `concurrency` hashes at
/// once with at most `queue` more waiting; past that, [`SecretError::Busy`]
/// at once. Each hash holds 19 MiB for tens of milliseconds, so without a
/// bound a flood of wrong passwords on one link takes all the memory
/// (measured before this bound: 3.7 GB for 64 clients). One per process,
/// shared by the pages, the API and the CLI.
#[derive(Debug, Clone)]
pub struct BoundedHasher {
    /// Hashes running or waiting.
    admitted: Arc<Semaphore>,
    /// Hashes running.
    running: Arc<Semaphore>,
}

impl BoundedHasher {
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            admitted: Arc::new(Semaphore::new(concurrency + queue)),
            running: Arc::new(Semaphore::new(concurrency)),
        }
    }

    /// Runs `work` on the blocking pool once a slot is free. The permits
    /// move into the blocking task: a request dropped half-way (the client
    /// left) must not free a slot whose hash is still running.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, SecretError> {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| SecretError::Busy)?;
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| SecretError::Busy)?;
        Ok(tokio::task::spawn_blocking(move || {
            let _slots = (admitted, running);
            work()
        })
        .await?)
    }

    /// argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane).
    pub async fn hash(&self, password: String) -> Result<String, SecretError> {
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(SecretError::Hash)
        })
        .await?
    }

    /// `false` also for a hash that cannot be parsed.
    pub async fn verify(&self, hash: String, password: String) -> Result<bool, SecretError> {
        self.run(move || {
            PasswordHash::new(&hash).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        })
        .await
    }
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
        let hasher = BoundedHasher::new(2, 0);
        let hash = hasher.hash("correct horse".into()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher
            .verify(hash.clone(), "correct horse".into())
            .await
            .expect("verify"));
        assert!(!hasher.verify(hash, "wrong".into()).await.expect("verify"));
    }

    #[tokio::test]
    async fn a_full_hasher_refuses_at_once_and_frees_its_slots() {
        let hasher = BoundedHasher::new(1, 1);
        let hash = hasher.hash("correct horse".into()).await.expect("hash");
        // One running and one waiting fill it; the third is refused without
        // waiting for either.
        let a = tokio::spawn({
            let (h, hash) = (hasher.clone(), hash.clone());
            async move { h.verify(hash, "a".into()).await }
        });
        let b = tokio::spawn({
            let (h, hash) = (hasher.clone(), hash.clone());
            async move { h.verify(hash, "b".into()).await }
        });
        while hasher.admitted.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        // Busy, not a late `Ok(false)`: it did not queue.
        assert!(matches!(
            hasher.verify(hash.clone(), "c".into()).await,
            Err(SecretError::Busy)
        ));
        assert!(!a.await.expect("join").expect("verify"));
        assert!(!b.await.expect("join").expect("verify"));
        assert!(hasher
            .verify(hash, "correct horse".into())
            .await
            .expect("slots are free again"));
    }
}
