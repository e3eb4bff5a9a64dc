//! A raw click becomes what is stored of it: user agent → browser, OS,
//! device and bot flag; referrer → host; IP → country, then the IP is gone.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use kurz_core::analytics::agent::{self, UNKNOWN};
use kurz_core::analytics::referrer::referrer_host;
use kurz_core::analytics::{clip, Click, Device, VisitDetail};

/// Distinct user agents remembered with their classification. Real traffic
/// repeats a few thousand strings; past this many the memory starts over.
const AGENTS: usize = 10_000;
/// Distinct names (hosts, browsers, countries) shared between visits.
const NAMES: usize = 50_000;

/// Longest name kept, in bytes: the store's columns hold 255 characters
/// (a host has at most 253).
pub const MAX_NAME: usize = 255;

/// A MaxMind-format country database.
pub struct Geo {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for Geo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Geo").finish_non_exhaustive()
    }
}

impl Geo {
    pub fn open(path: &Path) -> Result<Self, maxminddb::MaxMindDbError> {
        Ok(Self {
            reader: maxminddb::Reader::open_readfile(path)?,
        })
    }

    /// The ISO code of the country `ip` is in, if the database knows.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        let found = self.reader.lookup(ip.to_canonical()).ok()?;
        let c: maxminddb::geoip2::Country<'_> = found.decode().ok()??;
        c.country
            .iso_code
            .or(c.registered_country.iso_code)
            .map(str::to_owned)
    }
}

#[derive(Debug)]
struct AgentInfo {
    browser: Arc<str>,
    os: Arc<str>,
    device: Device,
}

/// The worker's enrichment, with what it remembers between clicks.
#[derive(Debug)]
pub struct Enricher {
    geo: Option<Arc<Geo>>,
    agents: HashMap<Box<str>, AgentInfo>,
    names: HashSet<Arc<str>>,
}

impl Enricher {
    pub fn new(geo: Option<Arc<Geo>>) -> Self {
        Self {
            geo,
            agents: HashMap::new(),
            names: HashSet::new(),
        }
    }

    /// The click's link and its detail. The IP is read here and dropped
    /// with the click.
    pub fn enrich(&mut self, click: Click) -> (i64, VisitDetail) {
        let ua_key = click.user_agent.as_deref().unwrap_or_default();
        if !self.agents.contains_key(ua_key) {
            if self.agents.len() >= AGENTS {
                self.agents.clear();
            }
            let a = agent::classify(click.user_agent.as_deref());
            let info = AgentInfo {
                browser: self.name(&a.browser),
                os: self.name(&a.os),
                device: a.device,
            };
            self.agents.insert(ua_key.into(), info);
        }
        let (browser, os, device) = match self.agents.get(ua_key) {
            Some(a) => (a.browser.clone(), a.os.clone(), a.device),
            None => (self.name(UNKNOWN), self.name(UNKNOWN), Device::Unknown),
        };
        let referrer = self.name(clip(&referrer_host(click.referrer.as_deref()), MAX_NAME));
        let country = match (&self.geo, click.ip) {
            (Some(geo), Some(ip)) => geo.country(ip),
            _ => None,
        };
        let country = self.name(clip(country.as_deref().unwrap_or(UNKNOWN), MAX_NAME));
        let detail = VisitDetail {
            at: click.at,
            referrer,
            country,
            browser,
            os,
            device,
            bot: device == Device::Bot,
            user_agent: click.user_agent,
        };
        (click.link_id, detail)
    }

    /// One shared copy of `name`.
    pub fn name(&mut self, name: &str) -> Arc<str> {
        if let Some(n) = self.names.get(name) {
            return n.clone();
        }
        if self.names.len() >= NAMES {
            self.names.clear();
        }
        let n: Arc<str> = name.into();
        self.names.insert(n.clone());
        n
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    #[test]
    fn a_click_becomes_its_detail_without_the_ip() {
        let mut e = Enricher::new(None);
        let click = Click::new(
            7,
            OffsetDateTime::UNIX_EPOCH,
            Some("https://news.example.org/item?id=1"),
            Some("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"),
            Some("192.0.2.1".parse().expect("ip")),
        );
        let (link, d) = e.enrich(click);
        assert_eq!(link, 7);
        assert_eq!(&*d.referrer, "news.example.org");
        assert_eq!(&*d.country, "unknown", "no database configured");
        assert_eq!(&*d.browser, "Safari");
        assert_eq!(d.device, Device::Mobile);
        assert!(!d.bot);
        let (_, bot) = e.enrich(Click::new(7, OffsetDateTime::UNIX_EPOCH, None, None, None));
        assert!(bot.bot);
        assert_eq!(&*bot.referrer, "direct");
        // Names are shared, not copied per click.
        let (_, again) = e.enrich(Click::new(8, OffsetDateTime::UNIX_EPOCH, None, None, None));
        assert!(Arc::ptr_eq(&bot.referrer, &again.referrer));
        // A host longer than any column is cut, not refused by the store.
        let long = format!("https://{}.example/", "a".repeat(400));
        let (_, d) = e.enrich(Click::new(
            9,
            OffsetDateTime::UNIX_EPOCH,
            Some(&long),
            None,
            None,
        ));
        assert_eq!(d.referrer.len(), MAX_NAME);
    }
}
