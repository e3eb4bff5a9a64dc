//! Slugs: the short codes in `https://sho.rt/{slug}`.
//!
//! Two kinds exist. *Generated* slugs encode a numeric link ID: the ID goes
//! through a keyed permutation of the code space (a balanced Feistel network
//! with cycle-walking) and is then written in base62 at a fixed length, so
//! consecutive links get unrelated codes and nobody without the instance's
//! secret can enumerate them. *Aliases* are chosen by the user and only have to
//! follow [`Slug::parse_alias`]'s rules.
//!
//! Slugs are stored, never recomputed, so losing the secret breaks nothing
//! that exists; it only changes which codes future IDs get.

use std::fmt;

use siphasher::sip::SipHasher13;
use std::hash::Hasher;

/// The 62 characters of a generated code, in value order.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Every first path segment the service uses now or plans to, compared
/// case-insensitively. `rest` is kept free for a Shlink-compatible API.
pub const RESERVED_WORDS: &[&str] = &[
    "api",
    "rest",
    "admin",
    "login",
    "logout",
    "signup",
    "static",
    "assets",
    "docs",
    "ui",
    "metrics",
    "healthz",
    "readyz",
    "well-known",
    ".well-known",
    "favicon.ico",
    "robots.txt",
];

/// The longest alias accepted.
pub const MAX_ALIAS_LEN: usize = 64;

/// Feistel rounds. Four rounds already make a pseudo-random permutation
/// (Luby–Rackoff); eight leave a margin for the small half-widths used here.
const ROUNDS: u64 = 8;

/// The shortest and longest generated codes: below 4 the code space is tiny,
/// above 10 62^len no longer fits in 64 bits.
pub const MIN_CODE_LEN: usize = 4;
pub const MAX_CODE_LEN: usize = 10;

/// Why an alias was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    #[error("an alias is 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'")]
    Invalid,
    #[error("this alias is a reserved word")]
    Reserved,
    #[error("this alias contains a blocked word")]
    Blocked,
}

/// A slug that is safe to store and to route: either generated or a valid
/// alias. The string is private so no unchecked text becomes a slug.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    /// Checks a user-chosen alias: length, alphabet and reserved words.
    /// Keyword lists are configuration and are checked by [`KeywordPolicy`].
    pub fn parse_alias(input: &str) -> Result<Self, AliasError> {
        let valid_chars = input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if input.is_empty() || input.len() > MAX_ALIAS_LEN || !valid_chars {
            return Err(AliasError::Invalid);
        }
        if is_reserved(input) {
            return Err(AliasError::Reserved);
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl AsRef<str> for Slug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// True when `word` is one of the service's own path segments.
pub fn is_reserved(word: &str) -> bool {
    RESERVED_WORDS.iter().any(|r| r.eq_ignore_ascii_case(word))
}

/// Which words an alias (or a generated code) may not contain, and which send
/// an alias to review. Both are matched case-insensitively as substrings.
#[derive(Debug, Clone, Default)]
pub struct KeywordPolicy {
    blocked: Vec<String>,
    review: Vec<String>,
}

/// What the keyword lists say about a slug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeywordVerdict {
    Clean,
    NeedsReview,
    Blocked,
}

impl KeywordPolicy {
    pub fn new(blocked: &[String], review: &[String]) -> Self {
        let norm = |list: &[String]| {
            list.iter()
                .map(|w| w.trim().to_ascii_lowercase())
                .filter(|w| !w.is_empty())
                .collect()
        };
        Self {
            blocked: norm(blocked),
            review: norm(review),
        }
    }

    pub fn judge(&self, slug: &str) -> KeywordVerdict {
        let lower = slug.to_ascii_lowercase();
        if self.blocked.iter().any(|w| lower.contains(w.as_str())) {
            KeywordVerdict::Blocked
        } else if self.review.iter().any(|w| lower.contains(w.as_str())) {
            KeywordVerdict::NeedsReview
        } else {
            KeywordVerdict::Clean
        }
    }
}

/// The instance secret that keys the permutation.
#[derive(Clone, PartialEq, Eq)]
pub struct SlugSecret([u8; 16]);

impl SlugSecret {
    pub const LEN: usize = 16;

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for SlugSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SlugSecret(..)")
    }
}

/// The ID was too large for the configured code length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("link ID {0} does not fit in the code space; raise the slug length")]
pub struct CodeSpaceExhausted(pub u64);

/// Turns link IDs into fixed-length codes and back.
#[derive(Clone)]
pub struct SlugCodec {
    len: usize,
    /// 62^len: the number of distinct codes.
    domain: u64,
    /// Bits in each Feistel half; the network works on `2 * half_bits` bits.
    half_bits: u32,
    k0: u64,
    k1: u64,
}

impl fmt::Debug for SlugCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlugCodec")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl SlugCodec {
    /// `len` is clamped to [`MIN_CODE_LEN`]..=[`MAX_CODE_LEN`].
    pub fn new(secret: &SlugSecret, len: usize) -> Self {
        let len = len.clamp(MIN_CODE_LEN, MAX_CODE_LEN);
        let domain = 62u64.pow(len as u32);
        // Smallest even bit width covering the domain, so both halves match.
        let bits = 64 - (domain - 1).leading_zeros();
        let half_bits = bits.div_ceil(2);
        let (a, b) = secret.0.split_at(8);
        let k0 = u64::from_le_bytes(a.try_into().unwrap_or_default());
        let k1 = u64::from_le_bytes(b.try_into().unwrap_or_default());
        Self {
            len,
            domain,
            half_bits,
            k0,
            k1,
        }
    }

    /// How many codes exist at this length.
    pub fn capacity(&self) -> u64 {
        self.domain
    }

    /// The code for `id`.
    pub fn encode(&self, id: u64) -> Result<String, CodeSpaceExhausted> {
        if id >= self.domain {
            return Err(CodeSpaceExhausted(id));
        }
        Ok(self.write_base62(self.permute(id)))
    }

    /// The ID a generated code stands for; `None` for text that is not a code
    /// of this length.
    pub fn decode(&self, code: &str) -> Option<u64> {
        let value = self.parse_base62(code)?;
        Some(self.unpermute(value))
    }

    /// The permutation of `[0, domain)`: Feistel on the enclosing power of
    /// two, walking the cycle until the value falls back inside the domain.
    /// Terminates because a permutation's cycle through `x < domain` must
    /// come back to the domain.
    pub fn permute(&self, x: u64) -> u64 {
        let mut y = self.feistel(x);
        while y >= self.domain {
            y = self.feistel(y);
        }
        y
    }

    pub fn unpermute(&self, y: u64) -> u64 {
        let mut x = self.feistel_inverse(y);
        while x >= self.domain {
            x = self.feistel_inverse(x);
        }
        x
    }

    fn mask(&self) -> u64 {
        (1u64 << self.half_bits) - 1
    }

    fn round(&self, round: u64, half: u64) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        h.write_u64(round);
        h.write_u64(half);
        h.finish() & self.mask()
    }

    fn feistel(&self, x: u64) -> u64 {
        let mask = self.mask();
        let (mut l, mut r) = (x >> self.half_bits, x & mask);
        for i in 0..ROUNDS {
            (l, r) = (r, l ^ self.round(i, r));
        }
        (l << self.half_bits) | r
    }

    fn feistel_inverse(&self, y: u64) -> u64 {
        let mask = self.mask();
        let (mut l, mut r) = (y >> self.half_bits, y & mask);
        for i in (0..ROUNDS).rev() {
            (l, r) = (r ^ self.round(i, l), l);
        }
        (l << self.half_bits) | r
    }

    fn write_base62(&self, mut value: u64) -> String {
        let mut out = vec![b'0'; self.len];
        for slot in out.iter_mut().rev() {
            *slot = ALPHABET[(value % 62) as usize];
            value /= 62;
        }
        out.into_iter().map(char::from).collect()
    }

    fn parse_base62(&self, code: &str) -> Option<u64> {
        if code.len() != self.len {
            return None;
        }
        code.bytes().try_fold(0u64, |acc, b| {
            let digit = match b {
                b'0'..=b'9' => b - b'0',
                b'A'..=b'Z' => b - b'A' + 10,
                b'a'..=b'z' => b - b'a' + 36,
                _ => return None,
            };
            Some(acc * 62 + u64::from(digit))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn codec(len: usize, seed: u8) -> SlugCodec {
        SlugCodec::new(&SlugSecret::from_bytes([seed; 16]), len)
    }

    #[test]
    fn permutation_is_a_bijection_on_a_small_domain() {
        // 62^4 = 14,776,336 is too many to walk in a unit test quickly, so
        // check injectivity on a dense prefix and the inverse on all of it.
        let c = codec(4, 7);
        let mut seen = HashSet::new();
        for x in 0..200_000u64 {
            let y = c.permute(x);
            assert!(y < c.capacity());
            assert!(seen.insert(y), "two IDs gave {y}");
            assert_eq!(c.unpermute(y), x);
        }
    }

    #[test]
    fn codes_have_the_configured_length_and_alphabet() {
        let c = codec(6, 1);
        for id in [0, 1, 2, 61, 62, 1_000_000, c.capacity() - 1] {
            let code = c.encode(id).expect("in range");
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(c.decode(&code), Some(id));
        }
    }

    /// Over many consecutive IDs, codes behave like a random permutation:
    /// neighbours land far apart and the codes spread over the whole space.
    /// For a random permutation of N values, two consecutive inputs land
    /// within N/100 of each other with probability about 2%, so 10,000 pairs
    /// give about 200 such (±14); 400 would mean structure, not chance.
    #[test]
    fn consecutive_ids_give_codes_spread_like_random_ones() {
        const PAIRS: u64 = 10_000;
        for seed in 1..=3 {
            let c = codec(6, seed);
            let n = c.capacity();
            let codes: Vec<u64> = (0..=PAIRS).map(|i| c.permute(1_000 + i)).collect();
            let near = codes
                .windows(2)
                .filter(|w| w[0].abs_diff(w[1]) < n / 100)
                .count();
            assert!(
                near < 400,
                "seed {seed}: {near} of {PAIRS} neighbours stay near"
            );
            let adjacent = codes
                .windows(2)
                .filter(|w| w[0].abs_diff(w[1]) <= 1)
                .count();
            assert_eq!(adjacent, 0, "seed {seed}");
            // Each tenth of the code space gets about a tenth of the codes
            // (1,000 ± 30 expected).
            let mut tenths = [0u32; 10];
            for &code in &codes {
                tenths[(code / (n / 10 + 1)) as usize] += 1;
            }
            assert!(
                tenths.iter().all(|&t| (800..1_200).contains(&t)),
                "seed {seed}: {tenths:?}"
            );
        }
    }

    #[test]
    fn another_secret_gives_other_codes() {
        let a = codec(6, 1).encode(42).expect("in range");
        let b = codec(6, 2).encode(42).expect("in range");
        assert_ne!(a, b);
    }

    #[test]
    fn ids_past_the_code_space_are_refused() {
        let c = codec(4, 1);
        assert_eq!(
            c.encode(c.capacity()),
            Err(CodeSpaceExhausted(c.capacity()))
        );
    }

    #[test]
    fn decode_rejects_foreign_text() {
        let c = codec(6, 1);
        assert_eq!(c.decode("abc"), None);
        assert_eq!(c.decode("abc-ef"), None);
    }

    #[test]
    fn aliases_follow_the_rules() {
        assert!(Slug::parse_alias("my-link_2").is_ok());
        assert!(Slug::parse_alias(&"a".repeat(64)).is_ok());
        assert_eq!(Slug::parse_alias(""), Err(AliasError::Invalid));
        assert_eq!(Slug::parse_alias(&"a".repeat(65)), Err(AliasError::Invalid));
        for bad in ["a b", "a/b", "a+", "é", "a.b", "a%20"] {
            assert_eq!(Slug::parse_alias(bad), Err(AliasError::Invalid), "{bad}");
        }
        for reserved in ["api", "API", "Healthz", "well-known", "rest"] {
            assert_eq!(
                Slug::parse_alias(reserved),
                Err(AliasError::Reserved),
                "{reserved}"
            );
        }
    }

    #[test]
    fn keywords_match_case_insensitively_as_substrings() {
        let p = KeywordPolicy::new(&["Spam".into()], &["promo".into()]);
        assert_eq!(p.judge("mySPAMlink"), KeywordVerdict::Blocked);
        assert_eq!(p.judge("PromoCode"), KeywordVerdict::NeedsReview);
        assert_eq!(p.judge("hello"), KeywordVerdict::Clean);
    }

    proptest! {
        #[test]
        fn encode_decode_round_trips(len in MIN_CODE_LEN..=MAX_CODE_LEN, seed: u8, frac in 0.0f64..1.0) {
            let c = codec(len, seed);
            let id = ((c.capacity() - 1) as f64 * frac) as u64;
            let code = c.encode(id).expect("in range");
            prop_assert_eq!(code.len(), len);
            prop_assert_eq!(c.decode(&code), Some(id));
        }

        #[test]
        fn no_two_ids_give_one_slug(seed: u8, a in 0u64..56_800_235_584, b in 0u64..56_800_235_584) {
            prop_assume!(a != b);
            let c = codec(6, seed);
            prop_assert_ne!(c.encode(a).expect("in range"), c.encode(b).expect("in range"));
        }

        #[test]
        fn permutation_inverts(len in MIN_CODE_LEN..=MAX_CODE_LEN, seed: u8, frac in 0.0f64..1.0) {
            let c = codec(len, seed);
            let x = ((c.capacity() - 1) as f64 * frac) as u64;
            let y = c.permute(x);
            prop_assert!(y < c.capacity());
            prop_assert_eq!(c.unpermute(y), x);
        }
    }
}
