//! The defects of the security review: bounded work per request, bounded
//! password hashing, connection time-outs and cap, password guessing,
//! limits keyed on the key rather than its spelling, and the smaller
//! hardening items. Each test failed on the code before the fixes.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{expect_error, expect_json, spawn_app, spawn_with, Backend, TestApp};

/// The `host:port` of an app, for raw sockets.
fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; how long that took, or
/// `None` if it was still open after `deadline`.
async fn wait_for_close(stream: &mut TcpStream, deadline: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(
            deadline.saturating_sub(started.elapsed()),
            stream.read(&mut buf),
        )
        .await
        {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// An HTTP answer read off a raw socket; header values as sent, bytes.
struct RawAnswer {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl RawAnswer {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// Sends raw bytes and reads the whole answer (the request should say
/// `Connection: close`, or the server's time-out ends it).
async fn raw_request(addr: &str, request: &[u8]) -> RawAnswer {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    parse_answer(&answer)
}

fn parse_answer(answer: &[u8]) -> RawAnswer {
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete answer: {:?}", String::from_utf8_lossy(answer)));
    let head = &answer[..end];
    let mut lines = head.split(|&b| b == b'\n');
    let status_line = String::from_utf8_lossy(lines.next().expect("status line")).into_owned();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let headers = lines
        .filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = line.iter().position(|&b| b == b':')?;
            let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
            Some((name, line[colon + 1..].trim_ascii().to_vec()))
        })
        .collect();
    RawAnswer {
        status,
        headers,
        body: answer[end + 4..].to_vec(),
    }
}

fn error_code(body: &[u8]) -> Option<u64> {
    let start = body.iter().position(|&b| b == b'{')?;
    let value: Value = serde_json::from_slice(&body[start..]).ok()?;
    value["error"]["code"].as_u64()
}

#[tokio::test]
async fn a_request_with_100000_tags_is_refused_at_once_and_redirects_go_on() {
    let app = spawn_app(Backend::Sqlite).await;
    let slug = app.shorten("https://example.com/").await;
    let tags: Vec<String> = (0..100_000).map(|i| format!("{i:x}")).collect();
    let body = json!({"url": "https://example.com/", "tags": tags});
    // Quadratic de-duplication took 7.8 s a request, release build, and
    // held an async worker all along; 5 s is ample for a linear scan.
    let impatient = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let post = || {
        impatient
            .post(app.url("/api/v1/links"))
            .bearer_auth(&app.admin_key)
            .json(&body)
            .send()
    };
    let patch = impatient
        .patch(app.url(&format!("/api/v1/links/{slug}")))
        .bearer_auth(&app.admin_key)
        .json(&json!({"tags": body["tags"]}))
        .send();
    let follow = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        impatient.get(app.url(&format!("/{slug}"))).send().await
    };
    let (a, b, p, r) = tokio::join!(post(), post(), patch, follow);
    for answer in [a, b, p] {
        expect_error(
            answer.expect("answered in time"),
            StatusCode::BAD_REQUEST,
            40030,
            Some("tags"),
        )
        .await;
    }
    assert_eq!(r.expect("redirect answered").status(), StatusCode::FOUND);

    // Repeats still collapse: 100 copies of 32 tags are 32 tags.
    let repeated: Vec<String> = (0..100)
        .flat_map(|_| (0..32).map(|i| i.to_string()))
        .collect();
    let r = app
        .post(
            "/api/v1/links",
            &app.admin_key,
            json!({"url": "https://example.com/", "tags": repeated[..128]}),
        )
        .send()
        .await
        .expect("send");
    let link = expect_json(r, StatusCode::CREATED).await;
    assert_eq!(link["tags"].as_array().map(Vec::len), Some(32));
}

#[tokio::test]
async fn wrong_passwords_are_hashed_a_few_at_a_time_and_the_rest_refused_at_once() {
    let app = spawn_with(Backend::Sqlite, |c| {
        c.limits.password_hash_concurrency = 1;
        c.limits.password_hash_queue = 0;
    })
    .await;
    let link = app
        .create_link(json!({"url": "https://example.com/", "password": "open sesame"}))
        .await;
    let slug = link["slug"].as_str().expect("slug").to_owned();
    let attempts: Vec<_> = (0..16)
        .map(|i| {
            let request = app
                .client
                .post(app.url(&format!("/{slug}")))
                .form(&[("password", format!("guess {i}"))]);
            tokio::spawn(request.send())
        })
        .collect();
    let mut answers = Vec::new();
    for attempt in attempts {
        answers.push(attempt.await.expect("join"));
    }
    let (mut wrong, mut busy) = (0, 0);
    for r in answers {
        let r = r.expect("send");
        match r.status() {
            StatusCode::UNAUTHORIZED => wrong += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(r.headers().contains_key("retry-after"));
                expect_error(r, StatusCode::TOO_MANY_REQUESTS, 42901, None).await;
                busy += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(wrong >= 1, "{wrong} checked");
    assert!(busy >= 1, "none of 16 concurrent attempts was turned away");
    // The API's hashing goes through the same bound.
    let creates: Vec<_> = (0..8)
        .map(|i| {
            let request = app.post(
                "/api/v1/links",
                &app.admin_key,
                json!({"url": "https://example.com/", "password": format!("secret {i}")}),
            );
            tokio::spawn(request.send())
        })
        .collect();
    let mut turned_away = 0;
    for create in creates {
        let r = create.await.expect("join").expect("send");
        match r.status() {
            StatusCode::CREATED => {}
            StatusCode::TOO_MANY_REQUESTS => {
                expect_error(r, StatusCode::TOO_MANY_REQUESTS, 42901, None).await;
                turned_away += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        turned_away >= 1,
        "8 concurrent creates with a password, 1 slot"
    );
    let r = app.unlock(&slug, "open sesame").await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the slots are free again"
    );
}

#[tokio::test]
async fn silent_slow_and_idle_connections_are_closed() {
    let app = spawn_with(Backend::Sqlite, |c| {
        c.http.header_timeout_secs = 1;
    })
    .await;
    let addr = addr(&app);

    let mut silent = TcpStream::connect(&addr).await.expect("connect");
    let held = wait_for_close(&mut silent, Duration::from_secs(5)).await;
    eprintln!("a silent connection was held for {held:?}");
    assert!(held.is_some(), "a connection that sends nothing stays open");

    // Headers one line every 300 ms: bytes keep coming, the request never
    // completes.
    let mut slow = TcpStream::connect(&addr).await.expect("connect");
    let started = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if slow.write_all(b"X-Slow: 1\r\n").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 1024];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), slow.read(&mut buf)).await
        {
            closed = true;
            break;
        }
    }
    eprintln!("slow headers were held for {:?}", started.elapsed());
    assert!(
        closed,
        "a client sending headers slowly keeps its connection"
    );

    // A kept-alive connection idle after its answer.
    let mut idle = TcpStream::connect(&addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 4096];
    let n = idle.read(&mut buf).await.expect("answer");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let held = wait_for_close(&mut idle, Duration::from_secs(5)).await;
    eprintln!("an idle kept-alive connection was held for {held:?}");
    assert!(held.is_some(), "an idle kept-alive connection stays open");
}

/// The header time-out bounds the wait for a request's head, not the
/// request: a body that takes longer than it (within the body time-out)
/// is read and answered, and the connection's wait for its next head
/// starts after the answer.
#[tokio::test]
async fn a_request_whose_body_outlasts_the_header_time_out_is_answered() {
    let app = spawn_with(Backend::Sqlite, |c| {
        c.http.header_timeout_secs = 1;
        c.http.body_timeout_secs = 10;
    })
    .await;
    let link = app
        .create_link(json!({"url": "https://example.com/", "password": "open sesame"}))
        .await;
    let slug = link["slug"].as_str().expect("slug");
    let mut stream = TcpStream::connect(addr(&app)).await.expect("connect");
    let body = b"password=open+sesame";
    stream
        .write_all(
            format!(
                "POST /{slug} HTTP/1.1\r\nHost: x\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .expect("head");
    // Five pieces 600 ms apart: 2.4 s of body, past twice the header
    // time-out with its quarter of slack.
    for piece in body.chunks(body.len().div_ceil(5)) {
        tokio::time::sleep(Duration::from_millis(600)).await;
        stream
            .write_all(piece)
            .await
            .expect("the connection is open");
    }
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered")
        .expect("read");
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 303"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    let held = wait_for_close(&mut stream, Duration::from_secs(5)).await;
    eprintln!("idle after the answer, held for {held:?}");
    assert!(
        held.is_some(),
        "idle after its answer, the connection stays open"
    );
}

/// A client that pipelines requests and never reads the answers: once the
/// server's writes stay blocked for the write time-out, it hangs up, instead
/// of holding the connection (and a slot of the cap) for ever.
#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected() {
    const REQUESTS: usize = 2_000;
    let app = spawn_with(Backend::Sqlite, |c| {
        c.http.write_timeout_secs = 1;
    })
    .await;
    let answer_len = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("send")
        .bytes()
        .await
        .expect("body")
        .len();
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small buffer");
    let mut stream = socket
        .connect(addr(&app).parse().expect("addr"))
        .await
        .expect("connect");
    let requests = b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n".repeat(REQUESTS);
    // Send until the server stops reading (its answers have filled every
    // buffer on the way), then stay silent well past the write time-out.
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.write_all(&requests)).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut received = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break true,
            Ok(Ok(n)) => received += n,
            Err(_) => break false,
        }
    };
    assert!(closed, "the connection stayed open");
    assert!(
        received < REQUESTS * answer_len / 2,
        "{received} bytes: the server kept answering a client that did not read"
    );
}

#[tokio::test]
async fn slow_bodies_answer_408_on_the_api_and_the_password_form() {
    let app = spawn_with(Backend::Sqlite, |c| {
        c.http.body_timeout_secs = 1;
    })
    .await;
    let link = app
        .create_link(json!({"url": "https://example.com/", "password": "open sesame"}))
        .await;
    let slug = link["slug"].as_str().expect("slug");
    let addr = addr(&app);
    let api = format!(
        "POST /api/v1/links HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"url\":",
        app.admin_key
    );
    let form = format!(
        "POST /{slug} HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\npassword="
    );
    for request in [api, form] {
        let started = Instant::now();
        let answer = raw_request(&addr, request.as_bytes()).await;
        eprintln!("a stalled body was answered after {:?}", started.elapsed());
        assert_eq!(answer.status, 408, "{request}");
        assert!(answer.header("x-trace-id").is_some());
        assert_eq!(error_code(&answer.body), Some(40801));
    }
}

#[tokio::test]
async fn at_the_connection_cap_new_clients_wait_for_a_free_slot() {
    let app = spawn_with(Backend::Sqlite, |c| {
        c.http.max_connections = 2;
        c.http.header_timeout_secs = 3;
    })
    .await;
    let addr = addr(&app);
    let mut idle_a = TcpStream::connect(&addr).await.expect("connect");
    let mut idle_b = TcpStream::connect(&addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut third = TcpStream::connect(&addr)
        .await
        .expect("the kernel queues it");
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let early = tokio::time::timeout(Duration::from_secs(1), third.read_to_end(&mut answer)).await;
    assert!(
        early.is_err() && answer.is_empty(),
        "a third connection was served while two held the cap of 2"
    );
    // The header time-out closes the idle two; then the third is served.
    assert!(wait_for_close(&mut idle_a, Duration::from_secs(10))
        .await
        .is_some());
    assert!(wait_for_close(&mut idle_b, Duration::from_secs(10))
        .await
        .is_some());
    tokio::time::timeout(Duration::from_secs(10), third.read_to_end(&mut answer))
        .await
        .expect("served once a slot is free")
        .expect("read");
    assert!(answer.starts_with(b"HTTP/1.1 200"));
}

async fn password_guessing_is_limited_per_link_and_client(backend: Backend) {
    let app = spawn_with(backend, |c| {
        c.rate_limits = kurz_server::config::Switch::On;
        c.limits.password_attempts_per_minute = 3;
        c.limits.api_per_minute = 1000;
        c.limits.create_per_minute = 1000;
        c.limits.redirect_per_second = 1000;
    })
    .await;
    let guarded =
        |n: u32| json!({"url": format!("https://example.com/{n}"), "password": "open sesame"});
    let a = app.create_link(guarded(1)).await["slug"]
        .as_str()
        .expect("slug")
        .to_owned();
    let b = app.create_link(guarded(2)).await["slug"]
        .as_str()
        .expect("slug")
        .to_owned();
    for _ in 0..3 {
        let r = app.unlock(&a, "guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = app.unlock(&a, "guess").await;
    assert!(r.headers().contains_key("retry-after"));
    expect_error(r, StatusCode::TOO_MANY_REQUESTS, 42901, None).await;
    // A browser is told when to come back too.
    let r = app.unlock_as_page(&a, "guess").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    let r = app.unlock(&b, "open sesame").await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "another link is not limited"
    );
}

/// A client whose requests leave from `ip` (any 127.0.0.0/8 address reaches
/// the server on 127.0.0.1).
fn client_from(ip: &str) -> Client {
    Client::builder()
        .local_address(ip.parse::<IpAddr>().expect("ip"))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

#[tokio::test]
async fn every_spelling_of_a_key_shares_its_budget() {
    let app = spawn_with(Backend::Sqlite, |c| {
        c.rate_limits = kurz_server::config::Switch::On;
        c.limits.api_per_minute = 3;
    })
    .await;
    let key = app.admin_key.clone();
    let url = app.url("/api/v1/links");
    // One address each, so only the key's budget can run out.
    let spellings = [
        ("127.0.0.2", "authorization", format!("Bearer {key}")),
        ("127.0.0.3", "authorization", format!("bearer {key}")),
        ("127.0.0.4", "authorization", format!("Bearer  {key}")),
        ("127.0.0.5", "x-api-key", key.clone()),
    ];
    let mut statuses = Vec::new();
    for (ip, name, value) in &spellings {
        let r = client_from(ip)
            .get(&url)
            .header(*name, value)
            .send()
            .await
            .expect("send");
        statuses.push(r.status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

async fn idn_entries_of_the_blocklist_block_every_spelling(backend: Backend) {
    let app = spawn_with(backend, |c| {
        c.links.blocked_domains = vec!["b\u{fc}cher.de".into()];
    })
    .await;
    for url in [
        "https://b\u{fc}cher.de/",
        "https://xn--bcher-kva.de/",
        "https://www.B\u{dc}CHER.de/x",
    ] {
        let r = app
            .post("/api/v1/links", &app.admin_key, json!({ "url": url }))
            .send()
            .await
            .expect("send");
        expect_error(r, StatusCode::BAD_REQUEST, 40014, Some("url")).await;
    }
}

#[tokio::test]
async fn forwarded_queries_reach_location_percent_encoded() {
    let app = spawn_app(Backend::Sqlite).await;
    let link = app
        .create_link(json!({"url": "https://example.com/p?a=1", "forward_query": true}))
        .await;
    let slug = link["slug"].as_str().expect("slug");
    let request = [
        format!("GET /{slug}?q=").as_bytes(),
        "\u{fc}&r=%41".as_bytes(),
        b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ]
    .concat();
    let answer = raw_request(&addr(&app), &request).await;
    assert_eq!(answer.status, 302);
    assert_eq!(
        answer.header("location"),
        Some(&b"https://example.com/p?a=1&q=%C3%BC&r=%41"[..])
    );
}

async fn reuse_returns_only_a_link_with_the_options_asked_for(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = "https://example.com/reuse";
    let limited = app
        .create_link(json!({"url": url, "max_visits": 5, "tags": ["a", "b"]}))
        .await;
    let reuse = |body: Value| {
        let app = &app;
        async move {
            app.post("/api/v1/links", &app.admin_key, body)
                .send()
                .await
                .expect("send")
        }
    };
    // The same behaviour (tags may be fewer): the existing link.
    for body in [
        json!({"url": url, "reuse": true, "max_visits": 5}),
        json!({"url": url, "reuse": true, "max_visits": 5, "tags": ["b"]}),
    ] {
        let again = expect_json(reuse(body).await, StatusCode::OK).await;
        assert_eq!(again["slug"], limited["slug"]);
    }
    // Another limit, or none: a new link that has it, never the old one.
    for (body, max) in [
        (
            json!({"url": url, "reuse": true, "max_visits": 1}),
            json!(1),
        ),
        (json!({"url": url, "reuse": true}), Value::Null),
    ] {
        let other = expect_json(reuse(body).await, StatusCode::CREATED).await;
        assert_ne!(other["slug"], limited["slug"]);
        assert_eq!(other["max_visits"], max);
    }
    // A password cannot be compared with a stored hash: said, not dropped.
    expect_error(
        reuse(json!({"url": url, "reuse": true, "password": "sesame"})).await,
        StatusCode::BAD_REQUEST,
        40030,
        Some("password"),
    )
    .await;
}

#[tokio::test]
async fn pages_and_secrets_carry_their_hardening_headers() {
    let app = spawn_app(Backend::Sqlite).await;
    let slug = app.shorten("https://example.com/").await;
    let guarded = app
        .create_link(json!({"url": "https://example.com/g", "password": "open sesame"}))
        .await;
    let guarded = guarded["slug"].as_str().expect("slug");
    for path in [
        format!("/{slug}+"),
        format!("/{guarded}"),
        "/no-such-link".to_owned(),
        "/".to_owned(),
    ] {
        let r = app
            .client
            .get(app.url(&path))
            .header("accept", "text/html")
            .send()
            .await
            .expect("send");
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(
            h["referrer-policy"], "strict-origin-when-cross-origin",
            "{path}"
        );
        assert!(h["content-type"]
            .to_str()
            .is_ok_and(|v| v.starts_with("text/html")));
    }
    // The password page's form leads to the target, wherever it is.
    let r = app.follow(guarded).await;
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(csp.contains("form-action 'self' https: http:"), "{csp}");

    let r = app
        .post("/api/v1/keys", &app.admin_key, json!({"name": "laptop"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn too_large_bodies_are_told_the_limit_of_their_route() {
    let app = spawn_app(Backend::Sqlite).await;
    let guarded = app
        .create_link(json!({"url": "https://example.com/g", "password": "open sesame"}))
        .await;
    let guarded = guarded["slug"].as_str().expect("slug");
    let r = app
        .post(
            "/api/v1/links",
            &app.admin_key,
            json!({"url": "https://example.com/", "title": "x".repeat(1024 * 1024 + 10)}),
        )
        .send()
        .await
        .expect("send");
    expect_too_large(r, "1 MiB").await;

    let r = app.unlock(guarded, &"x".repeat(20 * 1024)).await;
    expect_too_large(r, "16 KiB").await;
}

async fn expect_too_large(r: reqwest::Response, limit: &str) {
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], 41301);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(limit)),
        "{body}"
    );
}

#[tokio::test]
async fn the_preview_of_a_visit_limited_link_keeps_its_target_hidden() {
    let app = spawn_app(Backend::Sqlite).await;
    let once = app
        .create_link(json!({"url": "https://example.com/once-only", "max_visits": 1}))
        .await;
    let slug = once["slug"].as_str().expect("slug");
    let page = app
        .follow(&format!("{slug}+"))
        .await
        .text()
        .await
        .expect("body");
    assert!(!page.contains("once-only"), "{page}");
    assert!(page.contains("limited number of times"), "{page}");
    // HEAD counts no visit, so it does not tell where the link goes either.
    let r = app
        .client
        .head(app.url(&format!("/{slug}")))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("location").is_none());
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(app.link(slug).await["visits"], 0);
    // A visit that counts does.
    let r = app.follow(slug).await;
    assert_eq!(r.headers()["location"], "https://example.com/once-only");
}

#[tokio::test]
async fn a_tag_filter_is_as_long_as_a_tag_at_most() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = app
        .get(
            &format!("/api/v1/links?tag={}", "t".repeat(65)),
            &app.admin_key,
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::BAD_REQUEST, 40030, Some("tag")).await;
}

#[tokio::test]
async fn guessing_across_many_links_runs_into_the_clients_budget_and_open_links_never_do() {
    let app = spawn_with(Backend::Sqlite, |c| {
        c.rate_limits = kurz_server::config::Switch::On;
        c.limits.password_attempts_per_minute = 100;
        c.limits.password_attempts_per_client_per_minute = 3;
        c.limits.create_per_minute = 1000;
        c.limits.redirect_per_second = 1000;
    })
    .await;
    let mut guarded = Vec::new();
    for i in 0..4 {
        let link = app
            .create_link(json!({"url": format!("https://example.com/{i}"), "password": "pw"}))
            .await;
        guarded.push(link["slug"].as_str().expect("slug").to_owned());
    }
    for slug in &guarded[..3] {
        assert_eq!(
            app.unlock(slug, "guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let r = app.unlock(&guarded[3], "guess").await;
    expect_error(r, StatusCode::TOO_MANY_REQUESTS, 42901, None).await;
    // Posting to a link without a password checks nothing and counts
    // nothing against the budget.
    let open = app.shorten("https://example.com/open").await;
    for _ in 0..10 {
        assert_eq!(
            app.unlock(&open, "anything").await.status(),
            StatusCode::SEE_OTHER
        );
    }
}

#[tokio::test]
async fn a_password_form_without_a_password_is_a_bad_request_only_where_one_is_needed() {
    let app = spawn_app(Backend::Sqlite).await;
    let locked = app
        .create_link(json!({"url": "https://example.com/locked", "password": "pw"}))
        .await;
    let locked = locked["slug"].as_str().expect("slug");
    let open = app.shorten("https://example.com/open").await;
    let post = |slug: &str| app.client.post(app.url(&format!("/{slug}"))).send();
    expect_error(
        post(locked).await.expect("send"),
        StatusCode::BAD_REQUEST,
        40000,
        None,
    )
    .await;
    let r = post(&open).await.expect("send");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "https://example.com/open");
}

#[tokio::test]
async fn a_used_up_code_space_answers_503_with_its_own_code() {
    let app = spawn_with(Backend::Sqlite, |c| c.links.slug_length = 4).await;
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&app.db_url)
            .await
            .expect("db");
        // 62^4: the first ID with no 4-character code.
        sqlx::query("update id_counters set next_id = 14776336 where name = 'link'")
            .execute(&mut conn)
            .await
            .expect("update");
    }
    let r = app
        .post(
            "/api/v1/links",
            &app.admin_key,
            json!({"url": "https://example.com/"}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::SERVICE_UNAVAILABLE, 50302, None).await;
    // Aliases need no generated code.
    app.create_link(json!({"url": "https://example.com/", "alias": "still-works"}))
        .await;
}

backend_tests!(
    password_guessing_is_limited_per_link_and_client,
    idn_entries_of_the_blocklist_block_every_spelling,
    reuse_returns_only_a_link_with_the_options_asked_for,
);

#[tokio::test]
async fn too_many_or_too_large_request_headers_answer_431_and_the_server_goes_on() {
    let app = spawn_app(Backend::Sqlite).await;
    let addr = addr(&app);
    let mut many = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for i in 0..120 {
        many.push_str(&format!("x-h{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(raw_request(&addr, many.as_bytes()).await.status, 431);
    let head = |kib: usize| {
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nx-big: {}\r\n\r\n",
            "a".repeat(kib * 1024)
        )
    };
    assert_eq!(raw_request(&addr, head(40).as_bytes()).await.status, 431);
    assert_eq!(raw_request(&addr, head(16).as_bytes()).await.status, 200);
    let fine = raw_request(
        &addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(fine.status, 200);
}

#[tokio::test]
async fn look_alike_hosts_are_refused_or_sent_to_review_as_configured() {
    let refuse = spawn_with(Backend::Sqlite, |c| {
        c.links.protected_domains = vec!["paypal.com".into()];
    })
    .await;
    for (url, why) in [
        (
            "https://\u{440}\u{430}\u{443}\u{440}\u{430}l.com/login",
            "mixes",
        ),
        (
            "https://\u{440}\u{430}\u{443}\u{440}\u{430}1.com/login",
            "looks like paypal.com",
        ),
        ("https://xn--pypal-4ve.com/", "mixes"),
    ] {
        let r = refuse
            .post("/api/v1/links", &refuse.admin_key, json!({ "url": url }))
            .send()
            .await
            .expect("send");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"]["code"], 40014, "{url}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(why)),
            "{url}: {body}"
        );
    }
    for url in [
        "https://www.paypal.com/",
        "https://\u{44f}\u{43d}\u{434}\u{435}\u{43a}\u{441}.\u{440}\u{444}/",
    ] {
        let link = refuse.create_link(json!({ "url": url })).await;
        assert_eq!(link["status"], "active", "{url}");
    }
    // The same check on a change of target.
    let slug = refuse.shorten("https://example.com/").await;
    let r = refuse
        .patch(
            &format!("/api/v1/links/{slug}"),
            &refuse.admin_key,
            json!({"url": "https://\u{440}\u{430}\u{443}\u{440}\u{430}1.com/"}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::BAD_REQUEST, 40014, Some("url")).await;

    let review = spawn_with(Backend::Sqlite, |c| {
        c.links.protected_domains = vec!["paypal.com".into()];
        c.links.lookalike_hosts = kurz_server::config::LookalikeHosts::Review;
    })
    .await;
    let link = review
        .create_link(json!({"url": "https://\u{440}\u{430}\u{443}\u{440}\u{430}1.com/"}))
        .await;
    assert_eq!(link["status"], "pending");
    let slug = link["slug"].as_str().expect("slug");
    assert_eq!(review.follow(slug).await.status(), StatusCode::GONE);
}
