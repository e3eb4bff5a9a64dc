//! Target URLs: what a short link points at.
//!
//! [`TargetUrl::parse`] is the only way to make one. It refuses, before any
//! parsing, everything a lenient (WHATWG) parser would quietly repair — control
//! characters, whitespace, invisible and bidi characters, backslashes, missing
//! slashes — because a repaired URL is not what the user saw. It then parses,
//! and checks scheme, credentials, host and port against a [`UrlPolicy`]. The
//! stored form is the parser's serialisation: IDN hosts in punycode, non-ASCII
//! path and query percent-encoded, so a `Location` header is always ASCII.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::blocklist::SharedBlocklist;

/// The default longest target, in bytes.
pub const DEFAULT_MAX_URL_LEN: usize = 8192;

/// Why a target URL was refused; each variant has its own API error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("url is required")]
    Missing,
    #[error("only http and https URLs can be shortened")]
    Scheme,
    #[error("the URL is longer than {0} bytes")]
    TooLong(usize),
    #[error("the URL is malformed: {0}")]
    Malformed(&'static str),
    #[error("the target domain is blocked on this service")]
    Blocked,
    #[error("the target is a loopback, private or link-local address")]
    Private,
    #[error("the target is this service itself")]
    SelfReference,
    /// A host made to look like another (`homograph`); refused as a
    /// blocked domain is.
    #[error("the target host imitates another name: {0}")]
    Lookalike(String),
}

/// What the instance accepts as a target. Built once from configuration.
#[derive(Debug, Clone)]
pub struct UrlPolicy {
    pub max_len: usize,
    /// Allow loopback, private-network and link-local targets (and intranet
    /// names). Off on the open internet: such links turn the service into a
    /// pointer into its own network.
    pub allow_private: bool,
    /// Blocked domains (a host equal to one or below one is refused) and
    /// addresses; swapped whole when the blocklist file is reloaded.
    pub blocklist: SharedBlocklist,
    /// The service's own host names; links to them would loop.
    pub own_hosts: Vec<String>,
}

impl Default for UrlPolicy {
    fn default() -> Self {
        Self {
            max_len: DEFAULT_MAX_URL_LEN,
            allow_private: false,
            blocklist: SharedBlocklist::default(),
            own_hosts: Vec::new(),
        }
    }
}

/// A configured domain (blocklist, own host) in the form hosts are compared
/// in: IDNA to punycode, lower case, no trailing dot. `bücher.de` and
/// `xn--bcher-kva.de` give the same entry, so a list matches the target in
/// every spelling. `None` for text that is not a domain name.
pub fn normalise_domain(entry: &str) -> Option<String> {
    let entry = entry.trim().trim_end_matches('.');
    if entry.is_empty() || entry.contains(['/', ':', '@']) {
        return None;
    }
    match Host::parse(entry).ok()? {
        // The URL standard lets `*`, `!`, `$` and more through in a host;
        // no name that resolves has them, and a `*` would read as a
        // wildcard in a blocklist (found by fuzzing the blocklist parser).
        Host::Domain(d)
            if !d.split('.').any(str::is_empty)
                && d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) =>
        {
            Some(d.to_ascii_lowercase())
        }
        _ => None,
    }
}

/// A checked, normalised absolute http(s) URL, ASCII only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl(String);

impl TargetUrl {
    pub fn parse(input: &str, policy: &UrlPolicy) -> Result<Self, UrlError> {
        if input.is_empty() {
            return Err(UrlError::Missing);
        }
        if input.len() > policy.max_len {
            return Err(UrlError::TooLong(policy.max_len));
        }
        reject_repairable(input)?;
        check_scheme_prefix(input)?;

        let url = Url::parse(input).map_err(|_| UrlError::Malformed("it cannot be parsed"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::Malformed("credentials are not allowed in a URL"));
        }
        if url.port() == Some(0) {
            return Err(UrlError::Malformed("port 0 is not a valid port"));
        }
        match url.host() {
            None => return Err(UrlError::Malformed("the URL has no host")),
            Some(Host::Domain(domain)) => check_domain(domain, policy)?,
            Some(Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip), policy)?,
            Some(Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip), policy)?,
        }

        let out = String::from(url);
        if out.len() > policy.max_len {
            return Err(UrlError::TooLong(policy.max_len));
        }
        if !out.is_ascii() {
            return Err(UrlError::Malformed("it cannot be written in ASCII"));
        }
        Ok(Self(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl AsRef<str> for TargetUrl {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Characters that change meaning invisibly or that a parser would drop or
/// rewrite: controls, any Unicode whitespace, zero-width and bidi formatting
/// characters, and the backslash that WHATWG turns into a slash.
fn reject_repairable(input: &str) -> Result<(), UrlError> {
    for c in input.chars() {
        if c.is_control() {
            return Err(UrlError::Malformed("it contains control characters"));
        }
        if c.is_whitespace() {
            return Err(UrlError::Malformed("it contains whitespace"));
        }
        if is_invisible(c) {
            return Err(UrlError::Malformed(
                "it contains invisible or bidirectional formatting characters",
            ));
        }
        if c == '\\' {
            return Err(UrlError::Malformed("it contains a backslash"));
        }
    }
    Ok(())
}

fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFF8}'
        | '\u{E0000}'..='\u{E0FFF}')
}

/// The scheme must be http or https, spelled out with `://` and followed by a
/// host: `http:example.com` and `http:///example.com` are parsed by browsers
/// but are not what anyone meant to type.
fn check_scheme_prefix(input: &str) -> Result<(), UrlError> {
    let Some((scheme, rest)) = input.split_once(':') else {
        return Err(UrlError::Malformed(
            "it is not absolute: it must start with http:// or https://",
        ));
    };
    let well_formed = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !well_formed {
        return Err(UrlError::Malformed(
            "it is not absolute: it must start with http:// or https://",
        ));
    }
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(UrlError::Scheme);
    }
    match rest.strip_prefix("//") {
        Some(after) if !after.starts_with('/') && !after.is_empty() => Ok(()),
        _ => Err(UrlError::Malformed(
            "it must have the form scheme://host/...",
        )),
    }
}

fn check_domain(domain: &str, policy: &UrlPolicy) -> Result<(), UrlError> {
    let host = domain.strip_suffix('.').unwrap_or(domain);
    if host.is_empty() || host.split('.').any(str::is_empty) {
        return Err(UrlError::Malformed("the host name has an empty label"));
    }
    if !policy.allow_private && is_internal_name(host) {
        return Err(UrlError::Private);
    }
    if policy.blocklist.current().blocks_host(host) {
        return Err(UrlError::Blocked);
    }
    if policy.own_hosts.iter().any(|own| own == host) {
        return Err(UrlError::SelfReference);
    }
    Ok(())
}

/// Names that only resolve inside a network: `localhost`, single labels
/// (`http://intranet/`) and the special-use suffixes for local networks.
fn is_internal_name(host: &str) -> bool {
    const SUFFIXES: &[&str] = &["localhost", "local", "internal", "home.arpa", "lan"];
    !host.contains('.')
        || SUFFIXES
            .iter()
            .any(|s| host == *s || host.strip_suffix(s).is_some_and(|p| p.ends_with('.')))
}

fn check_ip(ip: IpAddr, policy: &UrlPolicy) -> Result<(), UrlError> {
    if !policy.allow_private && !is_public(ip) {
        return Err(UrlError::Private);
    }
    if policy.blocklist.current().blocks_ip(ip) {
        return Err(UrlError::Blocked);
    }
    let text = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    if policy.own_hosts.contains(&text) {
        return Err(UrlError::SelfReference);
    }
    Ok(())
}

/// True for addresses reachable on the public internet. IPv6 forms that embed
/// an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by that
/// address, so `[::ffff:127.0.0.1]` is as private as `127.0.0.1`.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                   // "this network"
        || a == 10                             // private
        || a == 127                            // loopback
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 169 && b == 254)              // link-local
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0)      // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)      // documentation
        || (a == 192 && b == 88 && c == 99)    // 6to4 relay
        || (a == 192 && b == 168)              // private
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100)   // documentation
        || (a == 203 && b == 0 && c == 113)    // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // IPv4-compatible (deprecated) ::a.b.c.d, which also covers :: and ::1.
    if s[..6].iter().all(|&x| x == 0) {
        return s[6] != 0 && is_public_v4(embedded_v4(s[6], s[7]));
    }
    // NAT64 well-known prefix 64:ff9b::/96 and local-use 64:ff9b:1::/48.
    if s[0] == 0x64 && s[1] == 0xff9b {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    // 6to4: 2002:AABB:CCDD::/48 carries AA.BB.CC.DD.
    if s[0] == 0x2002 {
        return is_public_v4(embedded_v4(s[1], s[2]));
    }
    !((s[0] & 0xfe00) == 0xfc00       // unique local
        || (s[0] & 0xffc0) == 0xfe80  // link-local
        || (s[0] & 0xffc0) == 0xfec0  // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00  // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0)      // Teredo
        || s[0] == 0x0100) // discard-only
}

fn embedded_v4(hi: u16, lo: u16) -> Ipv4Addr {
    let [a, b] = hi.to_be_bytes();
    let [c, d] = lo.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> UrlPolicy {
        UrlPolicy {
            blocklist: blocked(&["evil.example"]),
            own_hosts: vec!["sho.rt".into()],
            ..UrlPolicy::default()
        }
    }

    fn blocked(entries: &[&str]) -> SharedBlocklist {
        SharedBlocklist::new(
            crate::blocklist::Blocklist::from_entries(entries.iter().copied()).expect("entries"),
        )
    }

    fn check(input: &str) -> Result<String, UrlError> {
        TargetUrl::parse(input, &policy()).map(TargetUrl::into_string)
    }

    #[test]
    fn idn_blocklist_entries_match_every_spelling_of_the_target() {
        let entry = normalise_domain(" B\u{fc}cher.DE. ").expect("a domain");
        assert_eq!(entry, "xn--bcher-kva.de");
        assert_eq!(
            normalise_domain("xn--bcher-kva.de").as_deref(),
            Some("xn--bcher-kva.de")
        );
        let policy = UrlPolicy {
            blocklist: blocked(&[&entry]),
            ..UrlPolicy::default()
        };
        for target in [
            "https://b\u{fc}cher.de/",
            "https://B\u{dc}CHER.de/x",
            "https://xn--bcher-kva.de/",
            "https://shop.b\u{fc}cher.de/",
        ] {
            assert_eq!(
                TargetUrl::parse(target, &policy),
                Err(UrlError::Blocked),
                "{target}"
            );
        }
        assert!(TargetUrl::parse("https://buecher.de/", &policy).is_ok());
        for bad in ["", "http://x.de", "a..b", "1.2.3.4", "[::1]", "a/b"] {
            assert_eq!(normalise_domain(bad), None, "{bad}");
        }
    }

    #[test]
    fn hostile_inputs_are_refused_with_their_own_error() {
        use UrlError::*;
        type Expect = fn(&UrlError) -> bool;
        let table: &[(&str, Expect)] = &[
            ("", |e| *e == Missing),
            ("ftp://example.com/", |e| *e == Scheme),
            ("javascript:alert(1)", |e| *e == Scheme),
            ("data:text/html,hi", |e| *e == Scheme),
            ("file:///etc/passwd", |e| *e == Scheme),
            ("example.com/path", |e| matches!(e, Malformed(_))),
            ("//example.com/", |e| matches!(e, Malformed(_))),
            ("http:example.com", |e| matches!(e, Malformed(_))),
            ("http:/example.com", |e| matches!(e, Malformed(_))),
            ("http:///example.com", |e| matches!(e, Malformed(_))),
            ("http://", |e| matches!(e, Malformed(_))),
            (" https://example.com", |e| matches!(e, Malformed(_))),
            ("https://example.com ", |e| matches!(e, Malformed(_))),
            ("https://exa mple.com", |e| matches!(e, Malformed(_))),
            ("https://example.com/\ta", |e| matches!(e, Malformed(_))),
            ("https://example.com/\r\nSet-Cookie:x", |e| {
                matches!(e, Malformed(_))
            }),
            ("https://example.com/\u{0}", |e| matches!(e, Malformed(_))),
            ("https://example.com/\u{85}", |e| matches!(e, Malformed(_))),
            ("https://example.com/\u{a0}", |e| matches!(e, Malformed(_))),
            ("https://exa\u{200b}mple.com/", |e| {
                matches!(e, Malformed(_))
            }),
            ("https://example.com/\u{202e}gpj.exe", |e| {
                matches!(e, Malformed(_))
            }),
            ("https://example.com/\u{feff}", |e| {
                matches!(e, Malformed(_))
            }),
            ("https://example.com\\@evil.com/", |e| {
                matches!(e, Malformed(_))
            }),
            ("https://user:pw@example.com/", |e| {
                matches!(e, Malformed(_))
            }),
            ("https://user@example.com/", |e| matches!(e, Malformed(_))),
            ("https://example.com:0/", |e| matches!(e, Malformed(_))),
            ("https://example.com:99999/", |e| matches!(e, Malformed(_))),
            ("https://exa<mple.com/", |e| matches!(e, Malformed(_))),
            ("https://a..b.com/", |e| matches!(e, Malformed(_))),
            ("http://localhost/", |e| *e == Private),
            ("http://LOCALHOST./", |e| *e == Private),
            ("http://app.localhost/", |e| *e == Private),
            ("http://printer.local/", |e| *e == Private),
            ("http://intranet/", |e| *e == Private),
            ("http://127.0.0.1/", |e| *e == Private),
            ("http://127.1/", |e| *e == Private),
            ("http://0x7f.0.0.1/", |e| *e == Private),
            ("http://0x7f000001/", |e| *e == Private),
            ("http://2130706433/", |e| *e == Private),
            ("http://017700000001/", |e| *e == Private),
            ("http://0/", |e| *e == Private),
            ("http://0.0.0.0/", |e| *e == Private),
            ("http://10.1.2.3/", |e| *e == Private),
            ("http://172.16.0.1/", |e| *e == Private),
            ("http://192.168.1.1/", |e| *e == Private),
            ("http://169.254.169.254/latest/meta-data", |e| *e == Private),
            ("http://100.64.0.1/", |e| *e == Private),
            ("http://[::1]/", |e| *e == Private),
            ("http://[::]/", |e| *e == Private),
            ("http://[::ffff:127.0.0.1]/", |e| *e == Private),
            ("http://[::ffff:7f00:1]/", |e| *e == Private),
            ("http://[::ffff:a9fe:a9fe]/", |e| *e == Private),
            ("http://[::127.0.0.1]/", |e| *e == Private),
            ("http://[64:ff9b::10.0.0.1]/", |e| *e == Private),
            ("http://[2002:c0a8:0101::1]/", |e| *e == Private),
            ("http://[fe80::1]/", |e| *e == Private),
            ("http://[fd00::1]/", |e| *e == Private),
            ("http://%6c%6fcalhost/", |e| *e == Private),
            ("https://evil.example/", |e| *e == Blocked),
            ("https://WWW.Evil.Example/x", |e| *e == Blocked),
            ("https://sho.rt/abc", |e| *e == SelfReference),
            ("https://SHO.RT:8443/abc", |e| *e == SelfReference),
        ];
        for (input, expect) in table {
            match check(input) {
                Ok(out) => panic!("{input:?} was accepted as {out:?}"),
                Err(e) => assert!(expect(&e), "{input:?} gave {e:?}"),
            }
        }
    }

    #[test]
    fn too_long_urls_are_refused() {
        let long = format!("https://example.com/{}", "a".repeat(DEFAULT_MAX_URL_LEN));
        assert_eq!(check(&long), Err(UrlError::TooLong(DEFAULT_MAX_URL_LEN)));
    }

    #[test]
    fn accepted_urls_are_normalised_to_ascii() {
        let cases = [
            ("https://example.com/a?b=c", "https://example.com/a?b=c"),
            ("HTTPS://Example.COM", "https://example.com/"),
            ("http://example.com:80/x", "http://example.com/x"),
            (
                "https://bücher.de/straße?q=ü",
                "https://xn--bcher-kva.de/stra%C3%9Fe?q=%C3%BC",
            ),
            ("https://example.com/#frag", "https://example.com/#frag"),
            ("https://8.8.8.8/", "https://8.8.8.8/"),
            ("https://[2606:4700::1111]/", "https://[2606:4700::1111]/"),
            ("https://not-evil.example/", "https://not-evil.example/"),
        ];
        for (input, want) in cases {
            assert_eq!(check(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn private_targets_pass_when_allowed() {
        let p = UrlPolicy {
            allow_private: true,
            ..UrlPolicy::default()
        };
        assert!(TargetUrl::parse("http://127.0.0.1:9000/x", &p).is_ok());
        assert!(TargetUrl::parse("http://localhost/", &p).is_ok());
    }

    fn canonical_url() -> impl Strategy<Value = String> {
        (
            prop::bool::ANY,
            "[a-z][a-z0-9-]{0,10}[a-z0-9]",
            prop::sample::select(vec!["com", "org", "de", "io"]),
            "(/[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,12}){1,4}",
            prop::option::of("[A-Za-z0-9._~!$&()*+,;=:@/?-]{0,20}"),
        )
            .prop_filter(
                "percent signs must start escapes",
                |(_, _, _, path, query)| {
                    !path.contains('%') && !query.as_deref().unwrap_or("").contains('%')
                },
            )
            .prop_filter(
                "dot segments are resolved by the parser",
                |(_, _, _, path, _)| !path.split('/').any(|seg| seg == "." || seg == ".."),
            )
            .prop_map(|(tls, label, tld, path, query)| {
                let scheme = if tls { "https" } else { "http" };
                let query = query.map(|q| format!("?{q}")).unwrap_or_default();
                format!("{scheme}://{label}.{tld}{path}{query}")
            })
    }

    /// `http(s)://` + IDN labels + a public suffix + a path and query that
    /// may hold non-ASCII letters.
    fn idn_url() -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            proptest::collection::vec("[a-z0-9äöüßéñ]{1,10}", 1..3),
            prop::sample::select(vec!["com", "org", "de", "io", "net", "ch"]),
            proptest::collection::vec("[a-zA-Z0-9äöüé._~-]{0,8}", 0..3),
            proptest::option::of("[a-z0-9=&äöü]{1,10}"),
        )
            .prop_map(|(tls, labels, tld, segments, query)| {
                let scheme = if tls { "https" } else { "http" };
                let path: String = segments.iter().map(|s| format!("/{s}")).collect();
                let query = query.map(|q| format!("?{q}")).unwrap_or_default();
                format!("{scheme}://{}.{tld}{path}{query}", labels.join("."))
            })
    }

    proptest! {
        #[test]
        fn canonical_urls_round_trip_byte_equal(input in canonical_url()) {
            let out = check(&input).expect("a canonical URL is accepted");
            prop_assert_eq!(out, input);
        }

        /// Valid URLs with IDN hosts and non-ASCII paths: every one is
        /// accepted, comes out ASCII, and is a fixed point.
        #[test]
        fn valid_urls_come_out_ascii_and_stable(input in idn_url()) {
            let out = check(&input);
            prop_assert!(out.is_ok(), "{} refused: {:?}", input, out);
            let out = out.unwrap_or_default();
            prop_assert!(out.is_ascii());
            prop_assert_eq!(check(&out), Ok(out));
        }

        /// Arbitrary text never panics, and whatever is accepted is ASCII
        /// and stable.
        #[test]
        fn any_text_is_refused_or_normalised_for_good(input in "https?://\\PC{0,40}") {
            if let Ok(out) = check(&input) {
                prop_assert!(out.is_ascii());
                prop_assert_eq!(check(&out), Ok(out));
            }
        }
    }
}
