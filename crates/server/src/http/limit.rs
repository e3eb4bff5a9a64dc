//! Rate limits (GCRA, via governor), kept separately for link creation, the
//! rest of the API, redirects, and password attempts on protected links. A
//! limited request gets 429 (42901) with `Retry-After`.
//!
//! Clients are told apart by IP address (IPv6 by network, `/64` by default:
//! one holder of a /64 has 2^64 addresses) and, on the API, by the
//! authenticated key's ID, however the key was spelled in the request.
//!
//! The client IP is the one the accept loop resolved ([`ClientIp`]): the
//! peer's address, or behind the proxies of `--trusted-proxies` the address
//! they forwarded (ADR 0016).

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::client_ip::ClientIp;
use super::error::ApiError;
use super::extract::{self, Caller};
use super::AppState;
use crate::config::LimitsConfig;
use crate::metrics::Limit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    Ip(IpAddr),
    Key(i64),
}

#[derive(Debug)]
pub struct Limits {
    create: DefaultKeyedRateLimiter<Client>,
    api: DefaultKeyedRateLimiter<Client>,
    redirect: DefaultKeyedRateLimiter<Client>,
    /// Per protected link and client network.
    password: DefaultKeyedRateLimiter<(i64, IpAddr)>,
    /// Per client network across all links: guessing on many links at once
    /// must not take every hashing slot.
    password_client: DefaultKeyedRateLimiter<IpAddr>,
    /// Abuse reports per client network (API and preview form together).
    report: DefaultKeyedRateLimiter<IpAddr>,
    ipv6_prefix: u8,
    clock: DefaultClock,
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl Limits {
    pub fn new(config: &LimitsConfig) -> Self {
        Self {
            create: RateLimiter::keyed(Quota::per_minute(nonzero(config.create_per_minute))),
            api: RateLimiter::keyed(Quota::per_minute(nonzero(config.api_per_minute))),
            redirect: RateLimiter::keyed(Quota::per_second(nonzero(config.redirect_per_second))),
            password: RateLimiter::keyed(Quota::per_minute(nonzero(
                config.password_attempts_per_minute,
            ))),
            password_client: RateLimiter::keyed(Quota::per_minute(nonzero(
                config.password_attempts_per_client_per_minute,
            ))),
            report: RateLimiter::keyed(Quota::per_hour(nonzero(config.reports_per_hour))),
            ipv6_prefix: config.ipv6_prefix.clamp(1, 128),
            clock: DefaultClock::default(),
        }
    }

    /// Forgets clients whose buckets are full again, so memory follows the
    /// number of recent clients, not of all clients ever.
    pub fn forget_idle(&self) {
        for l in [&self.create, &self.api, &self.redirect] {
            l.retain_recent();
            l.shrink_to_fit();
        }
        self.password.retain_recent();
        self.password.shrink_to_fit();
        self.password_client.retain_recent();
        self.password_client.shrink_to_fit();
        self.report.retain_recent();
        self.report.shrink_to_fit();
    }

    /// One abuse report from `ip`.
    pub fn check_report(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.check(&self.report, &self.client(ip))
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
    /// nothing). `Err` is the wait. Every attempt that reaches a check
    /// counts: the right password redirects the visitor away, so only
    /// guessing comes back for more.
    pub fn check_password_attempt(&self, link_id: i64, ip: IpAddr) -> Result<(), Duration> {
        let client = self.client(ip);
        let wait = |not_until: governor::NotUntil<_>| not_until.wait_time_from(self.clock.now());
        self.password.check_key(&(link_id, client)).map_err(wait)?;
        self.password_client.check_key(&client).map_err(wait)
    }

    fn check<K: Clone + Eq + std::hash::Hash>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        client: &K,
    ) -> Result<(), ApiError> {
        limiter
            .check_key(client)
            .map_err(|not_until| ApiError::RateLimited(not_until.wait_time_from(self.clock.now())))
    }
}

/// The client's address as the accept loop resolved it
/// ([`ClientIp`]: the peer, or what trusted proxies forwarded).
pub(crate) fn client_ip(req: &Request) -> Option<IpAddr> {
    req.extensions().get::<ClientIp>().map(|&ClientIp(ip)| ip)
}

/// For the API router, in this order: the client IP's budget (cheap, and
/// it shields the key lookup from floods), then the API key, once per
/// request (handlers read the [`Caller`] it leaves), then the key's budget.
/// Creations and other calls have separate budgets.
pub async fn guard_api(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let limits = state.limits.as_deref();
    let which = if req.method() == Method::POST && req.uri().path() == "/api/v1/links" {
        Limit::Create
    } else {
        Limit::Api
    };
    let limiter = limits.map(|l| match which {
        Limit::Create => &l.create,
        _ => &l.api,
    });
    if let (Some(limits), Some(limiter), Some(ip)) = (limits, limiter, client_ip(&req)) {
        if let Err(e) = limits.check(limiter, &Client::Ip(limits.client(ip))) {
            state.metrics.rate_limited(which);
            return e.into_response();
        }
    }
    let caller = match extract::authenticate(&state, req.headers()).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    if let (Some(limits), Some(limiter), Some(who)) = (limits, limiter, &caller) {
        if let Err(e) = limits.check(limiter, &Client::Key(who.key_id)) {
            state.metrics.rate_limited(which);
            return e.into_response();
        }
    }
    req.extensions_mut().insert(Caller(caller));
    next.run(req).await
}

impl Limits {
    /// One redirect (or page of the redirect path) for `ip`.
    pub fn check_redirect(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.check(&self.redirect, &Client::Ip(self.client(ip)))
    }
}

/// For the redirect router: per client IP.
pub async fn limit_redirects(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let (Some(limits), Some(ip)) = (state.limits.as_deref(), client_ip(&req)) {
        if let Err(e) = limits.check_redirect(ip) {
            state.metrics.rate_limited(Limit::Redirect);
            return e.into_response();
        }
    }
    next.run(req).await
}

/// Runs [`Limits::forget_idle`] every minute for the life of the process.
pub fn spawn_cleanup(limits: Arc<Limits>) {
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

    #[test]
    fn ipv6_clients_share_a_budget_per_network() {
        let limits = Limits::new(&Config::default().limits);
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

    #[test]
    fn password_attempts_are_limited_per_client_across_links() {
        let mut config = Config::default().limits;
        config.password_attempts_per_client_per_minute = 4;
        let limits = Limits::new(&config);
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        for link in 1..=4 {
            limits
                .check_password_attempt(link, ip)
                .expect("within budget");
        }
        assert!(limits.check_password_attempt(5, ip).is_err());
        limits
            .check_password_attempt(5, "192.0.2.8".parse().expect("ip"))
            .expect("another client has its own budget");
    }

    #[test]
    fn password_attempts_are_limited_per_link_and_client() {
        let mut config = Config::default().limits;
        config.password_attempts_per_minute = 3;
        let limits = Limits::new(&config);
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        for _ in 0..3 {
            limits.check_password_attempt(1, ip).expect("within budget");
        }
        assert!(limits.check_password_attempt(1, ip).is_err());
        limits
            .check_password_attempt(2, ip)
            .expect("another link has its own budget");
        limits
            .check_password_attempt(1, "192.0.2.8".parse().expect("ip"))
            .expect("another client has its own budget");
    }
}
