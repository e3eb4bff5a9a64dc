//! Passwords and API keys: argon2id for what people choose (the core's
//! [`PasswordHasher`] port, bounded), SHA-256 for the long random keys the
//! service makes.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::Argon2;
use async_trait::async_trait;
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use kurz_core::error::HashError;
use kurz_core::ports::PasswordHasher;

/// Every key starts with this, so leaked keys are easy to spot in code and
/// logs (and scanners can look for them).
pub const KEY_PREFIX: &str = "kurz_";
/// 40 base62 characters: about 238 bits of randomness.
const KEY_RANDOM_LEN: usize = 40;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Runs argon2id off the async workers, at most `concurrency` hashes at
/// once with at most `queue` more waiting; past that, [`HashError::Busy`]
/// at once. Each hash holds 19 MiB for tens of milliseconds, so without a
/// bound a flood of wrong passwords on one link takes all the memory
/// (measured before this bound: 4.1 GiB for 64 clients; ADR 0011). One per
/// process, shared by the pages, the API and the CLI.
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
            admitted: Arc::new(Semaphore::new(concurrency.saturating_add(queue))),
            running: Arc::new(Semaphore::new(concurrency)),
        }
    }

    /// Runs `work` on the blocking pool once a slot is free. The permits
    /// move into the blocking task: a request dropped half-way (the client
    /// left) must not free a slot whose hash is still running.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| HashError::Busy)?;
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| HashError::Busy)?;
        tokio::task::spawn_blocking(move || {
            let _slots = (admitted, running);
            work()
        })
        .await
        .map_err(|e| HashError::Failed(Box::new(e)))
    }
}

#[async_trait]
impl PasswordHasher for BoundedHasher {
    /// argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane).
    async fn hash(&self, password: String) -> Result<String, HashError> {
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| HashError::Failed(e.to_string().into()))
        })
        .await?
    }

    async fn verify(&self, hash: String, password: String) -> Result<bool, HashError> {
        self.run(move || {
            PasswordHash::new(&hash).is_ok_and(|parsed| {
                affordable(&parsed)
                    && Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
            })
        })
        .await
    }
}

/// Most memory (KiB), passes and lanes a stored hash may ask of a check.
/// A hash carries its own parameters; one from a hostile export could ask
/// for gigabytes per attempt, past what the slot bound was sized for.
const MAX_MEMORY_KIB: u32 = 64 * 1024;
const MAX_PASSES: u32 = 10;
const MAX_LANES: u32 = 8;

/// True when checking against `hash` costs what kurz's own hashes cost, or
/// a little more; a stored hash past that fails every check, and says why.
fn affordable(hash: &PasswordHash<'_>) -> bool {
    let Ok(params) = argon2::Params::try_from(hash) else {
        return false;
    };
    let ok = params.m_cost() <= MAX_MEMORY_KIB
        && params.t_cost() <= MAX_PASSES
        && params.p_cost() <= MAX_LANES;
    if !ok {
        tracing::warn!(
            memory_kib = params.m_cost(),
            passes = params.t_cost(),
            lanes = params.p_cost(),
            "a stored password hash asks for more work than allowed; refused"
        );
    }
    ok
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

/// A random token for cookies: 43 base62 characters, about 256 bits.
pub fn random_token() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..43)
        .map(|_| char::from(BASE62[rng.gen_range(0..BASE62.len())]))
        .collect()
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
    fn keys_are_random_and_hash_to_sha256() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + KEY_RANDOM_LEN);
        assert!(a[KEY_PREFIX.len()..]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric()));
        // The published SHA-256 test vector, so a change of hash shows.
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(hash_key(&a), hash_key(&b));
    }

    #[tokio::test]
    async fn passwords_verify_only_themselves() {
        let hasher = BoundedHasher::new(2, 0);
        let hash = hasher.hash("correct horse".into()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        let other = hasher.hash("correct horse".into()).await.expect("hash");
        assert_ne!(hash, other, "salted");
        assert!(hasher
            .verify(hash.clone(), "correct horse".into())
            .await
            .expect("verify"));
        assert!(!hasher.verify(hash, "wrong".into()).await.expect("verify"));
        assert!(!hasher
            .verify("not a hash".into(), "x".into())
            .await
            .expect("verify"));
    }

    /// The core checks an unknown login name against its dummy hash so
    /// that the answer takes as long as a wrong password: only true while
    /// the dummy asks for exactly the work our own hashes do.
    #[tokio::test]
    async fn the_dummy_login_hash_costs_what_ours_cost() {
        use kurz_core::service::accounts::DUMMY_PASSWORD_HASH;
        let hasher = BoundedHasher::new(1, 0);
        let ours = hasher.hash("password".into()).await.expect("hash");
        let params = |h: &str| {
            let parsed = PasswordHash::new(h).expect("parses");
            let p = argon2::Params::try_from(&parsed).expect("argon2 parameters");
            (
                parsed.algorithm.to_string(),
                p.m_cost(),
                p.t_cost(),
                p.p_cost(),
                parsed.hash.map(|o| o.len()),
            )
        };
        assert_eq!(
            params(DUMMY_PASSWORD_HASH),
            params(&ours),
            "make a new dummy like {ours}"
        );
        assert!(!hasher
            .verify(DUMMY_PASSWORD_HASH.into(), "password".into())
            .await
            .expect("verify"));
    }

    #[tokio::test]
    async fn a_stored_hash_that_asks_for_too_much_work_is_not_checked() {
        let hasher = BoundedHasher::new(1, 0);
        let ours = hasher.hash("password".into()).await.expect("hash");
        assert!(affordable(&PasswordHash::new(&ours).expect("parses")));
        // argon2id at 1 GiB and 100 passes, as a hostile export could hold.
        for greedy in [
            "$argon2id$v=19$m=1048576,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=19456,t=100,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        ] {
            let parsed = PasswordHash::new(greedy).expect("a well-formed hash");
            assert!(!affordable(&parsed), "{greedy}");
            assert!(!hasher
                .verify(greedy.into(), "password".into())
                .await
                .expect("verify"));
        }
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
            Err(HashError::Busy)
        ));
        assert!(!a.await.expect("join").expect("verify"));
        assert!(!b.await.expect("join").expect("verify"));
        assert!(hasher
            .verify(hash, "correct horse".into())
            .await
            .expect("slots are free again"));
    }
}
