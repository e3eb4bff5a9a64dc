use std::collections::BTreeSet;

use axum::routing::get;
use axum::Router;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{client, expect_error, expect_json, spawn_app, spawn_with, Backend};

async fn health_and_readiness_answer_200(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("send");
    assert_eq!(expect_json(r, StatusCode::OK).await["status"], "ready");
    let r = app.client.get(app.url("/")).send().await.expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("/api/v1/openapi.json"));
}

#[tokio::test]
async fn every_response_carries_a_trace_id_and_traceparent_is_honoured() {
    let backend = Backend::Sqlite;
    let app = spawn_app(backend).await;
    for path in ["/healthz", "/nope", "/api/v1/links", "/api/v1/nothing/here"] {
        let r = app.client.get(app.url(path)).send().await.expect("send");
        let id = r.headers()["x-trace-id"].to_str().expect("ascii");
        assert_eq!(id.len(), 32, "{path}");
    }
    let r = app
        .client
        .get(app.url("/healthz"))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .expect("send");
    assert_eq!(
        r.headers()["x-trace-id"],
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let backend = Backend::Sqlite;
    let app = spawn_app(backend).await;
    let r = app
        .get("/api/v1/nothing", &app.admin_key)
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::NOT_FOUND, 40401, None).await;
    let r = app
        .client
        .put(app.url("/api/v1/links"))
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::METHOD_NOT_ALLOWED, 40501, None).await;
}

#[tokio::test]
async fn openapi_31_document_covers_every_route() {
    let backend = Backend::Sqlite;
    let app = spawn_app(backend).await;
    let r = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("send");
    let doc = expect_json(r, StatusCode::OK).await;
    assert!(doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1")));
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            routes.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let expected: BTreeSet<String> = [
        "POST /api/v1/links",
        "GET /api/v1/links",
        "GET /api/v1/links/{slug}",
        "PATCH /api/v1/links/{slug}",
        "DELETE /api/v1/links/{slug}",
        "GET /api/v1/links/{slug}/stats",
        "GET /api/v1/links/{slug}/qr",
        "GET /api/v1/links/{slug}/visits",
        "GET /api/v1/stats",
        "POST /api/v1/users",
        "POST /api/v1/keys",
        "GET /api/v1/keys",
        "DELETE /api/v1/keys/{id}",
        "POST /api/v1/reports",
        "GET /api/v1/reports",
        "POST /api/v1/reports/{id}/resolve",
        "GET /api/v1/review",
        "GET /api/v1/openapi.json",
        "GET /",
        "GET /{slug}",
        "POST /{slug}",
        "POST /{slug}+/report",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(routes, expected);
}

#[tokio::test]
async fn rate_limited_requests_get_429_with_retry_after() {
    let backend = Backend::Sqlite;
    let app = spawn_with(backend, |c| {
        c.rate_limits = kurz_server::config::Switch::On;
        c.limits.create_per_minute = 2;
        c.limits.redirect_per_second = 1;
    })
    .await;
    let slug = app.shorten("https://example.com/").await;
    app.shorten("https://example.com/").await;
    let r = app
        .post(
            "/api/v1/links",
            &app.admin_key,
            json!({"url": "https://example.com/"}),
        )
        .send()
        .await
        .expect("send");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(retry >= 1);
    expect_error(r, StatusCode::TOO_MANY_REQUESTS, 42901, None).await;
    // Reading has its own budget.
    assert_eq!(
        app.get("/api/v1/links", &app.admin_key)
            .send()
            .await
            .expect("send")
            .status(),
        StatusCode::OK
    );

    let mut limited = 0;
    for _ in 0..6 {
        if app.follow(&slug).await.status() == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    assert!(limited >= 3, "{limited} redirects were limited");
}

/// How many of `paths`' answers were 429, each sent with its own
/// `X-Forwarded-For`.
async fn limited(app: &crate::helpers::TestApp, requests: &[(String, &str)]) -> usize {
    let mut limited = 0;
    for (path, forwarded_for) in requests {
        let r = app
            .client
            .get(format!("{}{path}", app.base))
            .header("x-forwarded-for", *forwarded_for)
            .send()
            .await
            .expect("send");
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    limited
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let limit = |trusted: Vec<String>| {
        move |c: &mut kurz_server::config::Config| {
            c.rate_limits = kurz_server::config::Switch::On;
            c.limits.redirect_per_second = 1;
            c.trusted_proxies = trusted;
        }
    };
    // Redirects (the hot path) and previews (the router), each from a
    // "different client" by the header.
    let spread = |slug: &str| -> Vec<(String, &'static str)> {
        ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]
            .into_iter()
            .flat_map(|ip| [(format!("/{slug}"), ip), (format!("/{slug}+"), ip)])
            .collect()
    };

    // Proxies are configured, but the test's peer (127.0.0.1) is not one.
    let untrusted = spawn_with(Backend::Sqlite, limit(vec!["10.0.0.0/8".into()])).await;
    let slug = untrusted.shorten("https://example.com/").await;
    assert!(
        limited(&untrusted, &spread(&slug)).await >= 4,
        "a made-up X-Forwarded-For does not buy a new budget"
    );

    let trusted = spawn_with(Backend::Sqlite, limit(vec!["127.0.0.0/8".into()])).await;
    let slug = trusted.shorten("https://example.com/").await;
    let one_each: Vec<(String, &str)> = spread(&slug).into_iter().step_by(2).collect();
    assert_eq!(
        limited(&trusted, &one_each).await,
        0,
        "behind a trusted proxy each forwarded client has its own budget"
    );
    let same: Vec<(String, &str)> = (0..4)
        .map(|i| {
            let path = if i % 2 == 0 {
                format!("/{slug}")
            } else {
                format!("/{slug}+")
            };
            (path, "198.51.100.7, 127.0.0.1")
        })
        .collect();
    assert!(
        limited(&trusted, &same).await >= 2,
        "one forwarded client shares its budget across the hot path and the router"
    );
}

#[tokio::test]
async fn a_locked_store_answers_503_not_a_lie() {
    let backend = Backend::Sqlite;
    let app = spawn_with(backend, |c| c.pool.busy_timeout_ms = 200).await;
    let slug = app.shorten("https://example.com/").await;
    let mut conn = app.lock_sqlite_file().await;

    let r = app
        .post(
            "/api/v1/links",
            &app.admin_key,
            json!({"url": "https://example.com/"}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::SERVICE_UNAVAILABLE, 50301, None).await;
    // Readers are not blocked by a writer in WAL mode: redirects still work.
    assert_eq!(app.follow(&slug).await.status(), StatusCode::FOUND);

    sqlx::query("rollback")
        .execute(&mut conn)
        .await
        .expect("unlock");
    let r = app
        .post(
            "/api/v1/links",
            &app.admin_key,
            json!({"url": "https://example.com/"}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::CREATED);
}

async fn boom() -> &'static str {
    panic!("deliberate")
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_keeps_serving() {
    let routes = Router::new()
        .route("/boom", get(boom))
        .route("/fine", get(|| async { "fine" }));
    let metrics = std::sync::Arc::new(kurz_server::metrics::Metrics::new().expect("metrics"));
    let app = kurz_server::http::with_edge_layers(routes, metrics);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let c = client();
    let r = c
        .get(format!("http://{addr}/boom"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.headers().contains_key("x-trace-id"));
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], 50000);
    assert!(
        !body.to_string().contains("deliberate"),
        "5xx bodies are opaque"
    );
    let r = c
        .get(format!("http://{addr}/fine"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.text().await.expect("body"), "fine");
}

backend_tests!(health_and_readiness_answer_200,);
