//! The database away at start and under load, through a TCP proxy the test
//! can cut.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::helpers::{client, expect_error, spawn_on, test_config, Backend};

/// Forwards 127.0.0.1:port to a server (a database, Redis) while up; while
/// down it closes every connection, old and new; stalled, it holds them.
pub(crate) struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    /// While set, connections stay open and nothing crosses them: a
    /// server that accepted and stopped answering.
    stalled: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
}

/// Copies `from` to `to`, holding each chunk while `stalled` is set.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, stalled: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Proxy {
    pub(crate) async fn start(target: SocketAddr, up: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let flag = Arc::new(AtomicBool::new(up));
        let stalled = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (f, s, c) = (flag.clone(), stalled.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !f.load(Ordering::SeqCst) {
                    continue; // dropping the socket refuses the client
                }
                let s = s.clone();
                let task = tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(target).await {
                        let (in_read, in_write) = inbound.into_split();
                        let (out_read, out_write) = outbound.into_split();
                        tokio::join!(
                            pump(in_read, out_write, s.clone()),
                            pump(out_read, in_write, s),
                        );
                    }
                });
                let mut conns = c.lock().expect("lock");
                conns.retain(|h| !h.is_finished());
                conns.push(task.abort_handle());
            }
        });
        Self {
            port,
            up: flag,
            stalled,
            conns,
        }
    }

    /// Stalls every connection, old and new (they stay open, nothing
    /// crosses them, and a close from either side is seen only once they
    /// go on), or lets them go on with what they held. Independent of
    /// [`Self::set_up`].
    pub(crate) fn set_stalled(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::SeqCst);
    }

    pub(crate) fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            for conn in self.conns.lock().expect("lock").drain(..) {
                conn.abort();
            }
        }
    }

    /// `url` pointed at the proxy instead of the server.
    pub(crate) fn url_for(&self, url: &str) -> String {
        let mut u = url::Url::parse(url).expect("url");
        u.set_port(Some(self.port)).expect("port");
        u.to_string()
    }
}

pub(crate) fn server_addr(url: &str) -> SocketAddr {
    let u = url::Url::parse(url).expect("url");
    let host = u.host_str().expect("host");
    let port = u.port_or_known_default().unwrap_or(match u.scheme() {
        "mysql" | "mariadb" => 3306,
        _ => 5432,
    });
    format!("{host}:{port}")
        .parse()
        .expect("an IP address in the test URL")
}

fn fast_failing(config: &mut kurz_server::config::Config) {
    config.pool.acquire_timeout_ms = 1000;
    config.pool.query_timeout_ms = 2000;
}

pub(crate) async fn wait_until(
    what: &str,
    deadline: Duration,
    mut check: impl AsyncFnMut() -> bool,
) {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{what} did not happen within {deadline:?}");
}

async fn starts_without_its_database_and_becomes_ready_when_it_returns(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = backend.fresh_database(&dir).await;
    let proxy = Proxy::start(server_addr(&real), false).await;
    let mut config = test_config(proxy.url_for(&real));
    fast_failing(&mut config);
    let app = kurz_server::startup::build(config)
        .await
        .expect("starts with the database down");
    let base = format!("http://{}", app.local_addr().expect("addr"));
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let c = client();

    assert_eq!(
        c.get(format!("{base}/healthz"))
            .send()
            .await
            .expect("send")
            .status(),
        StatusCode::OK
    );
    let r = c.get(format!("{base}/readyz")).send().await.expect("send");
    expect_error(r, StatusCode::SERVICE_UNAVAILABLE, 50301, None).await;
    // Neither "no such link" nor "bad key" while the store cannot say.
    expect_error(
        c.get(format!("{base}/abcdef")).send().await.expect("send"),
        StatusCode::SERVICE_UNAVAILABLE,
        50301,
        None,
    )
    .await;
    let r = c
        .get(format!("{base}/api/v1/links"))
        .bearer_auth("kurz_x")
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::SERVICE_UNAVAILABLE, 50301, None).await;

    proxy.set_up(true);
    let ready_url = format!("{base}/readyz");
    wait_until("readiness", Duration::from_secs(10), async || {
        c.get(&ready_url)
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
}

async fn writes_answer_503_while_the_database_is_away_and_recover(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = backend.fresh_database(&dir).await;
    let proxy = Proxy::start(server_addr(&real), true).await;
    let mut config = test_config(proxy.url_for(&real));
    fast_failing(&mut config);
    let app = spawn_on(config, dir).await;
    let before = app.shorten("https://example.com/before").await;

    proxy.set_up(false);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (c, key) = (app.client.clone(), app.admin_key.clone());
        let (create, follow) = (app.url("/api/v1/links"), app.url(&format!("/{before}")));
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                c.post(create)
                    .bearer_auth(key)
                    .json(&json!({"url": "https://example.com/during"}))
                    .send()
                    .await
            } else {
                c.get(follow).send().await
            }
            .expect("send")
        }));
    }
    for t in tasks {
        // Never a 404 for a link that exists, never a 2xx without a commit.
        expect_error(
            t.await.expect("task"),
            StatusCode::SERVICE_UNAVAILABLE,
            50301,
            None,
        )
        .await;
    }
    let r = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);

    proxy.set_up(true);
    wait_until("recovery", Duration::from_secs(10), async || {
        app.post(
            "/api/v1/links",
            &app.admin_key,
            json!({"url": "https://example.com/after"}),
        )
        .send()
        .await
        .is_ok_and(|r| r.status() == StatusCode::CREATED)
    })
    .await;
    assert_eq!(app.follow(&before).await.status(), StatusCode::FOUND);
    let list = app.list_as(&app.admin_key, "").await;
    let urls: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|l| l["url"].as_str())
        .collect();
    assert!(
        !urls.contains(&"https://example.com/during"),
        "nothing answered 503 was stored"
    );
}

server_tests!(
    starts_without_its_database_and_becomes_ready_when_it_returns,
    writes_answer_503_while_the_database_is_away_and_recover,
);
