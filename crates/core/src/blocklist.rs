//! Blocked target hosts: the list, its text format and its matching
//! (ADR 0020).
//!
//! [`parse`] reads one entry a line, or hosts-file lines (`0.0.0.0 a b`),
//! with `#` comments, blank lines and CRLF endings. Domains are normalised
//! as every configured domain is ([`normalise_domain`]: IDN to punycode,
//! lower case, no trailing dot), so an entry matches every spelling of its
//! host. IP literals (`203.0.113.7`, `2001:db8::1`) block that address.
//! A line that is neither is skipped and counted: one typo in a feed of
//! 100,000 entries must not throw away the other 99,999 (nor keep a stale
//! list), and the count with the first line numbers tells the operator
//! where to look.
//!
//! [`Blocklist::blocks_host`] looks the host and each of its parent domains
//! up in a hash set: O(labels), whatever the size of the list. Pure: no
//! files, no I/O; [`SharedBlocklist`] is how a running service swaps in a
//! reloaded list.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};

use crate::target::normalise_domain;

/// How many bad line numbers a [`ParseReport`] keeps.
pub const BAD_LINES_KEPT: usize = 5;

/// Longest token read as an entry: a domain name is at most 253 bytes in
/// punycode; its Unicode spelling may be a few times that. Longer tokens
/// are bad lines, not work for the IDNA code.
const MAX_TOKEN_LEN: usize = 1024;

/// Names hosts files carry for the machine itself (`127.0.0.1 localhost`,
/// `::1 ip6-localhost`): skipped without counting as bad, since every
/// published hosts-format feed starts with them and blocking them is moot
/// (loopback targets are refused anyway).
const HOSTS_BOILERPLATE: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
    "0.0.0.0",
];

/// A set of blocked domains (each with its subdomains) and addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blocklist {
    domains: HashSet<String>,
    ips: HashSet<IpAddr>,
}

/// What [`parse`] skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseReport {
    /// Lines with something that is neither a domain nor an address.
    pub bad_lines: usize,
    /// The first [`BAD_LINES_KEPT`] of them, 1-based.
    pub first_bad: Vec<usize>,
}

/// Reads a blocklist; never fails and never panics: bad lines are skipped
/// and reported.
pub fn parse(text: &str) -> (Blocklist, ParseReport) {
    let mut list = Blocklist::default();
    let mut report = ParseReport::default();
    // Editors on Windows may start the file with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (index, line) in text.lines().enumerate() {
        if !list.add_line(line) {
            report.bad_lines += 1;
            if report.first_bad.len() < BAD_LINES_KEPT {
                report.first_bad.push(index + 1);
            }
        }
    }
    (list, report)
}

/// One entry: a domain in compared form, or an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entry {
    Domain(String),
    Ip(IpAddr),
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Domain(d) => f.write_str(d),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// One token as an entry: an address (bare, or IPv6 in brackets), or a
/// domain; a leading `*.` is dropped, since subdomains match anyway.
pub fn entry(token: &str) -> Option<Entry> {
    let token = token.trim();
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let bare = token
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(token);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(Entry::Ip(ip));
    }
    let token = token.strip_prefix("*.").unwrap_or(token);
    normalise_domain(token).map(Entry::Domain)
}

impl Blocklist {
    /// A list of the given entries; `None` for the first that is not one.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, &'a str> {
        let mut list = Self::default();
        for text in entries {
            list.insert(entry(text).ok_or(text)?);
        }
        Ok(list)
    }

    pub fn insert(&mut self, entry: Entry) {
        match entry {
            Entry::Domain(d) => {
                self.domains.insert(d);
            }
            Entry::Ip(ip) => {
                self.ips.insert(ip);
            }
        }
    }

    /// Adds the entries of `other` (the configured list to the file's).
    pub fn merge(&mut self, other: &Self) {
        self.domains.extend(other.domains.iter().cloned());
        self.ips.extend(other.ips.iter().copied());
    }

    pub fn len(&self) -> usize {
        self.domains.len() + self.ips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry, sorted (domains by name, then addresses): the form a
    /// blocklist file is written in.
    pub fn entries(&self) -> Vec<Entry> {
        let mut out: Vec<Entry> = self
            .domains
            .iter()
            .cloned()
            .map(Entry::Domain)
            .chain(self.ips.iter().copied().map(Entry::Ip))
            .collect();
        out.sort();
        out
    }

    /// `false` when the line holds something that is not an entry.
    fn add_line(&mut self, line: &str) -> bool {
        let line = line.split('#').next().unwrap_or("");
        let mut tokens = line.split_whitespace();
        let Some(first) = tokens.next() else {
            return true;
        };
        let names: Vec<&str> = tokens.collect();
        if names.is_empty() {
            return match entry(first) {
                Some(e) => {
                    self.insert(e);
                    true
                }
                None => false,
            };
        }
        // Hosts format: an address, then the names that resolve to it. The
        // address is where the feed sends them (0.0.0.0), not an entry.
        if first.parse::<IpAddr>().is_err() {
            return false;
        }
        let mut good = true;
        for name in names {
            if HOSTS_BOILERPLATE
                .iter()
                .any(|b| b.eq_ignore_ascii_case(name))
            {
                continue;
            }
            match entry(name) {
                Some(Entry::Domain(d)) => {
                    self.domains.insert(d);
                }
                _ => good = false,
            }
        }
        good
    }

    /// Whether a target host (as a parsed URL gives it: punycode, lower
    /// case) is blocked: it, or a domain it is below, is an entry.
    pub fn blocks_host(&self, host: &str) -> bool {
        if self.domains.is_empty() {
            return false;
        }
        let mut rest = host.strip_suffix('.').unwrap_or(host);
        loop {
            if self.domains.contains(rest) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => rest = parent,
                _ => return false,
            }
        }
    }

    pub fn blocks_ip(&self, ip: IpAddr) -> bool {
        self.ips.contains(&ip)
    }

    /// Whether a stored target URL's host is blocked; `false` for text
    /// that does not parse (nothing to judge).
    pub fn blocks_url(&self, url: &str) -> bool {
        match url::Url::parse(url).ok().as_ref().and_then(url::Url::host) {
            Some(url::Host::Domain(d)) => self.blocks_host(d),
            Some(url::Host::Ipv4(ip)) => self.blocks_ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.blocks_ip(IpAddr::V6(ip)),
            None => false,
        }
    }
}

/// The list in force, swapped whole on reload. Readers clone the `Arc`
/// under a read lock held for no more than that, so a reload (a write
/// lock for one pointer swap) never waits on a check, and a check never
/// sees half a list.
#[derive(Debug, Clone, Default)]
pub struct SharedBlocklist(Arc<RwLock<Arc<Blocklist>>>);

impl SharedBlocklist {
    pub fn new(list: Blocklist) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(list))))
    }

    pub fn current(&self) -> Arc<Blocklist> {
        // A panic elsewhere cannot leave a pointer half-written: the
        // poisoned value is still a whole list.
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn replace(&self, list: Blocklist) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(list);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(text: &str) -> Blocklist {
        let (list, report) = parse(text);
        assert_eq!(report, ParseReport::default(), "{text:?}");
        list
    }

    /// Found by the `blocklist` fuzz target: `*.*.w` kept `*.w` as a
    /// domain, which the written file then read back as `w`.
    #[test]
    fn a_wildcard_left_inside_a_name_is_a_bad_line_not_an_entry() {
        for text in ["*.*.w", "a*b.example", "ex!ample.com", "$.example"] {
            let (list, report) = parse(text);
            assert!(list.is_empty(), "{text:?}: {list:?}");
            assert_eq!(report.bad_lines, 1, "{text:?}");
        }
        assert_eq!(
            list("*.wild.example\n_dmarc.example\n"),
            list("wild.example\n_dmarc.example\n")
        );
    }

    #[test]
    fn hosts_files_give_their_names_and_skip_their_boilerplate() {
        let l = list(
            "# StevenBlack-style header\r\n\
             127.0.0.1 localhost\r\n\
             ::1 ip6-localhost ip6-loopback\r\n\
             0.0.0.0 0.0.0.0\r\n\
             0.0.0.0 evil.example   # trailing comment\r\n\
             127.0.0.1\ta.example b.example\tc.example\r\n",
        );
        assert_eq!(
            l.entries(),
            ["a.example", "b.example", "c.example", "evil.example"]
                .map(|d| Entry::Domain(d.into()))
        );
    }

    #[test]
    fn subdomains_match_and_neighbours_do_not() {
        let l = list("evil.example\n");
        assert!(l.blocks_host("evil.example"));
        assert!(l.blocks_host("www.evil.example"));
        assert!(l.blocks_host("a.b.c.evil.example"));
        assert!(l.blocks_host("evil.example."));
        assert!(!l.blocks_host("notevil.example"));
        assert!(!l.blocks_host("example"));
        assert!(!l.blocks_host("evil.example.com"));
    }

    #[test]
    fn case_trailing_dots_and_idn_spellings_are_one_entry() {
        let l = list("B\u{fc}cher.DE.\nxn--bcher-kva.de\n*.Shop.Example\n");
        assert_eq!(l.len(), 2);
        assert!(l.blocks_url("https://shop.xn--bcher-kva.de/x"));
        assert!(l.blocks_url("https://shop.example/"));
        assert!(l.blocks_url("https://a.shop.example/"));
        assert!(!l.blocks_url("https://buecher.de/"));
    }

    #[test]
    fn addresses_block_themselves_only() {
        let l = list("203.0.113.7\n[2001:db8::1]\n2001:db8::2\n");
        assert!(l.blocks_url("http://203.0.113.7:8080/mozi.m"));
        assert!(l.blocks_url("http://[2001:db8::1]/"));
        assert!(l.blocks_url("http://[2001:db8:0::2]/"));
        assert!(!l.blocks_url("http://203.0.113.8/"));
        assert!(!l.blocks_host("203.0.113.7.example"));
    }

    #[test]
    fn bad_lines_are_skipped_counted_and_located() {
        let text = "good.example\nhttp://x.example/\nnot a hosts line\n\n\
                    0.0.0.0 fine.example bad..example\na..b\n\u{0}\n_/_\nok.example\n";
        let (l, report) = parse(text);
        assert_eq!(l.len(), 3, "{:?}", l.entries());
        assert!(l.blocks_host("fine.example"));
        assert_eq!(report.bad_lines, 6);
        assert_eq!(report.first_bad, vec![2, 3, 5, 6, 7]);
    }

    #[test]
    fn empty_and_comment_only_text_is_an_empty_list() {
        for text in ["", "\n\n", "# only\r\n   # comments\n", "\u{feff}"] {
            let (l, r) = parse(text);
            assert!(l.is_empty(), "{text:?}");
            assert_eq!(r.bad_lines, 0, "{text:?}");
        }
    }

    #[test]
    fn an_empty_list_blocks_nothing() {
        let l = Blocklist::default();
        assert!(!l.blocks_host("example.com"));
        assert!(!l.blocks_url("not a url"));
    }

    #[test]
    fn the_shared_list_swaps_whole() {
        let shared = SharedBlocklist::default();
        let before = shared.current();
        shared.replace(list("evil.example"));
        assert!(!before.blocks_host("evil.example"));
        assert!(shared.current().blocks_host("evil.example"));
    }

    #[test]
    fn a_long_feed_is_matched_by_lookups_not_scans() {
        let text: String = (0..200_000).map(|i| format!("d{i}.example\n")).collect();
        let l = list(&text);
        let started = std::time::Instant::now();
        for i in 0..100_000 {
            assert!(!l.blocks_host(&format!("www.e{i}.example")));
        }
        // 100,000 lookups against a linear scan of 200,000 entries would
        // take minutes; hash lookups take milliseconds.
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(l.blocks_host("a.d199999.example"));
    }

    proptest! {
        #[test]
        fn any_text_parses_without_panicking(text in "\\PC{0,200}") {
            let (l, r) = parse(&text);
            prop_assert!(r.first_bad.len() <= BAD_LINES_KEPT);
            prop_assert!(r.bad_lines <= text.lines().count());
            for e in l.entries() {
                let again = entry(&e.to_string());
                prop_assert_eq!(again, Some(e));
            }
        }

        #[test]
        fn any_bytes_parse_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }
    }
}
