//! Target-URL validation over arbitrary text: besides not panicking, an
//! accepted URL is ASCII, fits the policy's length, and is a fixed point
//! (parsing the stored form again gives it back unchanged), since the stored
//! form is what later PATCHes, imports and exports feed back in.

#![no_main]

use std::sync::OnceLock;

use kurz_core::blocklist::{self, SharedBlocklist};
use kurz_core::target::{TargetUrl, UrlPolicy};
use libfuzzer_sys::fuzz_target;

fn policies() -> &'static [UrlPolicy] {
    static POLICIES: OnceLock<Vec<UrlPolicy>> = OnceLock::new();
    POLICIES.get_or_init(|| {
        vec![
            UrlPolicy::default(),
            UrlPolicy {
                allow_private: true,
                ..UrlPolicy::default()
            },
            // A short limit, so the length check after normalisation (which
            // can grow the URL: punycode, percent-encoding) is reached often.
            UrlPolicy {
                max_len: 40,
                blocklist: SharedBlocklist::new(
                    blocklist::parse("evil.example\nxn--bcher-kva.de\n192.0.2.1\n").0,
                ),
                own_hosts: vec!["sho.rt".into(), "[::1]".into()],
                ..UrlPolicy::default()
            },
        ]
    })
}

fuzz_target!(|input: &str| {
    for policy in policies() {
        let Ok(url) = TargetUrl::parse(input, policy) else {
            continue;
        };
        let out = url.as_str();
        assert!(
            out.is_ascii(),
            "{input:?} was accepted as non-ASCII {out:?}"
        );
        assert!(
            out.len() <= policy.max_len,
            "{input:?} was accepted as {out:?}, longer than {}",
            policy.max_len
        );
        match TargetUrl::parse(out, policy) {
            Ok(again) => assert_eq!(again.as_str(), out, "{input:?} is not a fixed point"),
            Err(e) => panic!("{input:?} was accepted as {out:?}, which is then refused: {e:?}"),
        }
    }
});
