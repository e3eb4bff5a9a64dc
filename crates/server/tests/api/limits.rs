//! Rate limits at both levels (ADR 0019): per client behind a trusted
//! proxy, with the `RateLimit` headers; shared by two nodes through Redis;
//! the "no such link" budget; Redis away; and idle connections that must
//! not crowd out a new client.

use std::time::Duration;

use kurz_server::config::{Config, Switch};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::json;
use tokio::net::TcpStream;

use crate::cache::redis_url;
use crate::helpers::{expect_error, spawn_node, spawn_with, Backend, TestApp};

fn limited(change: impl FnOnce(&mut Config)) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.rate_limits = Switch::On;
        c.trusted_proxies = vec!["127.0.0.1".into()];
        change(c);
    }
}

/// Through the trusted proxy, on behalf of `client`.
fn from(r: RequestBuilder, client: &str) -> RequestBuilder {
    r.header("x-forwarded-for", client)
}

async fn create(app: &TestApp, key: &str, client: &str) -> Response {
    from(
        app.post("/api/v1/links", key, json!({"url": "https://example.com/"})),
        client,
    )
    .send()
    .await
    .expect("send")
}

fn header<'r>(r: &'r Response, name: &str) -> &'r str {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is set"))
        .to_str()
        .expect("ASCII")
}

#[tokio::test]
async fn a_client_past_its_create_budget_gets_429_with_the_headers_and_another_client_does_not() {
    let app = spawn_with(Backend::Sqlite, limited(|c| c.limits.create_per_minute = 3)).await;
    let alice = app.admin_key.clone();
    for left in (0..3).rev() {
        let r = create(&app, &alice, "198.51.100.1").await;
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(header(&r, "ratelimit-policy"), "\"create\";q=3;w=60");
        assert!(
            header(&r, "ratelimit").starts_with(&format!("\"create\";r={left};t=")),
            "{}",
            header(&r, "ratelimit")
        );
    }
    let r = create(&app, &alice, "198.51.100.1").await;
    let wait: u64 = header(&r, "retry-after").parse().expect("seconds");
    assert!((1..=20).contains(&wait), "{wait}");
    assert_eq!(header(&r, "ratelimit"), format!("\"create\";r=0;t={wait}"));
    expect_error(r, StatusCode::TOO_MANY_REQUESTS, 42901, None).await;

    // Another person, from another address, with their own key.
    let bob = app.user("bob").await;
    let r = create(&app, &bob, "198.51.100.2").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // Alice's key is spent wherever she goes; the rest of the API is not.
    let r = create(&app, &alice, "198.51.100.3").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = from(app.get("/api/v1/links", &alice), "198.51.100.1")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(header(&r, "ratelimit").starts_with("\"api\";"));
}

#[tokio::test]
async fn a_users_keys_share_the_users_budget() {
    let app = spawn_with(Backend::Sqlite, limited(|c| c.limits.create_per_minute = 2)).await;
    let first = app.user("carol").await;
    let user = app
        .accounts
        .user_by_name("carol")
        .await
        .expect("lookup")
        .expect("carol");
    let second = kurz_server::accounts::create_key(&app.accounts, user.id, None, false)
        .await
        .expect("key")
        .1;
    assert_eq!(
        create(&app, &first, "198.51.100.1").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        create(&app, &second, "198.51.100.2").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        create(&app, &second, "198.51.100.3").await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a new key and a new address do not buy the user a new budget"
    );
}

#[tokio::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_does_not_escape_a_limit() {
    let app = spawn_with(Backend::Sqlite, |c| {
        c.rate_limits = Switch::On;
        c.limits.api_per_minute = 3;
    })
    .await;
    let mut statuses = Vec::new();
    for i in 1..=5 {
        let r = app
            .client
            .get(app.url("/api/v1/openapi.json"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .header("forwarded", format!("for=203.0.113.{i}"))
            .send()
            .await
            .expect("send");
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
}

#[tokio::test]
async fn past_the_not_found_budget_even_existing_links_answer_429() {
    let app = spawn_with(
        Backend::Sqlite,
        limited(|c| c.limits.not_found_per_minute = 5),
    )
    .await;
    let slug = app.shorten("https://example.com/real").await;
    let get = |path: String, client: &'static str| {
        let r = from(app.client.get(app.url(&path)), client);
        async move { r.send().await.expect("send") }
    };
    // Misses count on every route that tells a slug from none: the
    // redirect, the preview and the password form.
    for i in 0..2 {
        assert_eq!(
            get(format!("/nope{i}"), "198.51.100.9").await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(format!("/nope{i}+"), "198.51.100.9").await.status(),
            StatusCode::NOT_FOUND
        );
    }
    let r = from(
        app.client
            .post(app.url("/nope9"))
            .form(&[("password", "guess")]),
        "198.51.100.9",
    )
    .send()
    .await
    .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The budget is spent, not exceeded; the next miss exceeds it.
    assert_eq!(
        get(format!("/{slug}"), "198.51.100.9").await.status(),
        StatusCode::FOUND
    );
    assert_eq!(
        get("/nope6".into(), "198.51.100.9").await.status(),
        StatusCode::NOT_FOUND
    );
    let r = get(format!("/{slug}"), "198.51.100.9").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = header(&r, "retry-after").parse().expect("seconds");
    assert!((1..=12).contains(&wait), "{wait}");
    // A person following a link meanwhile is not affected.
    assert_eq!(
        get(format!("/{slug}"), "198.51.100.10").await.status(),
        StatusCode::FOUND
    );
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert_eq!(
        crate::operating::sample(&metrics, "kurz_rate_limited_total{limit=\"not_found\"}"),
        Some(1.0)
    );
}

/// Two nodes on one database and one Redis prefix.
async fn two_nodes(change: impl Fn(&mut Config) + Clone) -> Option<(TestApp, TestApp)> {
    let redis = redis_url()?;
    let prefix = format!("kurz_t_{:016x}:", rand::random::<u64>());
    let setup = {
        let prefix = prefix.clone();
        let redis = redis.clone();
        let change = change.clone();
        move |c: &mut Config| {
            c.redis = Some(redis);
            c.cache.redis_prefix = prefix;
            limited(change)(c);
        }
    };
    let a = spawn_with(Backend::Sqlite, setup.clone()).await;
    let b = spawn_node(&a.db_url, setup).await;
    Some((a, b))
}

#[tokio::test]
async fn two_nodes_with_redis_share_a_clients_create_budget() {
    let Some((a, b)) = two_nodes(|c| c.limits.create_per_minute = 4).await else {
        return;
    };
    let mut statuses = Vec::new();
    for i in 0..8 {
        let node = if i % 2 == 0 { &a } else { &b };
        statuses.push(
            create(node, &a.admin_key, "198.51.100.20")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(
        statuses,
        [201, 201, 201, 201, 429, 429, 429, 429],
        "one budget across the nodes, not one each"
    );
}

#[tokio::test]
async fn two_nodes_with_redis_share_the_password_guessing_budget() {
    let Some((a, b)) = two_nodes(|c| c.limits.password_attempts_per_minute = 4).await else {
        return;
    };
    let link = a
        .create_link(json!({"url": "https://example.com/", "password": "open sesame"}))
        .await;
    let slug = link["slug"].as_str().expect("slug");
    let mut statuses = Vec::new();
    for i in 0..6 {
        let node = if i % 2 == 0 { &a } else { &b };
        let r = from(
            node.client
                .post(node.url(&format!("/{slug}")))
                .form(&[("password", "guess")]),
            "198.51.100.30",
        )
        .send()
        .await
        .expect("send");
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429, 429]);
}

#[tokio::test]
async fn two_nodes_with_redis_turn_away_a_scanner_that_spreads_its_misses() {
    let Some((a, b)) = two_nodes(|c| c.limits.not_found_per_minute = 4).await else {
        return;
    };
    let slug = a.shorten("https://example.com/").await;
    let get = |node: &TestApp, path: String| {
        let r = from(node.client.get(node.url(&path)), "198.51.100.40");
        async move { r.send().await.expect("send").status() }
    };
    // Three misses on each node: within each node's own budget of four.
    for i in 0..3 {
        assert_eq!(get(&a, format!("/a{i}")).await, StatusCode::NOT_FOUND);
        assert_eq!(get(&b, format!("/b{i}")).await, StatusCode::NOT_FOUND);
    }
    // A node learns that the shared budget is spent when it charges a
    // miss past it (charges go out every 100 ms): at most one more miss
    // per node.
    tokio::time::sleep(Duration::from_millis(400)).await;
    for (i, node) in [&a, &b].into_iter().enumerate() {
        let _ = get(node, format!("/c{i}")).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    for node in [&a, &b] {
        assert_eq!(
            get(node, format!("/{slug}")).await,
            StatusCode::TOO_MANY_REQUESTS,
            "six misses against a shared budget of four"
        );
    }
}

#[tokio::test]
async fn with_redis_away_the_in_process_limits_alone_decide_and_nothing_fails() {
    // Nothing listens on port 1: every Redis call fails.
    let app = spawn_with(
        Backend::Sqlite,
        limited(|c| {
            c.redis = Some("redis://127.0.0.1:1".into());
            c.limits.create_per_minute = 2;
        }),
    )
    .await;
    let key = app.admin_key.clone();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(create(&app, &key, "198.51.100.50").await.status().as_u16());
    }
    assert_eq!(statuses, [201, 201, 429]);
}

#[tokio::test]
async fn two_thousand_idle_connections_do_not_stop_a_new_client() {
    if let Err(e) = rlimit::increase_nofile_limit(8192) {
        panic!("raising the open-file limit for 2,000 sockets: {e}");
    }
    let app = spawn_with(Backend::Sqlite, |c| c.rate_limits = Switch::On).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut idle = Vec::with_capacity(2000);
    for _ in 0..2000 {
        idle.push(TcpStream::connect(&addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let slug = app.shorten("https://example.com/").await;
    let started = std::time::Instant::now();
    let r = app.follow(&slug).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "served in {:?} beside 2,000 idle connections",
        started.elapsed()
    );
    drop(idle);
}
