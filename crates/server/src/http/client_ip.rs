//! Who the client is: the socket's peer, or, when the peer is a proxy the
//! operator trusts (`--trusted-proxies`), the address the proxies say they
//! were called from (`X-Forwarded-For`, or `Forwarded: for=` when
//! `trusted_proxies_header = "forwarded"`).
//!
//! The forwarding header is read from the right: each trusted proxy
//! appends the address it was called from, so the rightmost address that
//! is not a trusted proxy is the first one no proxy of ours vouches for:
//! the client. Everything to its left came from the client and may be
//! made up (ADR 0016). From a peer that is not trusted the headers are
//! ignored, so spoofing them changes nothing.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};

/// The client address of a request, as the edge resolved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The header the trusted proxies write. Only that one is read: a proxy
/// that appends to `X-Forwarded-For` passes a client's own `Forwarded`
/// through untouched, so reading the other header would believe the
/// client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProxyHeader {
    #[default]
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=...`.
    #[serde(rename = "forwarded")]
    Forwarded,
}

impl ProxyHeader {
    fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }

    /// The address of one comma-separated element; `None` when it names
    /// none (`unknown`, an obfuscated name, a `Forwarded` element without
    /// `for=`, garbage).
    fn hop(self, element: &str) -> Option<IpAddr> {
        match self {
            Self::XForwardedFor => address(element),
            Self::Forwarded => element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                if name.eq_ignore_ascii_case("for") {
                    address(value)
                } else {
                    None
                }
            }),
        }
    }
}

/// Most hops read from the right: enough for any chain of proxies, and a
/// head full of commas costs no more than this.
const MAX_HOPS: usize = 32;

/// The networks whose forwarding header is believed, and which header.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ProxyHeader,
}

impl TrustedProxies {
    /// Parses CIDRs (`10.0.0.0/8`) and single addresses (`192.0.2.1`),
    /// skipping empty entries (`a,,b`, an empty variable); the error names
    /// the entry that is neither.
    pub fn parse(entries: &[String], header: ProxyHeader) -> Result<Self, String> {
        let nets = entries
            .iter()
            .filter(|e| !e.trim().is_empty())
            .map(|e| {
                let e = e.trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map(canonical_net)
                    .map_err(|_| format!("`{e}` is not an IP address or CIDR"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { nets, header })
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that came from `peer`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if self.nets.is_empty() || !self.trusts(peer) {
            return peer;
        }
        // Rightmost first, without collecting: every line of the header,
        // last line first, each split on commas as bytes (one odd byte
        // spoils only its own element). A hop that names no address ends
        // the walk: past it nothing can be told apart, so the last proxy
        // that could be read is the client.
        let elements = headers
            .get_all(self.header.name())
            .iter()
            .rev()
            .flat_map(|line| line.as_bytes().rsplit(|&b| b == b','))
            .take(MAX_HOPS);
        let mut client = peer;
        for element in elements {
            let hop = std::str::from_utf8(element)
                .ok()
                .and_then(|text| self.header.hop(text));
            match hop {
                Some(ip) if self.trusts(ip) => client = ip,
                Some(ip) => return ip,
                None => return client,
            }
        }
        client
    }
}

/// `192.0.2.1`, `"192.0.2.1:8080"`, `"[2001:db8::1]:443"`, `2001:db8::1`.
fn address(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sock) = text.parse::<SocketAddr>() {
        return Some(canonical(sock.ip()));
    }
    let inner = text.strip_prefix('[')?.split(']').next()?;
    inner.parse::<IpAddr>().ok().map(canonical)
}

/// IPv4 clients of a dual-stack socket arrive as `::ffff:a.b.c.d`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// `::ffff:10.0.0.0/104` is `10.0.0.0/8`: addresses are compared in their
/// IPv4 form.
fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => v6
            .addr()
            .to_ipv4_mapped()
            .and_then(|v4| Ipv4Net::new(v4, v6.prefix_len() - 96).ok())
            .map_or(net, IpNet::V4),
        _ => net,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for &(name, value) in pairs {
            h.append(name, HeaderValue::from_static(value));
        }
        h
    }

    fn proxies_reading(list: &[&str], header: ProxyHeader) -> TrustedProxies {
        let list: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
        TrustedProxies::parse(&list, header).expect("valid")
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        proxies_reading(list, ProxyHeader::XForwardedFor)
    }

    #[test]
    fn without_trusted_proxies_the_headers_change_nothing() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9"),
        ]);
        assert_eq!(
            TrustedProxies::default().client_ip(ip("198.51.100.7"), &h),
            ip("198.51.100.7")
        );
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client_ip(ip("198.51.100.7"), &h),
            ip("198.51.100.7"),
            "a peer outside the trusted networks is the client, whatever it says"
        );
    }

    #[test]
    fn the_rightmost_address_no_trusted_proxy_vouches_for_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.1"]);
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.1.2.3")]);
        assert_eq!(
            trusted.client_ip(ip("192.0.2.1"), &h),
            ip("203.0.113.9"),
            "1.1.1.1 came from the client and may be made up"
        );
        let split = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.9, 10.1.2.3"),
        ]);
        assert_eq!(trusted.client_ip(ip("10.0.0.1"), &split), ip("203.0.113.9"));
        let all_ours = headers(&[("x-forwarded-for", "10.9.9.9, 10.1.2.3")]);
        assert_eq!(trusted.client_ip(ip("10.0.0.1"), &all_ours), ip("10.9.9.9"));
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1"),
            "no header: the proxy itself"
        );
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let h = headers(&[
            ("forwarded", "for=1.1.1.1"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client_ip(ip("10.0.0.1"), &h),
            ip("203.0.113.9"),
            "a Forwarded the proxy passed through is the client's own"
        );
        let forwarded = proxies_reading(&["10.0.0.0/8"], ProxyHeader::Forwarded);
        assert_eq!(forwarded.client_ip(ip("10.0.0.1"), &h), ip("1.1.1.1"));
    }

    #[test]
    fn forwarded_elements_with_quotes_ports_brackets_and_without_for() {
        let trusted = proxies_reading(&["10.0.0.0/8"], ProxyHeader::Forwarded);
        let h = headers(&[
            (
                "forwarded",
                "for=1.1.1.1, for=\"[2001:db8:cafe::17]:4711\";proto=https",
            ),
            ("forwarded", "For=\"10.0.0.5:80\""),
        ]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), &h),
            ip("2001:db8:cafe::17")
        );
        let no_for = headers(&[("forwarded", "for=1.1.1.1, proto=https")]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), &no_for),
            ip("10.0.0.1"),
            "an element without for= names no one: the walk stops at the proxy"
        );
        let v4_port = headers(&[("x-forwarded-for", "203.0.113.9:5555")]);
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client_ip(ip("10.0.0.1"), &v4_port),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn an_odd_byte_spoils_only_its_own_element_and_long_chains_are_cut() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff\xfe, 203.0.113.9").expect("obs-text is allowed"),
        );
        assert_eq!(trusted.client_ip(ip("10.0.0.1"), &h), ip("203.0.113.9"));
        let long = format!("203.0.113.9{}", ", 10.0.0.7".repeat(100));
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_str(&long).expect("ascii"),
        );
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), &h),
            ip("10.0.0.7"),
            "past 32 hops of our own proxies, the last one read stands"
        );
    }

    #[test]
    fn an_unreadable_hop_ends_the_walk_at_the_last_proxy_that_could_be_read() {
        let trusted = proxies_reading(&["10.0.0.0/8"], ProxyHeader::Forwarded);
        let h = headers(&[("forwarded", "for=203.0.113.9, for=unknown, for=10.1.1.1")]);
        assert_eq!(trusted.client_ip(ip("10.0.0.1"), &h), ip("10.1.1.1"));
        let garbage = headers(&[("x-forwarded-for", "203.0.113.9, not-an-ip")]);
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client_ip(ip("10.0.0.1"), &garbage),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_networks_and_bad_entries_are_named() {
        let trusted = proxies(&["127.0.0.1"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            trusted.client_ip(ip("::ffff:127.0.0.1"), &h),
            ip("203.0.113.9")
        );
        let mapped_net = proxies(&["::ffff:10.0.0.0/104"]);
        assert_eq!(mapped_net.client_ip(ip("10.1.2.3"), &h), ip("203.0.113.9"));
        assert_eq!(
            TrustedProxies::default().client_ip(ip("::ffff:198.51.100.7"), &h),
            ip("198.51.100.7"),
            "the peer, too, in its IPv4 form"
        );
        let blanks = ["".to_owned(), " 10.0.0.0/8 ".to_owned(), "".to_owned()];
        assert!(TrustedProxies::parse(&blanks, ProxyHeader::XForwardedFor)
            .expect("empty entries are skipped")
            .trusts(ip("10.1.1.1")));
        let err = TrustedProxies::parse(
            &["10.0.0.0/8".into(), "proxy.local".into()],
            ProxyHeader::XForwardedFor,
        )
        .expect_err("a name is not an address");
        assert!(err.contains("proxy.local"), "{err}");
    }
}
