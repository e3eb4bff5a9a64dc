//! Published threat feeds, read for `kurz blocklist import`: URLhaus CSV,
//! PhishTank CSV or JSON, and plain domain lists (or hosts files). Feeds
//! list URLs; a blocklist holds hosts, so each URL gives its host, except
//! hosts shared by many unrelated users ([`SHARED_HOSTS`]), which are
//! skipped and reported: one phishing form on docs.google.com must not
//! block every Google document (ADR 0020).

use std::collections::BTreeMap;

use kurz_core::blocklist::{self, Blocklist, Entry};

/// The formats `--format` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FeedFormat {
    /// abuse.ch URLhaus CSV: `#` comment lines, then
    /// `id,dateadded,url,url_status,...`.
    Urlhaus,
    /// PhishTank CSV (with a header naming a `url` column) or JSON (an
    /// array of objects with `url`); told apart by the first character.
    Phishtank,
    /// One domain or address a line, or hosts-file lines.
    Domains,
}

/// Hosts on which anyone can publish: a feed's URL there says nothing of
/// the host. A host equal to one of these, or a parent of one (`google.com`,
/// `com`), is never imported; a host below one (`evil.github.io`, one
/// user's site) is. Kept short and obvious; an operator who wants one of
/// them blocked anyway writes it into the blocklist by hand.
pub const SHARED_HOSTS: &[&str] = &[
    // Documents, forms and file sharing.
    "docs.google.com",
    "drive.google.com",
    "sites.google.com",
    "forms.gle",
    "storage.googleapis.com",
    "firebasestorage.googleapis.com",
    "dropbox.com",
    "dl.dropboxusercontent.com",
    "onedrive.live.com",
    "1drv.ms",
    "forms.office.com",
    "mediafire.com",
    "wetransfer.com",
    "we.tl",
    "cdn.discordapp.com",
    "discord.com",
    "pastebin.com",
    "telegra.ph",
    "t.me",
    "archive.org",
    "ipfs.io",
    "dweb.link",
    "github.com",
    "raw.githubusercontent.com",
    "gitlab.com",
    "bitbucket.org",
    "s3.amazonaws.com",
    // Other shorteners: their links are someone's, not theirs.
    "bit.ly",
    "t.co",
    "tinyurl.com",
    "is.gd",
    "ow.ly",
    "cutt.ly",
    "rebrand.ly",
    "goo.gl",
    // Platforms that give each user a subdomain: the user's is imported.
    "github.io",
    "gitlab.io",
    "blogspot.com",
    "wordpress.com",
    "netlify.app",
    "vercel.app",
    "pages.dev",
    "workers.dev",
    "r2.dev",
    "herokuapp.com",
    "azurewebsites.net",
    "blob.core.windows.net",
    "sharepoint.com",
    "web.app",
    "firebaseapp.com",
    "appspot.com",
    "weebly.com",
    "wixsite.com",
    "000webhostapp.com",
    "glitch.me",
    "repl.co",
    "ngrok.io",
    "ngrok-free.app",
    "webflow.io",
    "myshopify.com",
    "square.site",
    "godaddysites.com",
    "notion.site",
    "duckdns.org",
];

/// Whether `host` is a shared host or a parent of one.
pub fn is_shared(host: &str) -> bool {
    SHARED_HOSTS
        .iter()
        .any(|s| *s == host || s.strip_suffix(host).is_some_and(|p| p.ends_with('.')))
}

/// What a feed gave.
#[derive(Debug, Default)]
pub struct Imported {
    pub list: Blocklist,
    /// URLs skipped for their shared host, by host.
    pub shared: BTreeMap<String, usize>,
    /// Records with no usable URL or domain.
    pub unreadable: usize,
}

impl Imported {
    fn add(&mut self, entry: Entry) {
        match entry {
            Entry::Domain(d) => {
                // `www.evil.example` and `evil.example` are one site.
                let host = d.strip_prefix("www.").unwrap_or(&d).to_owned();
                if is_shared(&host) {
                    *self.shared.entry(host).or_default() += 1;
                } else {
                    self.list.insert(Entry::Domain(host));
                }
            }
            ip @ Entry::Ip(_) => self.list.insert(ip),
        }
    }

    fn add_url(&mut self, url: &str) {
        match host_of(url) {
            Some(entry) => self.add(entry),
            None => self.unreadable += 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("the feed is not valid CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("the feed is not a JSON array of objects with a url: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the PhishTank CSV has no url column")]
    NoUrlColumn,
}

/// The host of a feed's URL as a blocklist entry. Feeds write URLs as
/// seen in the wild, often without a scheme.
pub fn host_of(url: &str) -> Option<Entry> {
    let url = url.trim();
    let parsed = match url::Url::parse(url) {
        Ok(u) if u.has_host() => u,
        _ => url::Url::parse(&format!("http://{url}")).ok()?,
    };
    match parsed.host()? {
        url::Host::Domain(d) => blocklist::entry(d),
        url::Host::Ipv4(ip) => Some(Entry::Ip(ip.into())),
        url::Host::Ipv6(ip) => Some(Entry::Ip(ip.into())),
    }
}

/// Reads a feed in `format`.
pub fn read(format: FeedFormat, text: &str) -> Result<Imported, FeedError> {
    let mut out = Imported::default();
    match format {
        FeedFormat::Urlhaus => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .comment(Some(b'#'))
                .flexible(true)
                .from_reader(text.as_bytes());
            for record in reader.records() {
                match record?.get(2) {
                    Some(url) => out.add_url(url),
                    None => out.unreadable += 1,
                }
            }
        }
        FeedFormat::Phishtank if text.trim_start().starts_with('[') => {
            let items: Vec<serde_json::Value> = serde_json::from_str(text)?;
            for item in items {
                match item.get("url").and_then(serde_json::Value::as_str) {
                    Some(url) => out.add_url(url),
                    None => out.unreadable += 1,
                }
            }
        }
        FeedFormat::Phishtank => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(text.as_bytes());
            let column = reader
                .headers()?
                .iter()
                .position(|h| h.trim() == "url")
                .ok_or(FeedError::NoUrlColumn)?;
            for record in reader.records() {
                match record?.get(column) {
                    Some(url) => out.add_url(url),
                    None => out.unreadable += 1,
                }
            }
        }
        FeedFormat::Domains => {
            let (list, report) = blocklist::parse(text);
            out.unreadable = report.bad_lines;
            for entry in list.entries() {
                out.add(entry);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_hosts_and_their_parents_are_skipped_but_tenants_kept() {
        assert!(is_shared("docs.google.com"));
        assert!(is_shared("google.com"));
        assert!(is_shared("github.io"));
        assert!(is_shared("io"));
        assert!(!is_shared("evil.github.io"));
        assert!(!is_shared("evil.example"));
        assert!(!is_shared("thub.io"));
    }

    #[test]
    fn urls_without_a_scheme_still_give_their_host() {
        assert_eq!(
            host_of("Evil.Example/login"),
            Some(Entry::Domain("evil.example".into()))
        );
        assert_eq!(
            host_of("http://198.51.100.4:8080/bins/x"),
            Some(Entry::Ip("198.51.100.4".parse().expect("ip")))
        );
        assert_eq!(host_of("::::"), None);
    }
}
