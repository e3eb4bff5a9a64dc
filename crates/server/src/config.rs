//! Configuration: one typed tree, layered as code defaults < TOML file <
//! `KURZ_*` environment (`__` separates nested keys, e.g.
//! `KURZ_LINKS__SLUG_LENGTH=7`) < command-line flags.

use std::path::Path;
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use kurz_core::blocklist::{self, Blocklist};
use kurz_core::homograph::{HostPolicy, LookalikeAction};
use kurz_core::target::normalise_domain;

use crate::http::client_ip::{ProxyHeader, TrustedProxies};

/// On or off, spelled as in the docs (`--rate-limits off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    On,
    Off,
}

/// What happens to a link whose target host is a look-alike (ADR 0022).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LookalikeHosts {
    /// Refused, 40014.
    Refuse,
    /// Created as `pending`, for an admin's review.
    Review,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    Full,
    Normal,
}

/// The most password hashes that may run at once: 1,024 × 19 MiB is already
/// 19 GiB.
const MAX_HASH_SLOTS: usize = 1024;

/// The keys `KURZ_*` variables may set. Other `KURZ_` variables (a test's
/// database URL, say) are none of the configuration's business.
const TOP_LEVEL_KEYS: &[&str] = &[
    "listen",
    "database",
    "database_replicas",
    "redis",
    "trusted_proxies",
    "trusted_proxies_header",
    "geoip_db",
    "blocklist",
    "metrics_listen",
    "otlp_endpoint",
    "base_url",
    "rate_limits",
    "log_format",
    "request_timeout_secs",
    "http",
    "pool",
    "links",
    "limits",
    "analytics",
    "cache",
    "ui",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: String,
    /// `sqlite://PATH` (created if missing).
    pub database: String,
    /// Read replicas of the database, used for redirect lookups and lists.
    /// In the environment, a comma-separated list.
    #[serde(deserialize_with = "list_or_csv")]
    pub database_replicas: Vec<String>,
    /// Redis URL for the shared cache (L2) and the invalidation channel;
    /// none: in-process cache only.
    pub redis: Option<String>,
    /// Proxies (CIDRs or addresses) whose `Forwarded` / `X-Forwarded-For`
    /// names the client; none: the socket's peer is the client. In the
    /// environment, a comma-separated list.
    #[serde(deserialize_with = "list_or_csv")]
    pub trusted_proxies: Vec<String>,
    /// The header those proxies write: `x-forwarded-for` or `forwarded`.
    pub trusted_proxies_header: ProxyHeader,
    /// A MaxMind-format (`.mmdb`) country database: clicks get a country.
    pub geoip_db: Option<std::path::PathBuf>,
    /// A file of blocked domains (one a line, or hosts format), merged with
    /// `links.blocked_domains`; reloaded on SIGHUP and when it changes.
    pub blocklist: Option<std::path::PathBuf>,
    /// Serve `/metrics` on this address instead of the main listener.
    pub metrics_listen: Option<String>,
    /// OTLP/HTTP endpoint spans are exported to (`http://collector:4318`);
    /// none: no export.
    pub otlp_endpoint: Option<String>,
    /// The origin used in `short_url`; defaults to `http://<listen address>`.
    pub base_url: Option<String>,
    /// `off` turns every rate limit off (benchmarks, tests).
    pub rate_limits: Switch,
    pub log_format: LogFormat,
    /// Longest time a request may take before it is answered 503.
    pub request_timeout_secs: u64,
    pub http: HttpConfig,
    pub pool: PoolConfig,
    pub links: LinksConfig,
    pub limits: LimitsConfig,
    pub analytics: AnalyticsConfig,
    pub cache: CacheSettings,
    pub ui: UiConfig,
    pub rest: RestConfig,
}

/// Shlink's REST API under `/rest/`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestConfig {
    /// Origins whose pages may call `/rest/` (CORS); `*` for any, as
    /// Shlink allows. In the environment, a comma-separated list.
    #[serde(deserialize_with = "list_or_csv")]
    pub cors_origins: Vec<String>,
}

/// The web UI.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    /// How long a login lasts, in hours (the session cookie and its row).
    pub session_hours: u32,
}

/// A list, or a comma-separated string (as environment variables give).
fn list_or_csv<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Either::deserialize(de)? {
        Either::List(list) => list,
        Either::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// What one connection may hold: a client that sends slowly or not at all
/// must not keep a socket, a task and a file descriptor for ever.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Longest time a client may take to send a request's headers. The same
    /// watchdog closes a kept-alive connection that sits idle this long
    /// between requests (one per connection; it closes after between one
    /// and one and a quarter times this).
    pub header_timeout_secs: u64,
    /// Longest time a client may take to send a request body; past it the
    /// request answers 408 (40801).
    pub body_timeout_secs: u64,
    /// Longest a write to a client may stay blocked (it stopped reading);
    /// past it the connection is closed.
    pub write_timeout_secs: u64,
    /// Most connections open at once. At the cap, new connections wait in
    /// the kernel's backlog until one closes. Lowered at start to fit the
    /// open-file limit.
    pub max_connections: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    pub max_connections: u32,
    pub acquire_timeout_ms: u64,
    /// Longest one store call may take; past it the request answers 503.
    pub query_timeout_ms: u64,
    /// SQLite: how long a writer waits for the write lock.
    pub busy_timeout_ms: u64,
    /// SQLite durability: `full` (default) fsyncs every commit.
    pub synchronous: SyncMode,
    /// IDs leased from the counter row at once.
    pub id_block: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinksConfig {
    /// Length of generated slugs (4 to 10).
    pub slug_length: usize,
    /// Redirect status for links that do not set one: 301, 302, 307 or 308.
    pub default_redirect: u16,
    /// `max-age` of the `Cache-Control` header on redirects, in seconds.
    pub cache_max_age: u32,
    pub max_url_length: usize,
    /// Allow loopback, private and link-local targets.
    pub allow_private_targets: bool,
    /// Let requests without an API key create links.
    pub allow_anonymous: bool,
    /// Domains (and their subdomains) and addresses that may not be
    /// shortened; merged with the `blocklist` file.
    #[serde(deserialize_with = "list_or_csv")]
    pub blocked_domains: Vec<String>,
    /// Words an alias may not contain.
    #[serde(deserialize_with = "list_or_csv")]
    pub blocked_keywords: Vec<String>,
    /// Words that send an alias to review before it redirects.
    #[serde(deserialize_with = "list_or_csv")]
    pub review_keywords: Vec<String>,
    /// Domains whose look-alikes (`раураl.com`) are caught, beside hosts
    /// that mix scripts in one label.
    #[serde(deserialize_with = "list_or_csv")]
    pub protected_domains: Vec<String>,
    /// What happens to links to look-alike hosts.
    pub lookalike_hosts: LookalikeHosts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Link creations per minute, per client IP and per API key.
    pub create_per_minute: u32,
    /// Other API requests per minute, per client IP and per API key.
    pub api_per_minute: u32,
    /// Redirects per second, per client IP.
    pub redirect_per_second: u32,
    /// "No such link" answers per minute per client IP; past them the
    /// client's redirects are refused for a while (ADR 0019).
    pub not_found_per_minute: u32,
    /// Most clients each in-process budget remembers; past it the least
    /// busy are forgotten (bounded memory under a flood of addresses).
    pub max_tracked_clients: usize,
    /// Password attempts per minute on one protected link from one client.
    pub password_attempts_per_minute: u32,
    /// Password attempts per minute from one client, over all links.
    pub password_attempts_per_client_per_minute: u32,
    /// Login attempts per minute for one user name from one client; ten
    /// times this for one name from anywhere, so a guesser spread over many
    /// addresses is slowed too, and one address cannot lock a user out.
    pub login_attempts_per_minute: u32,
    /// Login attempts per minute from one client, over all user names.
    pub login_attempts_per_client_per_minute: u32,
    /// Abuse reports per hour from one client (API and preview form
    /// together): a person reports a few links, a script flooding the
    /// admins' queue is stopped early.
    pub reports_per_hour: u32,
    /// IPv6 clients are limited per network of this prefix length (one
    /// holder of a /64 has 2^64 addresses).
    pub ipv6_prefix: u8,
    /// Password hashes (argon2id, 19 MiB each) computed at once; `0` means
    /// one per CPU core. Applies with `rate_limits = "off"` too: it bounds
    /// memory, not clients.
    pub password_hash_concurrency: usize,
    /// Password hashes that may wait for a free slot; more answer 429 at
    /// once.
    pub password_hash_queue: usize,
}

/// The redirect path's caches (DESIGN.md, "Cache"; ADR 0013).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// Most links in the in-process cache; `0` turns it off.
    pub l1_max_entries: u64,
    /// Most bytes of in-process entries (both bounds hold).
    pub l1_max_bytes: u64,
    /// Lifetime of an in-process entry, ± 10 %: the longest a node can
    /// serve a stale answer when an invalidation does not reach it.
    pub l1_ttl_secs: u64,
    /// Lifetime of a "no such link" entry, in both levels, ± 10 %.
    pub negative_ttl_secs: u64,
    /// Most "no such link" entries in the in-process cache, in a table
    /// apart from the links' (ADR 0032); `0` puts them in the links'
    /// table, under its bounds.
    pub l1_negative_max_entries: u64,
    /// Lifetime of a link in Redis, ± 10 %.
    pub l2_ttl_secs: u64,
    /// The longest one Redis command may take before it counts as failed
    /// and the lookup goes on to the store.
    pub redis_timeout_ms: u64,
    /// Prepended to Redis keys and the channel name.
    pub redis_prefix: String,
    /// Links loaded into the in-process cache at start, most visited
    /// first; `0` skips the warm-up.
    pub warmup_entries: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// Record clicks at all. Off, redirects hand no click to anyone: no
    /// rollups, no raw visits, `visits` stays where it is; visit limits
    /// still count (they are taken in the store by the redirect itself).
    pub enabled: bool,
    /// How often clicks are written to the store (sooner when
    /// `batch_size` clicks wait). A hard crash loses at most this long
    /// while the store keeps up; under a flood, a flush and its rest (at
    /// most 30 s more, ADR 0029).
    pub flush_interval_ms: u64,
    /// Clicks that wake the worker before the interval ends.
    pub batch_size: usize,
    /// Clicks the queue holds with their detail; past it, only counted.
    pub queue_capacity: usize,
    /// Keep a row per click (time, referrer, country, browser, OS,
    /// device, bot, user agent; never the IP).
    pub raw_visits: bool,
    /// Raw visits older than this are deleted; 0 keeps them. Rollups are
    /// kept for ever.
    pub retention_days: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database: "sqlite://kurz.db".into(),
            database_replicas: Vec::new(),
            redis: None,
            trusted_proxies: Vec::new(),
            trusted_proxies_header: ProxyHeader::default(),
            geoip_db: None,
            blocklist: None,
            metrics_listen: None,
            otlp_endpoint: None,
            base_url: None,
            rate_limits: Switch::On,
            log_format: LogFormat::Pretty,
            request_timeout_secs: 30,
            http: HttpConfig {
                header_timeout_secs: 10,
                body_timeout_secs: 10,
                write_timeout_secs: 10,
                max_connections: 10_000,
            },
            pool: PoolConfig {
                max_connections: 16,
                acquire_timeout_ms: 5000,
                query_timeout_ms: 10_000,
                busy_timeout_ms: 5000,
                synchronous: SyncMode::Full,
                id_block: 1000,
            },
            links: LinksConfig {
                slug_length: 6,
                default_redirect: 302,
                cache_max_age: 90,
                max_url_length: kurz_core::target::DEFAULT_MAX_URL_LEN,
                allow_private_targets: false,
                allow_anonymous: false,
                blocked_domains: Vec::new(),
                blocked_keywords: Vec::new(),
                review_keywords: Vec::new(),
                protected_domains: Vec::new(),
                lookalike_hosts: LookalikeHosts::Refuse,
            },
            limits: LimitsConfig {
                create_per_minute: 60,
                api_per_minute: 1200,
                redirect_per_second: 300,
                not_found_per_minute: 30,
                max_tracked_clients: 500_000,
                password_attempts_per_minute: 10,
                password_attempts_per_client_per_minute: 30,
                reports_per_hour: 10,
                login_attempts_per_minute: 10,
                login_attempts_per_client_per_minute: 20,
                ipv6_prefix: 64,
                password_hash_concurrency: 0,
                password_hash_queue: 32,
            },
            analytics: AnalyticsConfig {
                enabled: true,
                flush_interval_ms: 250,
                batch_size: 2000,
                queue_capacity: 16_384,
                raw_visits: true,
                retention_days: 90,
            },
            cache: CacheSettings {
                l1_max_entries: 1_000_000,
                l1_max_bytes: 128 * 1024 * 1024,
                l1_ttl_secs: 300,
                negative_ttl_secs: 30,
                l1_negative_max_entries: 250_000,
                l2_ttl_secs: 3600,
                redis_timeout_ms: 50,
                redis_prefix: "kurz:".into(),
                warmup_entries: 100_000,
            },
            ui: UiConfig { session_hours: 168 },
            rest: RestConfig {
                cors_origins: vec!["*".to_owned()],
            },
        }
    }
}

/// Values given as flags; `None` leaves the lower layers alone.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_replicas: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_proxies: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geoip_db: Option<std::path::PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocklist: Option<std::path::PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<Switch>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads the layers. `file` is the `--config` / `KURZ_CONFIG` path.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "the configuration file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        let config: Config = figment
            .merge(Env::prefixed("KURZ_").split("__").filter(|key| {
                // Keys keep the variable's case here; figment lowers them later.
                let first = key.as_str().split('.').next().unwrap_or("");
                TOP_LEVEL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(first))
            }))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |name: &str, why: &str| Err(ConfigError::Invalid(format!("{name}: {why}")));
        if kurz_core::link::RedirectCode::new(self.links.default_redirect).is_none() {
            return bad("links.default_redirect", "must be 301, 302, 307 or 308");
        }
        let lengths = kurz_core::slug::MIN_CODE_LEN..=kurz_core::slug::MAX_CODE_LEN;
        if !lengths.contains(&self.links.slug_length) {
            return bad("links.slug_length", "must be between 4 and 10");
        }
        if let Err(why) = TrustedProxies::parse(&self.trusted_proxies, self.trusted_proxies_header)
        {
            return bad("trusted_proxies", &why);
        }
        if let Some(base) = &self.base_url {
            match url::Url::parse(base) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => return bad("base_url", "must be an absolute http(s) URL"),
            }
        }
        let limits = [
            self.limits.create_per_minute,
            self.limits.api_per_minute,
            self.limits.redirect_per_second,
            self.limits.password_attempts_per_minute,
            self.limits.password_attempts_per_client_per_minute,
            self.limits.reports_per_hour,
        ];
        if limits.contains(&0) {
            return bad(
                "limits",
                "every limit must be at least 1 (use rate_limits = \"off\")",
            );
        }
        if !(1..=128).contains(&self.limits.ipv6_prefix) {
            return bad("limits.ipv6_prefix", "must be between 1 and 128");
        }
        if self.http.header_timeout_secs == 0
            || self.http.body_timeout_secs == 0
            || self.http.write_timeout_secs == 0
        {
            return bad("http", "time-outs must be at least 1 second");
        }
        let a = &self.analytics;
        if a.flush_interval_ms == 0 || a.flush_interval_ms > 60_000 {
            return bad(
                "analytics.flush_interval_ms",
                "must be between 1 and 60000 (a crash loses at most one interval of clicks)",
            );
        }
        if a.queue_capacity == 0 || a.queue_capacity > 10_000_000 {
            return bad("analytics.queue_capacity", "must be between 1 and 10000000");
        }
        if a.batch_size == 0 || a.batch_size > a.queue_capacity {
            return bad(
                "analytics.batch_size",
                "must be at least 1 and at most analytics.queue_capacity",
            );
        }
        if let Some(path) = &self.geoip_db {
            if !path.is_file() {
                return bad("geoip_db", &format!("{} is not a file", path.display()));
            }
        }
        if let Some(address) = &self.metrics_listen {
            if address.parse::<std::net::SocketAddr>().is_err() {
                return bad(
                    "metrics_listen",
                    "must be an address and port, like 127.0.0.1:9464",
                );
            }
        }
        if let Some(endpoint) = &self.otlp_endpoint {
            match url::Url::parse(endpoint) {
                Ok(u) if u.scheme() == "http" => {}
                Ok(_) => {
                    return bad(
                        "otlp_endpoint",
                        "must be an http:// URL (OTLP/HTTP to a collector nearby; TLS is the collector's job)",
                    )
                }
                Err(e) => return bad("otlp_endpoint", &format!("not a URL: {e}")),
            }
        }
        if self.http.max_connections == 0 {
            return bad("http.max_connections", "must be at least 1");
        }
        if self.limits.password_hash_concurrency > MAX_HASH_SLOTS {
            return bad(
                "limits.password_hash_concurrency",
                &format!("must be at most {MAX_HASH_SLOTS} (each hash takes 19 MiB)"),
            );
        }
        if self.limits.password_hash_queue > MAX_HASH_SLOTS * 10 {
            return bad(
                "limits.password_hash_queue",
                &format!("must be at most {}", MAX_HASH_SLOTS * 10),
            );
        }
        let c = &self.cache;
        if c.l1_ttl_secs == 0 || c.negative_ttl_secs == 0 || c.l2_ttl_secs == 0 {
            return bad("cache", "every TTL must be at least 1 second");
        }
        if c.redis_timeout_ms == 0 {
            return bad("cache.redis_timeout_ms", "must be at least 1");
        }
        if c.l1_max_entries > 0 && c.l1_max_bytes < c.l1_max_entries {
            return bad(
                "cache.l1_max_bytes",
                "must be at least one byte per entry of cache.l1_max_entries",
            );
        }
        if let Some(url) = &self.redis {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return bad("redis", "must be a redis:// or rediss:// URL");
            }
        }
        if let Some(entry) = self
            .links
            .blocked_domains
            .iter()
            .find(|d| blocklist::entry(d).is_none())
        {
            return bad(
                "links.blocked_domains",
                &format!("{entry:?} is not a domain name or an address"),
            );
        }
        if let Some(entry) = self
            .links
            .protected_domains
            .iter()
            .find(|d| normalise_domain(d).is_none())
        {
            return bad(
                "links.protected_domains",
                &format!("{entry:?} is not a domain name"),
            );
        }
        Ok(())
    }

    /// How look-alike target hosts are judged and treated.
    pub fn host_policy(&self) -> HostPolicy {
        HostPolicy::new(
            self.links
                .protected_domains
                .iter()
                .filter_map(|d| normalise_domain(d))
                .collect(),
            match self.links.lookalike_hosts {
                LookalikeHosts::Refuse => LookalikeAction::Refuse,
                LookalikeHosts::Review => LookalikeAction::Review,
            },
        )
    }

    /// The configured blocked domains in the form targets are compared in
    /// (punycode, lower case): `bücher.de` blocks every spelling of that
    /// host. The `blocklist` file's entries are added to these.
    pub fn blocked_domains(&self) -> Blocklist {
        let mut list = Blocklist::default();
        for entry in self
            .links
            .blocked_domains
            .iter()
            .filter_map(|d| blocklist::entry(d))
        {
            list.insert(entry);
        }
        list
    }

    /// How many password hashes may run at once.
    pub fn hash_concurrency(&self) -> usize {
        match self.limits.password_hash_concurrency {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        }
    }

    /// The cache layers as the store builds them.
    pub fn cache_config(&self) -> kurz_store::cache::CacheConfig {
        let c = &self.cache;
        kurz_store::cache::CacheConfig {
            l1: kurz_store::cache::L1Config {
                max_entries: c.l1_max_entries,
                max_bytes: c.l1_max_bytes,
                ttl: Duration::from_secs(c.l1_ttl_secs),
                negative_ttl: Duration::from_secs(c.negative_ttl_secs),
                negative_max_entries: c.l1_negative_max_entries,
            },
            redis: self
                .redis
                .as_ref()
                .map(|url| kurz_store::cache::RedisConfig {
                    url: url.clone(),
                    prefix: c.redis_prefix.clone(),
                    timeout: Duration::from_millis(c.redis_timeout_ms),
                    ttl: Duration::from_secs(c.l2_ttl_secs),
                    negative_ttl: Duration::from_secs(c.negative_ttl_secs),
                }),
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs.max(1))
    }

    pub fn db_options(&self) -> kurz_store::DbOptions {
        kurz_store::DbOptions {
            url: self.database.clone(),
            replicas: self.database_replicas.clone(),
            max_connections: self.pool.max_connections,
            acquire_timeout: Duration::from_millis(self.pool.acquire_timeout_ms),
            query_timeout: Duration::from_millis(self.pool.query_timeout_ms.max(1)),
            busy_timeout: Duration::from_millis(self.pool.busy_timeout_ms),
            synchronous: match self.pool.synchronous {
                SyncMode::Full => kurz_store::Synchronous::Full,
                SyncMode::Normal => kurz_store::Synchronous::Normal,
            },
            id_block: self.pool.id_block,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kurz.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ndatabase = \"sqlite://file.db\"\n[links]\nslug_length = 8\n",
        )
        .expect("write");
        let overrides = Overrides {
            database: Some("sqlite://flag.db".into()),
            ..Overrides::default()
        };
        let c = Config::load(Some(&path), &overrides).expect("loads");
        assert_eq!(c.listen, "127.0.0.1:9000");
        assert_eq!(c.database, "sqlite://flag.db");
        assert_eq!(c.links.slug_length, 8);
        assert_eq!(c.links.default_redirect, 302);
    }

    #[test]
    fn trusted_proxies_and_their_header_load_and_bad_entries_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kurz.toml");
        std::fs::write(
            &path,
            "trusted_proxies = \"10.0.0.0/8, 192.0.2.1\"\ntrusted_proxies_header = \"forwarded\"\n",
        )
        .expect("write");
        let c = Config::load(Some(&path), &Overrides::default()).expect("loads");
        assert_eq!(c.trusted_proxies, vec!["10.0.0.0/8", "192.0.2.1"]);
        assert_eq!(c.trusted_proxies_header, ProxyHeader::Forwarded);
        std::fs::write(&path, "trusted_proxies = [\"proxy.local\"]\n").expect("write");
        let err = Config::load(Some(&path), &Overrides::default()).expect_err("not an address");
        assert!(err.to_string().contains("proxy.local"), "{err}");
        std::fs::write(&path, "trusted_proxies_header = \"x-real-ip\"\n").expect("write");
        assert!(Config::load(Some(&path), &Overrides::default()).is_err());
    }

    #[test]
    fn replicas_come_as_a_list_or_comma_separated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kurz.toml");
        std::fs::write(
            &path,
            "database_replicas = \"mysql://a/db, mysql://b/db\"\n",
        )
        .expect("write");
        let c = Config::load(Some(&path), &Overrides::default()).expect("loads");
        assert_eq!(c.database_replicas, vec!["mysql://a/db", "mysql://b/db"]);
        std::fs::write(&path, "database_replicas = [\"mysql://a/db\"]\n").expect("write");
        let c = Config::load(Some(&path), &Overrides::default()).expect("loads");
        assert_eq!(c.database_replicas, vec!["mysql://a/db"]);
        // As `KURZ_LINKS__REVIEW_KEYWORDS=promo,free` gives them.
        std::fs::write(
            &path,
            "[links]\nreview_keywords = \"promo, free\"\nblocked_keywords = \"casino\"\n",
        )
        .expect("write");
        let c = Config::load(Some(&path), &Overrides::default()).expect("loads");
        assert_eq!(c.links.review_keywords, vec!["promo", "free"]);
        assert_eq!(c.links.blocked_keywords, vec!["casino"]);
    }

    #[test]
    fn blocked_domains_are_normalised_and_bad_entries_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kurz.toml");
        std::fs::write(
            &path,
            "[links]\nblocked_domains = [\"B\u{fc}cher.de.\", \"evil.example\"]\n",
        )
        .expect("write");
        let c = Config::load(Some(&path), &Overrides::default()).expect("loads");
        let list = c.blocked_domains();
        assert_eq!(list.len(), 2);
        assert!(list.blocks_host("xn--bcher-kva.de"));
        assert!(list.blocks_host("www.evil.example"));
        std::fs::write(&path, "[links]\nblocked_domains = [\"http://x/\"]\n").expect("write");
        let err = Config::load(Some(&path), &Overrides::default()).expect_err("refused");
        assert!(err.to_string().contains("links.blocked_domains"), "{err}");
    }

    #[test]
    fn the_cache_keys_have_their_defaults_and_reach_the_cache_layers() {
        // The defaults themselves: `load` would add the shell's KURZ_*.
        let cache = Config::default().cache_config();
        assert_eq!(cache.l1.max_entries, 1_000_000);
        assert_eq!(cache.l1.ttl, Duration::from_secs(300));
        assert_eq!(cache.l1.negative_ttl, Duration::from_secs(30));
        assert!(cache.redis.is_none(), "no --redis, no L2");

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kurz.toml");
        std::fs::write(
            &path,
            "redis = \"redis://127.0.0.1:6379\"\n[cache]\nl1_max_entries = 0\n\
             l1_max_bytes = 1000\nl1_ttl_secs = 60\nnegative_ttl_secs = 5\n\
             l1_negative_max_entries = 7\nl2_ttl_secs = 600\nredis_timeout_ms = 20\n\
             redis_prefix = \"k:\"\nwarmup_entries = 3\n",
        )
        .expect("write");
        let c = Config::load(Some(&path), &Overrides::default()).expect("loads");
        assert_eq!(c.cache.warmup_entries, 3);
        let cache = c.cache_config();
        assert_eq!(cache.l1.max_entries, 0);
        assert_eq!(cache.l1.max_bytes, 1000);
        assert_eq!(cache.l1.negative_max_entries, 7);
        assert_eq!(cache.l1.ttl, Duration::from_secs(60));
        assert_eq!(cache.l1.negative_ttl, Duration::from_secs(5));
        let redis = cache.redis.expect("L2 with --redis");
        assert_eq!(redis.ttl, Duration::from_secs(600));
        assert_eq!(redis.negative_ttl, Duration::from_secs(5));
        assert_eq!(redis.timeout, Duration::from_millis(20));
        assert_eq!(redis.prefix, "k:");
    }

    #[test]
    fn bad_values_are_refused_with_their_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kurz.toml");
        std::fs::write(&path, "[links]\ndefault_redirect = 303\n").expect("write");
        let err = Config::load(Some(&path), &Overrides::default()).expect_err("refused");
        assert!(err.to_string().contains("links.default_redirect"), "{err}");
    }
}
