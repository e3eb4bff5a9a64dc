//! Operating kurz (issue 10): metrics scraped by a real Prometheus, spans
//! received by an OTLP/HTTP endpoint, and logs that keep secrets out. Each
//! test runs the `kurz` binary, as an operator would.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::post;
use axum::Router;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::cli::{add_admin, free_port, KURZ};
use crate::helpers::{client, spawn_app, Backend, TestApp};

/// `kurz serve` on a fresh port, with `args` and `env` added; waits until
/// it answers.
async fn serve(db: &str, args: &[&str], env: &[(&str, &str)], stderr: Stdio) -> (Child, String) {
    let port = free_port();
    let mut command = Command::new(KURZ);
    command
        .env_remove("KURZ_CONFIG")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .args(["--database", db, "serve", "--rate-limits", "off"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .stderr(stderr);
    let mut child = command.spawn().expect("spawn kurz");
    let base = format!("http://127.0.0.1:{port}");
    let c = client();
    for _ in 0..100 {
        if c.get(format!("{base}/healthz")).send().await.is_ok() {
            return (child, base);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("kurz did not start");
}

/// SIGTERM, then wait for the exit (the graceful path flushes and closes).
fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("kurz did not stop within 30 s of SIGTERM");
}

async fn create_link(base: &str, key: &str, body: Value) -> String {
    let r = client()
        .post(format!("{base}/api/v1/links"))
        .header("x-api-key", key)
        .json(&body)
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::CREATED);
    let link: Value = r.json().await.expect("json");
    link["slug"].as_str().expect("slug").to_owned()
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("kurz.db").display())
}

/// One instant query to Prometheus's HTTP API: the first sample's value.
async fn query(prometheus: &str, q: &str) -> Option<String> {
    let r = client()
        .get(format!("{prometheus}/api/v1/query"))
        .query(&[("query", q)])
        .send()
        .await
        .ok()?;
    let body: Value = r.json().await.ok()?;
    assert_eq!(body["status"], "success", "{q}: {body}");
    body["data"]["result"][0]["value"][1]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test]
async fn a_real_prometheus_scrapes_the_redirects_and_their_latency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sqlite_url(dir.path());
    let key = add_admin(&db);
    let metrics_port = free_port();
    let metrics_listen = format!("127.0.0.1:{metrics_port}");
    let (kurz, base) = serve(
        &db,
        &["--metrics-listen", &metrics_listen],
        &[],
        Stdio::inherit(),
    )
    .await;
    let slug = create_link(&base, &key, json!({"url": "https://example.com/scraped"})).await;

    let c = client();
    const REDIRECTS: usize = 37;
    const MISSES: usize = 6;
    for _ in 0..REDIRECTS {
        let r = c.get(format!("{base}/{slug}")).send().await.expect("get");
        assert_eq!(r.status(), StatusCode::FOUND);
    }
    for i in 0..MISSES {
        let r = c.get(format!("{base}/nope{i}x")).send().await.expect("get");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    let moved = c.get(format!("{base}/metrics")).send().await.expect("get");
    assert_eq!(
        moved.status(),
        StatusCode::NOT_FOUND,
        "with --metrics-listen, /metrics leaves the main listener"
    );

    let prometheus_port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: kurz\n    \
             static_configs:\n      - targets: ['{metrics_listen}']\n"
        ),
    )
    .expect("write config");
    let mut prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Prometheus must be installed (Debian package `prometheus`; .ci/run installs it)");
    let api = format!("http://127.0.0.1:{prometheus_port}");

    let redirects = r#"sum(kurz_redirects_total{result="redirect"})"#;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = None;
    while Instant::now() < deadline {
        seen = query(&api, redirects).await;
        if seen.as_deref() == Some(&REDIRECTS.to_string()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let not_found = query(&api, r#"sum(kurz_redirects_total{result="not_found"})"#).await;
    let p99 = query(
        &api,
        r#"histogram_quantile(0.99, sum by (le) (kurz_http_request_duration_seconds_bucket{route="/{slug}"}))"#,
    )
    .await;
    let requests = query(
        &api,
        r#"sum(kurz_http_requests_total{route="/{slug}",status="302"})"#,
    )
    .await;
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    stop(kurz);

    assert_eq!(seen.as_deref(), Some(REDIRECTS.to_string().as_str()));
    // The probe of /metrics on the main listener was one more unknown slug.
    assert_eq!(
        not_found.as_deref(),
        Some((MISSES + 1).to_string().as_str())
    );
    assert_eq!(requests.as_deref(), Some(REDIRECTS.to_string().as_str()));
    let p99: f64 = p99.expect("a p99").parse().expect("a number");
    assert!(
        p99.is_finite() && p99 > 0.0 && p99 <= 10.0,
        "p99 of redirects: {p99}"
    );
}

/// An OTLP/HTTP endpoint that keeps every request body it is sent.
async fn collector() -> (SocketAddr, Arc<Mutex<Vec<Bytes>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let app = Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock().expect("lock").push(body);
                // An empty ExportTraceServiceResponse.
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, bodies)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

#[tokio::test]
async fn a_request_s_spans_reach_the_collector_under_the_caller_s_trace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sqlite_url(dir.path());
    let key = add_admin(&db);
    let (addr, bodies) = collector().await;
    let (kurz, base) = serve(
        &db,
        &["--otlp-endpoint", &format!("http://{addr}")],
        &[],
        Stdio::inherit(),
    )
    .await;
    let slug = create_link(&base, &key, json!({"url": "https://example.com/traced"})).await;

    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = "00f067aa0ba902b7";
    let r = client()
        .get(format!("{base}/{slug}"))
        .header("traceparent", format!("00-{trace}-{parent}-01"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(r.headers()["x-trace-id"], trace);
    // Without a traceparent, the trace ID answered is the exported trace's.
    let r = client()
        .get(format!("{base}/api/v1/links"))
        .header("x-api-key", &key)
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), StatusCode::OK);
    let own = r.headers()["x-trace-id"]
        .to_str()
        .expect("ascii")
        .to_owned();

    let (trace_bytes, parent_bytes, own_bytes) = (unhex(trace), unhex(parent), unhex(&own));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut all = Vec::new();
    while Instant::now() < deadline {
        all = bodies.lock().expect("lock").concat();
        if contains(&all, &trace_bytes) && contains(&all, &own_bytes) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop(kurz);
    assert!(
        contains(&all, &trace_bytes),
        "no span with the caller's trace ID"
    );
    assert!(
        contains(&all, &parent_bytes),
        "the request span's parent is the caller's span"
    );
    assert!(
        contains(&all, &own_bytes),
        "no span with the answered trace ID"
    );
    for name in ["request", "cache.lookup", "store.query"] {
        assert!(contains(&all, name.as_bytes()), "no {name} span exported");
    }
}

#[tokio::test]
async fn a_collector_that_is_down_costs_the_requests_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sqlite_url(dir.path());
    let key = add_admin(&db);
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (kurz, base) = serve(&db, &["--otlp-endpoint", &dead], &[], Stdio::inherit()).await;
    let slug = create_link(&base, &key, json!({"url": "https://example.com/dead"})).await;
    let c = client();
    // Each redirect makes at least one span (the request's) and the first
    // more: past the export queue's 4,096, the rest are dropped, and no
    // request waits for room.
    for _ in 0..5000 {
        let r = c.get(format!("{base}/{slug}")).send().await.expect("get");
        assert_eq!(r.status(), StatusCode::FOUND);
    }
    // The queued spans are given up within the export time-out: the
    // process still stops on SIGTERM (`stop` fails after 30 s).
    stop(kurz);
}

#[tokio::test]
async fn keys_passwords_cookies_and_client_addresses_never_reach_the_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sqlite_url(dir.path());
    let key = add_admin(&db);
    let log_path = dir.path().join("kurz.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let (kurz, base) = serve(
        &db,
        &["--trusted-proxies", "127.0.0.1"],
        // As verbose as an operator would turn it while debugging.
        &[("KURZ_LOG_FORMAT", "json"), ("RUST_LOG", "debug")],
        Stdio::from(log),
    )
    .await;
    let password = "pw-Secr3t-hunter2";
    let guess = "wrong-Guess-77";
    let bad_key = "kurz_WRONGSECRET1234567890";
    let client_ip = "203.0.113.77";
    let cookie = "session=COOKIEVALUE123";
    let c = client();

    let slug = create_link(
        &base,
        &key,
        json!({"url": "https://example.com/private", "password": password}),
    )
    .await;
    let plain = create_link(&base, &key, json!({"url": "https://example.com/open"})).await;
    let r = c
        .get(format!("{base}/api/v1/links"))
        .bearer_auth(&key)
        .header("x-forwarded-for", client_ip)
        .header("cookie", cookie)
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .get(format!("{base}/api/v1/links?api_key={key}"))
        .header("x-api-key", bad_key)
        .header("x-forwarded-for", client_ip)
        .send()
        .await
        .expect("bad key");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    for (form, status) in [
        (guess, StatusCode::UNAUTHORIZED),
        (password, StatusCode::SEE_OTHER),
    ] {
        let r = c
            .post(format!("{base}/{slug}"))
            .header("x-forwarded-for", client_ip)
            .header("cookie", cookie)
            .form(&[("password", form)])
            .send()
            .await
            .expect("form");
        assert_eq!(r.status(), status);
    }
    for path in [plain.as_str(), "no-such-link", "api/v1/nothing-here"] {
        c.get(format!("{base}/{path}"))
            .header("x-forwarded-for", client_ip)
            .header("authorization", format!("Bearer {key}"))
            .header("cookie", cookie)
            .send()
            .await
            .expect("get");
    }
    stop(kurz);

    let logged = std::fs::read_to_string(&log_path).expect("read log");
    assert!(
        logged.lines().filter(|l| l.contains("\"request\"")).count() >= 5,
        "the API requests were logged: {logged}"
    );
    for line in logged.lines() {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "not JSON: {line}"
        );
    }
    for secret in [
        key.as_str(),
        bad_key,
        password,
        guess,
        client_ip,
        "COOKIEVALUE123",
        "Bearer",
    ] {
        assert!(
            !logged.contains(secret),
            "{secret} appears in the log:\n{logged}"
        );
    }
}

/// The value of one sample of a `/metrics` text: the line that starts with
/// `series` (name and labels as rendered).
pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The app's `/metrics`, checked to be Prometheus text.
pub(crate) async fn scrape(app: &TestApp) -> String {
    let r = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/plain; version=0.0.4"));
    r.text().await.expect("text")
}

async fn metrics_count_the_cache_the_store_and_the_clicks(backend: Backend) {
    let app = spawn_app(backend).await;
    let slug = app.shorten("https://example.com/counted").await;
    for _ in 0..3 {
        assert_eq!(app.follow(&slug).await.status(), StatusCode::FOUND);
    }
    assert_eq!(app.follow("absent1").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.follow("absent1").await.status(), StatusCode::NOT_FOUND);
    app.wait_for_visits(&slug, 3).await;
    let text = scrape(&app).await;
    let get = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series} in\n{text}"));

    // The first redirect loads the link into L1, the next two hit it; the
    // unknown slug is asked once, then answered by its negative entry.
    assert_eq!(
        get(r#"kurz_cache_requests_total{level="l1",result="miss"}"#),
        2.0
    );
    assert_eq!(
        get(r#"kurz_cache_requests_total{level="l1",result="hit"}"#),
        2.0
    );
    assert_eq!(
        get(r#"kurz_cache_requests_total{level="l1",result="negative_hit"}"#),
        1.0
    );
    assert_eq!(get(r#"kurz_redirects_total{result="redirect"}"#), 3.0);
    assert_eq!(get(r#"kurz_redirects_total{result="not_found"}"#), 2.0);
    assert_eq!(
        get(r#"kurz_http_requests_total{method="GET",route="/{slug}",status="302"}"#),
        3.0
    );
    assert_eq!(
        get(r#"kurz_http_requests_total{method="POST",route="/api/v1/links",status="201"}"#),
        1.0
    );
    assert_eq!(
        get(r#"kurz_store_query_duration_seconds_count{op="lookup"}"#),
        2.0
    );
    assert!(get(r#"kurz_store_query_duration_seconds_count{op="write_clicks"}"#) >= 1.0);
    assert_eq!(get(r#"kurz_store_errors_total{op="lookup"}"#), 0.0);
    assert_eq!(get("kurz_clicks_total"), 3.0);
    assert_eq!(get("kurz_click_details_dropped_total"), 0.0);
    assert_eq!(get("kurz_click_queue_depth"), 0.0);
    assert!(get("kurz_click_flush_duration_seconds_count") >= 1.0);
    assert_eq!(get(r#"kurz_db_pool_connections{state="max"}"#), 16.0);
    assert!(get(r#"kurz_db_pool_connections{state="idle"}"#) >= 1.0);
    assert_eq!(
        get(&format!(
            r#"kurz_build_info{{version="{}"}}"#,
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );
    assert!(get("process_resident_memory_bytes") > 1e6);
    assert!(get("process_open_fds") > 0.0);
    // One app's figures, not the process's: a second app starts at zero.
    let other = spawn_app(backend).await;
    let fresh = scrape(&other).await;
    assert_eq!(
        sample(&fresh, r#"kurz_redirects_total{result="redirect"}"#),
        Some(0.0)
    );
}

backend_tests!(metrics_count_the_cache_the_store_and_the_clicks,);

#[tokio::test]
async fn the_metrics_listener_serves_sixteen_scrapers_and_keeps_the_rest_waiting() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().expect("tempdir");
    let db = sqlite_url(dir.path());
    let metrics_listen = format!("127.0.0.1:{}", free_port());
    let (kurz, base) = serve(
        &db,
        &["--metrics-listen", &metrics_listen],
        &[],
        Stdio::inherit(),
    )
    .await;
    let scrape = || async {
        let mut s = tokio::net::TcpStream::connect(&metrics_listen)
            .await
            .expect("connect");
        s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).await.map(|_| answer)
    };
    // Sixteen connections that send nothing hold every slot.
    let mut idle = Vec::new();
    for _ in 0..16 {
        idle.push(
            tokio::net::TcpStream::connect(&metrics_listen)
                .await
                .expect("connect"),
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting = tokio::time::timeout(Duration::from_secs(1), scrape()).await;
    assert!(waiting.is_err(), "a 17th scraper waits for a slot");
    // The main listener is not touched by the cap of the metrics one.
    let r = client()
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(r.status(), StatusCode::OK);
    // One slot freed: the scrape is served.
    idle.pop();
    let answer = tokio::time::timeout(Duration::from_secs(5), scrape())
        .await
        .expect("served once a slot is free")
        .expect("read");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("kurz_build_info"));
    drop(idle);
    stop(kurz);
}
