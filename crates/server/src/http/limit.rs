//! Rate limits (GCRA, via governor) per client IP and per API key, kept
//! separately for link creation, the rest of the API, and redirects. A
//! limited request gets 429 (42901) with `Retry-After`.
//!
//! The client IP is the peer address: behind a load balancer every client
//! shares the balancer's address, so raise the limits there or turn them off
//! and limit at the balancer.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::ApiError;
use super::AppState;
use crate::config::LimitsConfig;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Client {
    Ip(IpAddr),
    /// A hash of the API key: the key itself is not kept in memory longer
    /// than the request.
    Key(u64),
}

#[derive(Debug)]
pub struct Limits {
    create: DefaultKeyedRateLimiter<Client>,
    api: DefaultKeyedRateLimiter<Client>,
    redirect: DefaultKeyedRateLimiter<Client>,
    hasher: RandomState,
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
            hasher: RandomState::new(),
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
    }

    fn check(
        &self,
        limiter: &DefaultKeyedRateLimiter<Client>,
        client: &Client,
    ) -> Result<(), ApiError> {
        limiter
            .check_key(client)
            .map_err(|not_until| ApiError::RateLimited(not_until.wait_time_from(self.clock.now())))
    }
}

fn peer_ip(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// For the API router: creations and other calls have separate budgets.
pub async fn limit_api(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(limits) = state.limits.as_deref() else {
        return next.run(req).await;
    };
    let limiter = if req.method() == Method::POST && req.uri().path() == "/api/v1/links" {
        &limits.create
    } else {
        &limits.api
    };
    let key = req
        .headers()
        .get(header::AUTHORIZATION)
        .or_else(|| req.headers().get("x-api-key"))
        .map(|v| Client::Key(limits.hasher.hash_one(v.as_bytes())));
    let ip = peer_ip(&req).map(Client::Ip);
    for client in [ip, key].iter().flatten() {
        if let Err(e) = limits.check(limiter, client) {
            return e.into_response();
        }
    }
    next.run(req).await
}

/// For the redirect router: per client IP.
pub async fn limit_redirects(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let (Some(limits), Some(ip)) = (state.limits.as_deref(), peer_ip(&req)) {
        if let Err(e) = limits.check(&limits.redirect, &Client::Ip(ip)) {
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
