//! Referrers: the page a click came from, reduced to its host.

/// What a click without a `Referer` is filed under.
pub const DIRECT: &str = "direct";

/// The host of a `Referer` header, lower-case, without a trailing dot or
/// a port; `direct` when there is none, `unknown` when it names no host.
/// The path and query are dropped: they can carry what the referring page
/// knew about its reader, and the breakdown is by site.
pub fn referrer_host(referrer: Option<&str>) -> Box<str> {
    let Some(raw) = referrer.map(str::trim).filter(|r| !r.is_empty()) else {
        return DIRECT.into();
    };
    match url::Url::parse(raw) {
        Ok(url) => match url.host_str() {
            Some(host) if !host.is_empty() => {
                host.trim_end_matches('.').to_ascii_lowercase().into()
            }
            _ => super::agent::UNKNOWN.into(),
        },
        Err(_) => super::agent::UNKNOWN.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referrers_become_their_host() {
        let cases = [
            (None, "direct"),
            (Some(""), "direct"),
            (
                Some("https://www.Example.com/a/b?q=secret#x"),
                "www.example.com",
            ),
            (
                Some("http://news.ycombinator.com:8080/item?id=1"),
                "news.ycombinator.com",
            ),
            (Some("https://t.co./abc"), "t.co"),
            (
                Some("android-app://com.google.android.gm/"),
                "com.google.android.gm",
            ),
            (Some("https://[2001:db8::1]/x"), "[2001:db8::1]"),
            (Some("https://xn--mnchen-3ya.de/"), "xn--mnchen-3ya.de"),
            (Some("not a url"), "unknown"),
            (Some("/relative/path"), "unknown"),
            (Some("mailto:someone@example.com"), "unknown"),
        ];
        for (raw, host) in cases {
            assert_eq!(&*referrer_host(raw), host, "{raw:?}");
        }
    }
}
