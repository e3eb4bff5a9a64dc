//! Building the application from a [`Config`]: open the store, make the
//! services, bind the listener. Tests call the same [`build`] with port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::HeaderValue;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::http::client_ip::TrustedProxies;

use kurz_core::blocklist::SharedBlocklist;
use kurz_core::clock::{Clock, SystemClock};
use kurz_core::link::RedirectCode;
use kurz_core::ports::{ClickSink, PasswordHasher};
use kurz_core::service::{
    AccountPorts, AccountService, CatalogService, LinkPorts, LinkService, LinkSettings,
    RedirectPorts, RedirectSettings, Redirector, ReportPorts, ReportService, RescanPorts,
    Rescanner, StatsService,
};
use kurz_core::slug::KeywordPolicy;
use kurz_core::target::UrlPolicy;
use kurz_store::cache::Caches;
use kurz_store::Database;

use crate::analytics::queue::Untracked;
use crate::analytics::{self, worker, ClickQueue, ClickWorker, Enricher, Geo, WorkerSettings};
use crate::blocklist::{self, Watcher};
use crate::config::{Config, Switch};
use crate::http::limit::{self, Limits};
use crate::http::{self, AppState, Handlers, Site};
use crate::metrics::Metrics;
use crate::secret::BoundedHasher;
use crate::serve::{self, ConnectionLimits};

/// Opens the store named by the configuration and applies its migrations;
/// fails when the database does not answer. For the CLI and tests.
pub async fn open_store(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Database> {
    let db = kurz_store::open(&config.db_options(), clock)?;
    db.ensure_ready()
        .await
        .with_context(|| format!("opening the store at {}", redacted(&config.database)))?;
    Ok(db)
}

/// Keeps trying to migrate and load the store in the background until it
/// answers, so a server started while its database is down becomes ready
/// within a second of the database coming back.
fn prepare_in_background(db: Database) {
    tokio::spawn(async move {
        let mut warned = false;
        loop {
            match db.ensure_ready().await {
                Ok(()) => {
                    if warned {
                        tracing::info!("the store answers again; ready");
                    }
                    return;
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!(error = %e, "the store is not reachable yet; retrying");
                        warned = true;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
}

/// A database URL without its password, for messages.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The use cases over an open store, as the server and the CLI use them.
#[derive(Debug, Clone)]
pub struct Services {
    /// Creating and changing links.
    pub links: Arc<LinkService>,
    /// Users and keys.
    pub accounts: Arc<AccountService>,
    /// Abuse reports (disabling through `links`).
    pub reports: Arc<ReportService>,
    /// The one bound on password hashing of this process.
    pub hasher: Arc<dyn PasswordHasher>,
    /// The blocked hosts the link checks read: the configured
    /// `links.blocked_domains` until the caller swaps in the list merged
    /// with the `blocklist` file ([`crate::blocklist::load`]).
    pub blocklist: SharedBlocklist,
}

/// `caches` wraps the store's ports: give the server's, or a CLI's (which
/// has no L1 but tells the servers, through Redis, what it changed).
pub fn services(
    config: &Config,
    db: &Database,
    caches: &Caches,
    clock: Arc<dyn Clock>,
    base_url: &str,
) -> Services {
    let own_host = url::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    let blocklist = SharedBlocklist::new(config.blocked_domains());
    let settings = LinkSettings {
        slug_length: config.links.slug_length,
        default_redirect: default_redirect(config),
        url_policy: UrlPolicy {
            max_len: config.links.max_url_length,
            allow_private: config.links.allow_private_targets,
            blocklist: blocklist.clone(),
            own_hosts: own_host.into_iter().collect(),
        },
        keywords: KeywordPolicy::new(
            &config.links.blocked_keywords,
            &config.links.review_keywords,
        ),
        hosts: config.host_policy(),
    };
    let hasher: Arc<dyn PasswordHasher> = Arc::new(BoundedHasher::new(
        config.hash_concurrency(),
        config.limits.password_hash_queue,
    ));
    let links = LinkService::new(
        LinkPorts {
            links: db.links(),
            ids: db.ids(),
            hasher: hasher.clone(),
            clock: clock.clone(),
            invalidator: caches.invalidator(),
        },
        settings,
    );
    let accounts = AccountService::new(AccountPorts {
        store: db.accounts(),
        sessions: db.sessions(),
        authenticator: caches.authenticator(),
        hasher: hasher.clone(),
        clock: clock.clone(),
        invalidator: caches.invalidator(),
    });
    let links = Arc::new(links);
    let reports = ReportService::new(
        ReportPorts {
            reports: db.reports(),
            clock,
        },
        links.clone(),
    );
    Services {
        links,
        accounts: Arc::new(accounts),
        reports: Arc::new(reports),
        hasher,
        blocklist,
    }
}

/// The rescan that disables links to blocked hosts, writing through
/// `caches` so every node forgets what it disables.
pub fn rescanner(db: &Database, caches: &Caches, clock: Arc<dyn Clock>) -> Rescanner {
    Rescanner::new(RescanPorts {
        scan: db.scan(),
        links: db.links(),
        clock,
        invalidator: caches.invalidator(),
    })
}

/// The caches around `db`'s ports, as `config` asks.
pub fn caches(config: &Config, db: &Database) -> anyhow::Result<Caches> {
    Ok(Caches::new(
        &config.cache_config(),
        db.lookup(),
        db.authenticator(),
    )?)
}

/// Loads the most-visited links into L1 once the store answers, in the
/// background; the server listens meanwhile.
fn warm_up_in_background(config: &Config, db: Database, caches: Caches) {
    let limit = u32::try_from(config.cache.l1_max_entries)
        .unwrap_or(u32::MAX)
        .min(config.cache.warmup_entries);
    if limit == 0 {
        return;
    }
    tokio::spawn(async move {
        while db.ensure_ready().await.is_err() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let started = std::time::Instant::now();
        let loaded = caches
            .warm_up(db.popular().as_ref(), limit, WARM_UP_DEADLINE)
            .await;
        let millis = started.elapsed().as_millis() as u64;
        let (table_bytes, weight) = caches.l1_memory();
        tracing::info!(
            links = loaded,
            cached = caches.l1_len(),
            table_bytes,
            weight,
            millis,
            "warm-up: most-visited links loaded into the in-process cache"
        );
    });
}

/// The longest the warm-up query may take.
const WARM_UP_DEADLINE: Duration = Duration::from_secs(30);

fn default_redirect(config: &Config) -> RedirectCode {
    RedirectCode::new(config.links.default_redirect).unwrap_or(RedirectCode::FOUND)
}

/// The origin of short URLs: configured, or the address actually bound.
pub fn base_url(config: &Config, bound: SocketAddr) -> String {
    config
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"))
        .trim_end_matches('/')
        .to_owned()
}

/// A built application, bound to its port and ready to run.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    /// `/metrics` on an address of its own, when configured.
    metrics_listener: Option<(TcpListener, Arc<Metrics>)>,
    router: axum::Router,
    /// For the redirect fast path.
    hot: AppState,
    db: Database,
    /// None when `analytics.enabled` is off.
    clicks: Option<ClickWorker>,
    /// Raw visits' retention in days; 0 keeps them.
    retention_days: u32,
    clock: Arc<dyn Clock>,
    base_url: String,
    connections: ConnectionLimits,
    proxies: Arc<TrustedProxies>,
    /// Reloads the blocklist and rescans the links.
    blocklist: Watcher,
}

pub async fn build(config: Config) -> anyhow::Result<App> {
    build_with_clock(config, Arc::new(SystemClock)).await
}

/// [`build`] with a clock of the caller's (tests move a manual one).
pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
    let fd_limit = serve::raise_fd_limit();
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    let base_url = base_url(&config, bound);

    let db = kurz_store::open(&config.db_options(), clock.clone())?;
    prepare_in_background(db.clone());
    let caches = caches(&config, &db)?;
    caches.start();
    warm_up_in_background(&config, db.clone(), caches.clone());
    let services = services(&config, &db, &caches, clock.clone(), &base_url);
    let configured = config.blocked_domains();
    let list = blocklist::load(&configured, config.blocklist.as_deref())?;
    tracing::info!(entries = list.len(), "blocklist loaded");
    services.blocklist.replace(list);
    let watcher = Watcher {
        path: config.blocklist.clone(),
        configured,
        shared: services.blocklist.clone(),
        rescanner: Arc::new(rescanner(&db, &caches, clock.clone())),
        db: db.clone(),
        poll: blocklist::POLL_INTERVAL,
    };
    let a = &config.analytics;
    let queue = Arc::new(ClickQueue::new(a.queue_capacity, a.batch_size));
    let queue_for_metrics = queue.clone();
    let geo = match &config.geoip_db {
        Some(path) => Some(Arc::new(Geo::open(path).with_context(|| {
            format!("reading the GeoIP database {}", path.display())
        })?)),
        None => None,
    };
    let clicks = a.enabled.then(|| {
        ClickWorker::new(
            queue.clone(),
            db.analytics(),
            Enricher::new(geo),
            WorkerSettings {
                flush_interval: Duration::from_millis(a.flush_interval_ms),
                raw_visits: a.raw_visits,
                max_pending_visits: a.queue_capacity.saturating_mul(8),
                max_pending_facets: worker::MAX_PENDING_FACETS,
            },
        )
    });
    let sink: Arc<dyn ClickSink> = if a.enabled {
        queue.clone()
    } else {
        Arc::new(Untracked)
    };
    let redirector = Redirector::new(
        RedirectPorts {
            lookup: caches.lookup(),
            links: db.links(),
            visits: db.visits(),
            clicks: sink,
            hasher: services.hasher.clone(),
            clock: clock.clone(),
        },
        RedirectSettings {
            default_status: default_redirect(&config),
            cache_max_age: config.links.cache_max_age,
        },
    );

    let metrics = Arc::new(Metrics::new()?);
    db.register_metrics(metrics.registry())
        .context("registering the store's metrics")?;
    caches
        .register_metrics(metrics.registry())
        .context("registering the cache's metrics")?;
    metrics.register_clicks(queue_for_metrics)?;
    let metrics_listener = match &config.metrics_listen {
        Some(address) => Some(
            TcpListener::bind(address)
                .await
                .with_context(|| format!("binding the metrics listener {address}"))?,
        ),
        None => None,
    };

    let limits = (config.rate_limits == Switch::On)
        .then(|| Arc::new(Limits::new(&config.limits, caches.redis().cloned())));
    if let Some(l) = &limits {
        limit::spawn_upkeep(l.clone());
    }
    // Leaked, once per server: a redirect's copy of a static value is a
    // pointer, where a shared one's is a reference count that every
    // request thread writes (in `perf`, 0.3 % of an L1 hit). Digits and
    // ASCII only, so `from_static` cannot refuse it.
    let cache_control = HeaderValue::from_static(Box::leak(
        format!("private, max-age={}", config.links.cache_max_age).into_boxed_str(),
    ));
    let connections = ConnectionLimits {
        header_timeout: Duration::from_secs(config.http.header_timeout_secs),
        write_timeout: Duration::from_secs(config.http.write_timeout_secs),
        max_connections: connection_cap(config.http.max_connections, fd_limit),
        drain_timeout: config.request_timeout(),
    };
    let state = AppState::new(Handlers {
        links: services.links,
        redirector: Arc::new(redirector),
        stats: Arc::new(StatsService::new(db.links(), db.analytics(), clock.clone())),
        catalog: Arc::new(CatalogService::new(db.catalog(), db.links(), clock.clone())),
        robots: Default::default(),
        accounts: services.accounts,
        reports: services.reports,
        health: db.health(),
        redis: caches.redis().cloned(),
        site: Arc::new(Site {
            base_url: base_url.clone(),
            cache_control,
            cache_max_age: config.links.cache_max_age,
            default_redirect: default_redirect(&config),
            allow_anonymous: config.links.allow_anonymous,
            request_timeout: config.request_timeout(),
            body_timeout: Duration::from_secs(config.http.body_timeout_secs),
            session_ttl: time::Duration::hours(i64::from(config.ui.session_hours.max(1))),
            rest_origins: config.rest.cors_origins.clone(),
        }),
        limits,
        metrics: metrics.clone(),
        metrics_here: metrics_listener.is_none(),
    });
    Ok(App {
        metrics_listener: metrics_listener.map(|l| (l, metrics)),
        listener,
        router: http::router(state.clone()),
        hot: state,
        db,
        clicks,
        retention_days: config.analytics.retention_days,
        clock,
        base_url,
        connections,
        blocklist: watcher,
        proxies: Arc::new(
            TrustedProxies::parse(&config.trusted_proxies, config.trusted_proxies_header)
                .map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))?,
        ),
    })
}

/// Connections the metrics listener serves at once: scrapers, not clients.
const METRICS_CONNECTIONS: usize = 16;

/// File descriptors kept for the store's pools, log files and the like.
const RESERVED_FDS: u64 = 256;

/// The configured connection cap, lowered to what the open-file limit allows.
fn connection_cap(configured: usize, fd_limit: Option<u64>) -> usize {
    let Some(limit) = fd_limit else {
        return configured;
    };
    let room = usize::try_from(limit.saturating_sub(RESERVED_FDS))
        .unwrap_or(usize::MAX)
        .max(1);
    if room < configured {
        tracing::warn!(
            configured,
            allowed = room,
            open_file_limit = limit,
            "http.max_connections lowered to fit the open-file limit"
        );
    }
    configured.min(room)
}

impl App {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The metrics listener's address, when it has one of its own.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|(l, _)| l.local_addr().ok())
    }

    /// Serves until `shutdown` completes, then stops taking connections,
    /// finishes the requests in flight, flushes the counted clicks and
    /// closes the store.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let worker = match self.clicks {
            Some(clicks) => Some(
                analytics::thread::spawn(clicks, stop_rx.clone())
                    .context("starting the click worker's thread")?,
            ),
            None => None,
        };
        tokio::spawn(self.blocklist.run(stop_rx.clone()));
        tokio::spawn(crate::accounts::purge_sessions(
            self.hot.accounts.clone(),
            stop_rx.clone(),
        ));
        if let Some((listener, metrics)) = self.metrics_listener {
            let router = http::ops::metrics_router().with_state(metrics);
            let limits = ConnectionLimits {
                max_connections: METRICS_CONNECTIONS,
                ..self.connections
            };
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                };
                let proxies = Arc::new(TrustedProxies::default());
                if let Err(e) = serve::serve(listener, router, None, limits, proxies, stopped).await
                {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            });
        }
        if self.retention_days > 0 {
            tokio::spawn(worker::run_retention(
                self.db.analytics(),
                self.clock.clone(),
                self.retention_days,
                stop_rx,
            ));
        }
        let served = serve::serve(
            self.listener,
            self.router,
            Some(self.hot),
            self.connections,
            self.proxies,
            shutdown,
        )
        .await;
        let _ = stop_tx.send(true);
        if let Some(worker) = worker {
            if worker.await.is_err() {
                tracing::error!(
                    "the click worker's thread panicked: clicks not yet written are lost"
                );
            }
        }
        self.db.close().await;
        served.context("serving HTTP")
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests and flushing clicks");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_fits_the_open_file_limit() {
        assert_eq!(connection_cap(10_000, Some(1_048_576)), 10_000);
        assert_eq!(connection_cap(10_000, Some(1_024)), 1_024 - 256);
        assert_eq!(connection_cap(10_000, Some(100)), 1, "never zero");
        assert_eq!(connection_cap(500, None), 500);
    }
}
