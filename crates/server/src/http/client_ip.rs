//! Who the client is: the socket's peer, or, when the peer is a proxy the
//! operator trusts (`--trusted-proxies`), the address the proxies say they
//! were called from (`Forwarded: for=`, else `X-Forwarded-For`).
//!
//! The forwarding headers are read from the right: each trusted proxy
//! appends the address it was called from, so the rightmost address that
//! is not a trusted proxy is the first one no proxy of ours vouches for:
//! the client. Everything to its left came from the client and may be
//! made up (ADR 0016). From a peer that is not trusted the headers are
//! ignored, so spoofing them changes nothing.

use std::net::{IpAddr, SocketAddr};

use axum::http::{header, HeaderMap};
use ipnet::IpNet;

/// The client address of a request, as the edge resolved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The networks whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses CIDRs (`10.0.0.0/8`) and single addresses (`192.0.2.1`);
    /// the error names the entry that is neither.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|e| {
                let e = e.trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{e}` is not an IP address or CIDR"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&canonical(ip)))
    }

    /// The client of a request that came from `peer`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if self.0.is_empty() || !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        // Rightmost first. A hop that cannot be read (`unknown`, an
        // obfuscated name, garbage) ends the walk: past it, nothing can be
        // told apart, so the last proxy that could be is the client.
        for hop in forwarded_hops(headers).rev() {
            match hop {
                Some(ip) if self.trusts(ip) => client = ip,
                Some(ip) => return ip,
                None => return client,
            }
        }
        client
    }
}

/// The addresses the forwarding headers list, left to right: `Forwarded`
/// when present (RFC 7239), else `X-Forwarded-For`; `None` for a hop that
/// is not an address.
fn forwarded_hops(headers: &HeaderMap) -> impl DoubleEndedIterator<Item = Option<IpAddr>> {
    let forwarded: Vec<Option<IpAddr>> = headers
        .get_all(header::FORWARDED)
        .iter()
        .flat_map(|v| v.to_str().ok().unwrap_or("").split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.eq_ignore_ascii_case("for").then(|| address(value))
            })
        })
        .collect();
    let hops = if forwarded.is_empty() {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .flat_map(|v| v.to_str().ok().unwrap_or("").split(','))
            .map(address)
            .collect()
    } else {
        forwarded
    };
    hops.into_iter()
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

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
            .expect("valid")
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
    fn forwarded_is_read_first_with_quotes_ports_and_brackets() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let h = headers(&[
            (
                "forwarded",
                "for=1.1.1.1, for=\"[2001:db8:cafe::17]:4711\";proto=https",
            ),
            ("forwarded", "For=\"10.0.0.5:80\""),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), &h),
            ip("2001:db8:cafe::17")
        );
        let v4_port = headers(&[("x-forwarded-for", "203.0.113.9:5555")]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), &v4_port),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn an_unreadable_hop_ends_the_walk_at_the_last_proxy_that_could_be_read() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("forwarded", "for=203.0.113.9, for=unknown, for=10.1.1.1")]);
        assert_eq!(trusted.client_ip(ip("10.0.0.1"), &h), ip("10.1.1.1"));
        let garbage = headers(&[("x-forwarded-for", "203.0.113.9, not-an-ip")]);
        assert_eq!(trusted.client_ip(ip("10.0.0.1"), &garbage), ip("10.0.0.1"));
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_networks_and_bad_entries_are_named() {
        let trusted = proxies(&["127.0.0.1"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            trusted.client_ip(ip("::ffff:127.0.0.1"), &h),
            ip("203.0.113.9")
        );
        let err = TrustedProxies::parse(&["10.0.0.0/8".into(), "proxy.local".into()])
            .expect_err("a name is not an address");
        assert!(err.contains("proxy.local"), "{err}");
    }
}
