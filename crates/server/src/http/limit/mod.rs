//! Rate limits (GCRA) at two levels (ADR 0019): in process first (governor,
//! cheap, and enough on one node), then, with `--redis`, shared by every
//! node, so a fleet gives each client one budget, not one per node.
//!
//! Budgets: link creation, the rest of the API, redirects, "no such link"
//! answers on the redirect path (so a scanner cannot harvest slugs at the
//! redirect budget), and password attempts on protected links. API budgets
//! hold per client IP, per API key and per user; the redirect path's per
//! client IP. A limited request gets 429 (42901) with `Retry-After`; API
//! answers also carry `RateLimit-Policy` and `RateLimit`.
//!
//! Clients are told apart by IP address (IPv6 by network, `/64` by default:
//! one holder of a /64 has 2^64 addresses), the one the accept loop resolved
//! ([`ClientIp`]): the peer's, or behind the proxies of `--trusted-proxies`
//! the address they forwarded (ADR 0016).
//!
//! - `bounded` — the in-process limiter's memory, with a ceiling.
//! - `shared` — the Redis level and the redirect path's penalties.

mod bounded;
mod shared;

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{Quota, RateLimiter};

use kurz_core::account::Principal;
use kurz_store::cache::Redis;

use self::bounded::BoundedStore;
use self::shared::Shared;
use super::client_ip::ClientIp;
use super::error::ApiError;
use super::extract::{self, Caller};
use super::AppState;
use crate::config::LimitsConfig;
use crate::metrics::Limit;

/// One budget: its name (in headers and Redis keys) and its rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Policy {
    name: &'static str,
    burst: u32,
    /// The window `burst` cells are given over, in seconds.
    window: u32,
}

impl Policy {
    fn per_minute(name: &'static str, n: u32) -> Self {
        Self {
            name,
            burst: n.max(1),
            window: 60,
        }
    }

    fn per_second(name: &'static str, n: u32) -> Self {
        Self {
            name,
            burst: n.max(1),
            window: 1,
        }
    }

    fn per_hour(name: &'static str, n: u32) -> Self {
        Self {
            name,
            burst: n.max(1),
            window: 3600,
        }
    }

    fn quota(self) -> Quota {
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        match self.window {
            1 => Quota::per_second(burst),
            60 => Quota::per_minute(burst),
            _ => Quota::per_hour(burst),
        }
    }

    fn interval(self) -> Duration {
        Duration::from_secs(u64::from(self.window)) / self.burst
    }

    fn bucket(self, client: &str, cost: u32) -> kurz_store::cache::Bucket {
        kurz_store::cache::Bucket {
            key: format!("{}:{client}", self.name),
            interval: self.interval(),
            burst: self.burst,
            cost,
        }
    }
}

/// Who an API budget is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    Ip(IpAddr),
    Key(i64),
    User(i64),
}

impl Client {
    fn name(self) -> String {
        match self {
            Self::Ip(ip) => format!("ip:{ip}"),
            Self::Key(id) => format!("key:{id}"),
            Self::User(id) => format!("user:{id}"),
        }
    }
}

type Local<K> = RateLimiter<K, BoundedStore<K>, DefaultClock, StateInformationMiddleware>;

/// A budget's in-process limiter and its policy.
#[derive(Debug)]
struct Budget<K: std::hash::Hash + Eq + Clone> {
    policy: Policy,
    local: Local<K>,
}

impl<K: std::hash::Hash + Eq + Clone> Budget<K> {
    fn new(policy: Policy, max_clients: usize) -> Self {
        let quota = policy.quota();
        let store = BoundedStore::new(max_clients, quota.burst_size_replenished_in().into());
        Self {
            policy,
            local: Local::new(quota, store, DefaultClock::default()),
        }
    }

    /// Takes a cell: `Ok(cells left)` or `Err(wait)`.
    fn take(&self, key: &K, clock: &DefaultClock) -> Result<u32, Duration> {
        self.local
            .check_key(key)
            .map(|s| s.remaining_burst_capacity())
            .map_err(|not_until| not_until.wait_time_from(clock.now()))
    }

    fn forget_idle(&self) {
        self.local.retain_recent();
        self.local.shrink_to_fit();
    }
}

/// What a budget said about a request, for the `RateLimit` headers.
#[derive(Debug, Clone, Copy)]
pub struct Allowance {
    policy: Policy,
    remaining: u32,
    /// Until one more request fits (limited) or the budget is whole again.
    reset: Duration,
}

impl Allowance {
    fn new(policy: Policy, remaining: u32, wait: Option<Duration>) -> Self {
        let reset = wait.unwrap_or_else(|| {
            policy.interval() * policy.burst.saturating_sub(remaining.min(policy.burst))
        });
        Self {
            policy,
            remaining: if wait.is_some() { 0 } else { remaining },
            reset,
        }
    }

    /// Of two budgets, the one that runs out first.
    fn tighter(self, other: Self) -> Self {
        if (other.remaining, std::cmp::Reverse(other.reset))
            < (self.remaining, std::cmp::Reverse(self.reset))
        {
            other
        } else {
            self
        }
    }

    /// `RateLimit-Policy` and `RateLimit` (the IETF httpapi draft's
    /// structured fields).
    fn write(&self, response: &mut Response) {
        let p = self.policy;
        let headers = response.headers_mut();
        if let Ok(v) =
            HeaderValue::from_str(&format!("\"{}\";q={};w={}", p.name, p.burst, p.window))
        {
            headers.insert("ratelimit-policy", v);
        }
        let reset = self.reset.as_secs() + u64::from(self.reset.subsec_nanos() > 0);
        if let Ok(v) =
            HeaderValue::from_str(&format!("\"{}\";r={};t={reset}", p.name, self.remaining))
        {
            headers.insert("ratelimit", v);
        }
    }
}

#[derive(Debug)]
pub struct Limits {
    create: Budget<Client>,
    api: Budget<Client>,
    redirect: Budget<IpAddr>,
    not_found: Budget<IpAddr>,
    /// Per protected link and client network.
    password: Budget<(i64, IpAddr)>,
    /// Per client network across all links: guessing on many links at once
    /// must not take every hashing slot.
    password_client: Budget<IpAddr>,
    /// Abuse reports per client network (API and preview form together).
    report: Budget<IpAddr>,
    /// UI logins per user name and client network.
    login: Budget<(String, IpAddr)>,
    /// UI logins per user name from anywhere: ten times the above, a
    /// ceiling for guessers spread over many networks.
    login_name: Budget<String>,
    /// UI logins per client network, over all names.
    login_client: Budget<IpAddr>,
    /// The redirect path's refusals until a time (also without Redis: the
    /// "no such link" budget fills it).
    penalties: Arc<shared::Penalties>,
    shared: Option<Arc<Shared>>,
    ipv6_prefix: u8,
    clock: DefaultClock,
}

impl Limits {
    /// `redis`: the shared level; without it, limits hold per node.
    pub fn new(config: &LimitsConfig, redis: Option<Arc<Redis>>) -> Self {
        let max = config.max_tracked_clients.max(1);
        let shared = redis.map(|r| Arc::new(Shared::new(r)));
        Self {
            create: Budget::new(Policy::per_minute("create", config.create_per_minute), max),
            api: Budget::new(Policy::per_minute("api", config.api_per_minute), max),
            redirect: Budget::new(
                Policy::per_second("redirect", config.redirect_per_second),
                max,
            ),
            not_found: Budget::new(
                Policy::per_minute("not_found", config.not_found_per_minute),
                max,
            ),
            password: Budget::new(
                Policy::per_minute("password", config.password_attempts_per_minute),
                max,
            ),
            password_client: Budget::new(
                Policy::per_minute(
                    "password_client",
                    config.password_attempts_per_client_per_minute,
                ),
                max,
            ),
            report: Budget::new(Policy::per_hour("report", config.reports_per_hour), max),
            login: Budget::new(
                Policy::per_minute("login", config.login_attempts_per_minute),
                max,
            ),
            login_name: Budget::new(
                Policy::per_minute(
                    "login_name",
                    config.login_attempts_per_minute.saturating_mul(10),
                ),
                max,
            ),
            login_client: Budget::new(
                Policy::per_minute("login_client", config.login_attempts_per_client_per_minute),
                max,
            ),
            penalties: shared
                .as_ref()
                .map_or_else(Default::default, |s| s.penalties.clone()),
            shared,
            ipv6_prefix: config.ipv6_prefix.clamp(1, 128),
            clock: DefaultClock::default(),
        }
    }

    /// Forgets clients whose buckets are full again and penalties that are
    /// over, so memory follows the number of recent clients.
    pub fn forget_idle(&self) {
        self.create.forget_idle();
        self.api.forget_idle();
        self.redirect.forget_idle();
        self.not_found.forget_idle();
        self.password.forget_idle();
        self.password_client.forget_idle();
        self.report.forget_idle();
        self.login.forget_idle();
        self.login_name.forget_idle();
        self.login_client.forget_idle();
        self.penalties.forget_over();
    }

    /// The address a client is limited by: IPv4 as is, IPv6 cut to its
    /// network.
    pub fn client(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let bits = u128::from(v6);
                    let mask = u128::MAX << (128 - u32::from(self.ipv6_prefix));
                    IpAddr::V6(Ipv6Addr::from(bits & mask))
                }
            },
        }
    }

    /// One password attempt on link `link_id` from `ip`, right before the
    /// password is hashed: the per-link budget first, then the client's
    /// over all links (so an attempt refused per link costs the client
    /// nothing), then both in Redis, so guessing across nodes is limited
    /// as on one. `Err` is the wait. Every attempt that reaches a check
    /// counts: the right password redirects the visitor away, so only
    /// guessing comes back for more.
    pub async fn check_password_attempt(&self, link_id: i64, ip: IpAddr) -> Result<(), Duration> {
        let client = self.client(ip);
        self.password.take(&(link_id, client), &self.clock)?;
        self.password_client.take(&client, &self.clock)?;
        let buckets = [
            (self.password.policy, format!("{link_id}:{client}")),
            (self.password_client.policy, client.to_string()),
        ];
        self.check_shared(&buckets).await
    }

    /// One login attempt for `username` from `ip`, before its password is
    /// hashed: the client's budget over all names first, then the name's
    /// from this client, then the name's from anywhere (ten times larger),
    /// then all three in Redis. An attempt refused by one budget costs the
    /// later ones nothing, so a client past its own budget cannot drain a
    /// name's, and locking someone out takes many networks, not one.
    /// Names count lower-cased: the store's lookup decides whether one
    /// exists, and a limit must not say so.
    pub async fn check_login(&self, username: &str, ip: IpAddr) -> Result<(), Duration> {
        let client = self.client(ip);
        // Bounded: a user name is at most 64 characters; anything longer
        // is no account and shares one bucket.
        let name = if username.len() <= 64 {
            username.to_lowercase()
        } else {
            String::from("(too long)")
        };
        self.login_client.take(&client, &self.clock)?;
        self.login.take(&(name.clone(), client), &self.clock)?;
        self.login_name.take(&name, &self.clock)?;
        let buckets = [
            (self.login_client.policy, client.to_string()),
            (self.login.policy, format!("{name}:{client}")),
            (self.login_name.policy, name),
        ];
        self.check_shared(&buckets).await
    }

    /// The shared level's verdict on `buckets`: the longest wait when any
    /// is over. Redis down or absent: the in-process level decided alone.
    async fn check_shared(&self, buckets: &[(Policy, String)]) -> Result<(), Duration> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        match shared.check(buckets).await {
            Some(verdicts) if verdicts.iter().any(|v| !v.fits) => {
                Err(verdicts.iter().map(|v| v.wait).max().unwrap_or_default())
            }
            _ => Ok(()),
        }
    }

    /// One abuse report from `ip`, in process and then in Redis.
    pub async fn check_report(&self, ip: IpAddr) -> Result<(), ApiError> {
        let client = self.client(ip);
        self.report
            .take(&client, &self.clock)
            .map_err(ApiError::RateLimited)?;
        let bucket = [(self.report.policy, client.to_string())];
        self.check_shared(&bucket)
            .await
            .map_err(ApiError::RateLimited)
    }

    /// One request of the redirect path for `ip`: its redirect budget, and
    /// whether it is turned away (shared budget spent elsewhere, or its "no
    /// such link" budget). Never waits.
    pub fn check_redirect(&self, ip: IpAddr) -> Result<(), (Limit, ApiError)> {
        let client = self.client(ip);
        if let Some((wait, which)) = self.penalties.wait(client) {
            return Err((which, ApiError::RateLimited(wait)));
        }
        self.redirect
            .take(&client, &self.clock)
            .map_err(|wait| (Limit::Redirect, ApiError::RateLimited(wait)))?;
        if let Some(shared) = &self.shared {
            shared.charge(self.redirect.policy, client);
        }
        Ok(())
    }

    /// A "no such link" answered to `ip`. Past the budget, the client's
    /// redirect-path requests are all turned away for the wait, found or
    /// not: refusing only the misses would still tell a scanner which
    /// slugs exist.
    pub fn not_found(&self, ip: IpAddr) {
        let client = self.client(ip);
        if let Err(wait) = self.not_found.take(&client, &self.clock) {
            self.penalties.add(client, wait, Limit::NotFound);
        }
        if let Some(shared) = &self.shared {
            shared.charge(self.not_found.policy, client);
        }
    }

    /// A UI request that does what the API's `which` does (shortening, or
    /// anything else): the same budgets, per client and per user, so the
    /// pages are no way around the API's limits. `Err` is the wait.
    pub async fn check_ui(
        &self,
        which: Limit,
        ip: IpAddr,
        caller: Option<&Principal>,
    ) -> Result<(), Duration> {
        let budget = self.budget(which);
        let start = self.check_ip(budget, ip).map_err(|a| a.reset)?;
        self.check_caller(budget, Some(ip), caller, start)
            .await
            .map(|_| ())
            .map_err(|a| a.reset)
    }

    /// A UI request's share of the API's per-client budget, taken before
    /// its session is looked up (as the API's is before its key). Never
    /// waits. `Err` is the wait.
    pub fn check_ui_client(&self, ip: IpAddr) -> Result<(), Duration> {
        self.check_ip(&self.api, ip)
            .map(|_| ())
            .map_err(|a| a.reset)
    }

    /// An API request's budgets: the client IP's in process (before the key
    /// is looked up: it shields the lookup from floods) is `ip_first`; the
    /// key's and the user's in process, then all three in Redis, are
    /// [`Self::check_caller`].
    fn check_ip(&self, budget: &Budget<Client>, ip: IpAddr) -> Result<Allowance, Allowance> {
        let client = Client::Ip(self.client(ip));
        match budget.take(&client, &self.clock) {
            Ok(left) => Ok(Allowance::new(budget.policy, left, None)),
            Err(wait) => Err(Allowance::new(budget.policy, 0, Some(wait))),
        }
    }

    async fn check_caller(
        &self,
        budget: &Budget<Client>,
        ip: Option<IpAddr>,
        caller: Option<&Principal>,
        mut allowance: Allowance,
    ) -> Result<Allowance, Allowance> {
        let mut clients = Vec::with_capacity(3);
        if let Some(ip) = ip {
            clients.push(Client::Ip(self.client(ip)));
        }
        if let Some(who) = caller {
            // A UI session has no key (`key_id` 0): its user is its budget,
            // and the sessions of different users share nothing.
            let key = (who.key_id != 0).then_some(Client::Key(who.key_id));
            for client in key.into_iter().chain([Client::User(who.user_id)]) {
                match budget.take(&client, &self.clock) {
                    Ok(left) => {
                        allowance = allowance.tighter(Allowance::new(budget.policy, left, None));
                    }
                    Err(wait) => return Err(Allowance::new(budget.policy, 0, Some(wait))),
                }
                clients.push(client);
            }
        }
        let Some(shared) = &self.shared else {
            return Ok(allowance);
        };
        let buckets: Vec<_> = clients.iter().map(|c| (budget.policy, c.name())).collect();
        let Some(verdicts) = shared.check(&buckets).await else {
            return Ok(allowance);
        };
        if let Some(wait) = verdicts.iter().filter(|v| !v.fits).map(|v| v.wait).max() {
            return Err(Allowance::new(budget.policy, 0, Some(wait)));
        }
        for v in verdicts {
            allowance = allowance.tighter(Allowance::new(budget.policy, v.remaining, None));
        }
        Ok(allowance)
    }
}

/// The client's address as the accept loop resolved it
/// ([`ClientIp`]: the peer, or what trusted proxies forwarded).
pub(crate) fn client_ip(req: &Request) -> Option<IpAddr> {
    req.extensions().get::<ClientIp>().map(|&ClientIp(ip)| ip)
}

fn limited(state: &AppState, which: Limit, allowance: Allowance) -> Response {
    state.metrics.rate_limited(which);
    let mut response = ApiError::RateLimited(allowance.reset).into_response();
    allowance.write(&mut response);
    response
}

/// For the API router, in this order: the client IP's budget in process
/// (cheap, and it shields the key lookup from floods), then the API key,
/// once per request (handlers read the [`Caller`] it leaves), then the
/// key's and the user's budgets, then all of them in Redis. Creations and
/// other calls have separate budgets.
pub async fn guard_api(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let creates = matches!(
        req.uri().path(),
        "/api/v1/links" | "/rest/v3/short-urls" | "/rest/v2/short-urls"
    );
    let which = if req.method() == Method::POST && creates {
        Limit::Create
    } else {
        Limit::Api
    };
    let ip = client_ip(&req);
    let mut allowance = None;
    if let (Some(limits), Some(ip)) = (state.limits.as_deref(), ip) {
        let budget = limits.budget(which);
        match limits.check_ip(budget, ip) {
            Ok(a) => allowance = Some(a),
            Err(a) => return limited(&state, which, a),
        }
    }
    let caller = match extract::authenticate(&state, req.headers()).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    if let Some(limits) = state.limits.as_deref() {
        let budget = limits.budget(which);
        let start = allowance.unwrap_or(Allowance::new(budget.policy, budget.policy.burst, None));
        match limits
            .check_caller(budget, ip, caller.as_ref(), start)
            .await
        {
            Ok(a) => allowance = Some(a),
            Err(a) => return limited(&state, which, a),
        }
    }
    req.extensions_mut().insert(Caller(caller));
    let mut response = next.run(req).await;
    if let Some(a) = allowance {
        a.write(&mut response);
    }
    response
}

impl Limits {
    fn budget(&self, which: Limit) -> &Budget<Client> {
        match which {
            Limit::Create => &self.create,
            _ => &self.api,
        }
    }
}

/// For the redirect router: per client IP.
pub async fn limit_redirects(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let (Some(limits), Some(ip)) = (state.limits.as_deref(), client_ip(&req)) {
        if let Err((which, e)) = limits.check_redirect(ip) {
            state.metrics.rate_limited(which);
            return super::pages::error(e, req.headers());
        }
    }
    next.run(req).await
}

/// For the life of the process: forgets idle clients every minute
/// ([`Limits::forget_idle`]) and, with Redis, sends the redirect path's
/// charges (every 100 ms).
pub fn spawn_upkeep(limits: Arc<Limits>) {
    if let Some(shared) = &limits.shared {
        shared::spawn_flusher(shared.clone());
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limits.forget_idle();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn limits(change: impl FnOnce(&mut LimitsConfig)) -> Limits {
        let mut config = Config::default().limits;
        change(&mut config);
        Limits::new(&config, None)
    }

    #[test]
    fn ipv6_clients_share_a_budget_per_network() {
        let limits = limits(|_| {});
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(limits.client(a), limits.client(b));
        assert_ne!(limits.client(a), limits.client(other));
        let v4: IpAddr = "192.0.2.7".parse().expect("ip");
        assert_eq!(limits.client(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(limits.client(mapped), v4);
    }

    #[tokio::test]
    async fn password_attempts_are_limited_per_client_across_links() {
        let limits = limits(|c| c.password_attempts_per_client_per_minute = 4);
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        for link in 1..=4 {
            limits
                .check_password_attempt(link, ip)
                .await
                .expect("within budget");
        }
        assert!(limits.check_password_attempt(5, ip).await.is_err());
        limits
            .check_password_attempt(5, "192.0.2.8".parse().expect("ip"))
            .await
            .expect("another client has its own budget");
    }

    #[tokio::test]
    async fn password_attempts_are_limited_per_link_and_client() {
        let limits = limits(|c| c.password_attempts_per_minute = 3);
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        for _ in 0..3 {
            limits
                .check_password_attempt(1, ip)
                .await
                .expect("within budget");
        }
        assert!(limits.check_password_attempt(1, ip).await.is_err());
        limits
            .check_password_attempt(2, ip)
            .await
            .expect("another link has its own budget");
        limits
            .check_password_attempt(1, "192.0.2.8".parse().expect("ip"))
            .await
            .expect("another client has its own budget");
    }

    #[test]
    fn past_its_not_found_budget_a_client_is_turned_away_even_from_links_that_exist() {
        let limits = limits(|c| c.not_found_per_minute = 3);
        let scanner: IpAddr = "192.0.2.7".parse().expect("ip");
        for _ in 0..3 {
            limits.check_redirect(scanner).expect("within budget");
            limits.not_found(scanner);
        }
        limits
            .check_redirect(scanner)
            .expect("the budget is spent, not exceeded");
        limits.not_found(scanner);
        let (which, e) = limits.check_redirect(scanner).expect_err("turned away");
        assert_eq!(which, Limit::NotFound);
        let wait = e.retry_after().expect("a wait");
        assert!(wait > Duration::from_secs(15) && wait <= Duration::from_secs(20));
        limits
            .check_redirect("192.0.2.8".parse().expect("ip"))
            .expect("another client is not");
    }

    #[test]
    fn the_rate_limit_headers_name_the_tighter_budget() {
        let policy = Policy::per_minute("create", 60);
        let a = Allowance::new(policy, 10, None);
        let b = Allowance::new(policy, 3, None);
        let mut response = Response::new(axum::body::Body::empty());
        a.tighter(b).write(&mut response);
        assert_eq!(
            response.headers()["ratelimit-policy"],
            "\"create\";q=60;w=60"
        );
        assert_eq!(response.headers()["ratelimit"], "\"create\";r=3;t=57");
        let limited = Allowance::new(policy, 0, Some(Duration::from_millis(2500)));
        let mut response = Response::new(axum::body::Body::empty());
        limited.write(&mut response);
        assert_eq!(response.headers()["ratelimit"], "\"create\";r=0;t=3");
    }
}
