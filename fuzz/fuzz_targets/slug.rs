//! Slug decoding over arbitrary text: a code that decodes is one the codec
//! gives out for that ID (decode and encode are inverse on the whole code
//! space, not only on the codes issued so far), aliases are accepted exactly
//! by their documented rules, and every ID within capacity round-trips.

#![no_main]

use kurz_core::slug::{
    is_reserved, AliasError, Slug, SlugCodec, SlugSecret, MAX_ALIAS_LEN, MAX_CODE_LEN, MIN_CODE_LEN,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks a secret and a length (out-of-range lengths are
    // clamped by the codec, and are exercised too); the next eight are an ID
    // for the round trip; the rest is the text to decode.
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let codec = SlugCodec::new(&SlugSecret::from_bytes([pick; 16]), usize::from(pick % 16));
    let (id, text) = match rest.split_first_chunk::<8>() {
        Some((id, text)) => (u64::from_le_bytes(*id), text),
        None => (0, rest),
    };

    let id = id % codec.capacity();
    let code = codec
        .encode(id)
        .unwrap_or_else(|e| panic!("{id} is within capacity {}: {e}", codec.capacity()));
    assert!((MIN_CODE_LEN..=MAX_CODE_LEN).contains(&code.len()));
    assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()), "{code:?}");
    assert_eq!(codec.decode(&code), Some(id), "{code:?}");

    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    if let Some(decoded) = codec.decode(text) {
        assert!(decoded < codec.capacity(), "{text:?} decoded past capacity");
        assert_eq!(
            codec.encode(decoded).as_deref(),
            Ok(text),
            "{text:?} decoded to {decoded}"
        );
    }

    let valid = !text.is_empty()
        && text.len() <= MAX_ALIAS_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match Slug::parse_alias(text) {
        Ok(slug) => {
            assert!(valid && !is_reserved(text), "{text:?} accepted");
            assert_eq!(slug.as_str(), text);
        }
        Err(AliasError::Reserved) => assert!(valid && is_reserved(text), "{text:?}"),
        Err(AliasError::Invalid) => assert!(!valid, "{text:?} refused"),
        Err(e @ AliasError::Blocked) => {
            panic!("{text:?}: keyword lists are not parse_alias's: {e}")
        }
    }
});
