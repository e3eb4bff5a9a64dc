//! The accept loop: HTTP/1.1 over hyper, with the bounds `axum::serve`
//! does not set. Every connection runs under a header time-out, which also
//! applies to a kept-alive connection waiting for its next request, so a
//! client that sends nothing, sends headers slowly or idles is closed after
//! it (kept per connection, not by hyper per request: `serve/head_timeout.rs`);
//! under a write time-out, so a client that stops reading its
//! answers (a full socket buffer, pipelined requests piling up) is closed
//! too; with a small read buffer, so a slow connection holds little memory.
//! Open connections are capped, and at the cap new ones wait in the
//! kernel's backlog instead of taking file descriptors. Graceful shutdown
//! stops accepting, closes idle connections and lets requests in flight
//! finish. HTTP/2 is left to the proxy in front (ADR 0010).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use std::convert::Infallible;

use axum::Router;
use futures_util::future::Either;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;

use crate::http::client_ip::{ClientIp, TrustedProxies};
use crate::http::{self, AppState};

mod head_timeout;

use head_timeout::Activity;

/// The most bytes of a request head (and of body reads) hyper buffers per
/// connection.
const MAX_HEAD_BUFFER: usize = 64 * 1024;
/// The largest request line and headers: a browser with many cookies stays
/// well below, as with nginx's default of 4 × 8 KiB.
const MAX_HEAD_SIZE: usize = 32 * 1024;

/// The bounds of one listener.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Longest wait for a request's headers, idle time between requests
    /// included.
    pub header_timeout: Duration,
    /// Longest a write to the client may stay blocked.
    pub write_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// How long shutdown waits for requests in flight.
    pub drain_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes; with `hot`,
/// redirects are answered before the router (`http::hot`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    hot: Option<AppState>,
    limits: ConnectionLimits,
    proxies: Arc<TrustedProxies>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    // hyper's header time-out (on by default, given a timer) would arm a
    // timer per request; the watchdog below keeps it per connection.
    http.header_read_timeout(None)
        // Request line and headers, buffered: hyper's default lets each
        // connection hold about 400 KiB.
        .max_buf_size(MAX_HEAD_BUFFER)
        // A head past this answers 431 (the buffer alone lets a little
        // more through); hyper's default of 100 header fields also holds.
        .max_header_size(MAX_HEAD_SIZE);
    let mut at_cap = false;
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = take_slot(&slots, &mut at_cap, limits.max_connections) => slot,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small answers (redirects) must not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let mut stream = TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.write_timeout));
        let stream = Box::pin(stream);
        let (router, hot, proxies) = (router.clone(), hot.clone(), proxies.clone());
        let activity = Arc::new(Activity::default());
        let seen = activity.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            seen.head();
            let client = proxies.client_ip(peer.ip(), req.headers());
            let answer = match hot.as_ref().filter(|_| http::hot::slug_of(&req).is_some()) {
                Some(state) => {
                    let state = state.clone();
                    Either::Left(async move {
                        Ok::<_, Infallible>(http::hot::answer(&state, req, client).await)
                    })
                }
                None => {
                    req.extensions_mut().insert(ClientIp(client));
                    Either::Right(router.clone().oneshot(req))
                }
            };
            let seen = seen.clone();
            async move { answer.await.map(|response| seen.track(response)) }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // The connection first: the watchdog only matters once the
            // connection has nothing to do.
            tokio::select! {
                biased;
                // Errors here are the client's (reset, bad request line);
                // hyper has answered what could be answered.
                _ = connection => {}
                // Dropping the connection closes it.
                () = activity.waited_too_long(limits.header_timeout) => {}
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running at the end of the drain time-out were cut off");
    }
    Ok(())
}

/// A connection slot; logs once each time the cap is reached.
async fn take_slot(slots: &Arc<Semaphore>, at_cap: &mut bool, cap: usize) -> OwnedSemaphorePermit {
    if let Ok(slot) = slots.clone().try_acquire_owned() {
        *at_cap = false;
        return slot;
    }
    if !*at_cap {
        tracing::warn!(
            max_connections = cap,
            "connection cap reached; new connections wait until one closes"
        );
        *at_cap = true;
    }
    // The semaphore is never closed, so this only ever returns a slot.
    loop {
        if let Ok(slot) = slots.clone().acquire_owned().await {
            return slot;
        }
    }
}

/// Errors of one incoming connection (reset before accept) are its own;
/// others (out of file descriptors) affect every accept, so wait a little
/// instead of spinning.
async fn accept_failed(e: &io::Error) {
    use io::ErrorKind as K;
    if matches!(
        e.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::ConnectionRefused | K::Interrupted
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Raises the open-file soft limit to the hard limit, so the connection cap,
/// not a default of 1,024 (usual under systemd), decides how many clients
/// are served. Returns the soft limit now in force.
pub fn raise_fd_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}
