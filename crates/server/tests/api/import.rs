//! `kurz import --from`: links from Shlink, YOURLS and Kutt (fake servers
//! that answer as their APIs document, several pages each) and from CSV
//! files, run through the `kurz` binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Form, Query};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::cli::kurz;
use crate::helpers::{spawn_app, Backend, TestApp};

/// Serves `router` on a random local port; its address.
async fn fake(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// Runs `kurz import ARGS` on the app's database.
async fn import(app: &TestApp, args: &[&str]) -> Output {
    import_with(app, args, &[]).await
}

async fn import_with(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = kurz(&app.db_url);
    command.arg("import").args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    tokio::task::spawn_blocking(move || command.output().expect("run kurz"))
        .await
        .expect("join")
}

/// The report of a successful run.
#[track_caller]
fn report(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kurz import failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `label: N` from a report line (indented reason lines too).
#[track_caller]
fn count(report: &str, label: &str) -> u64 {
    report
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(&format!("{label}: ")))
        .map(|rest| {
            rest.split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .expect("a count")
        })
        .unwrap_or(0)
}

#[track_caller]
fn counts(report: &str) -> (u64, u64, u64) {
    (
        count(report, "imported"),
        count(report, "already present"),
        count(report, "skipped"),
    )
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// `page` of `items`, `per_page` at a time, at most `cap` (a server may
/// give fewer than asked, as Kutt does past 50).
fn page_of(items: &[Value], start: usize, per_page: usize, cap: usize) -> Vec<Value> {
    items
        .iter()
        .skip(start)
        .take(per_page.min(cap))
        .cloned()
        .collect()
}

fn shlink_links() -> Vec<Value> {
    vec![
        json!({
            "shortCode": "games",
            "shortUrl": "https://s.test/games",
            "longUrl": "https://store.example.com/",
            "dateCreated": "2016-08-21T20:34:16+02:00",
            "visitsSummary": {"total": 328, "nonBots": 300, "bots": 28},
            "tags": ["games", "tech"],
            "meta": {"validSince": null, "validUntil": "2099-01-01T00:00:00+00:00", "maxVisits": 1000},
            "domain": null,
            "title": "Welcome to the store",
            "crawlable": true,
            "forwardQuery": false,
            "hasRedirectRules": false
        }),
        // Shlink before 3.0: visitsCount, no visitsSummary.
        json!({
            "shortCode": "12Kb3",
            "shortUrl": "https://s.test/12Kb3",
            "longUrl": "https://shlink.example.org/",
            "dateCreated": "2016-05-01T20:34:16+02:00",
            "visitsCount": 1029,
            "tags": ["shlink"],
            "meta": {"validSince": null, "validUntil": null, "maxVisits": null},
            "domain": null
        }),
        json!({
            "shortCode": "has space",
            "shortUrl": "https://s.test/has%20space",
            "longUrl": "https://example.com/space",
            "dateCreated": "2017-01-01T00:00:00+00:00",
            "visitsSummary": {"total": 5, "nonBots": 5, "bots": 0},
            "tags": [],
            "meta": {"validSince": null, "validUntil": null, "maxVisits": null},
            "domain": "other.test", "title": null, "crawlable": false, "forwardQuery": true
        }),
        json!({
            "shortCode": "api",
            "shortUrl": "https://s.test/api",
            "longUrl": "https://example.com/reserved",
            "dateCreated": "2017-01-02T00:00:00+00:00",
            "visitsSummary": {"total": 0, "nonBots": 0, "bots": 0},
            "tags": [],
            "meta": {"validSince": null, "validUntil": null, "maxVisits": null},
            "domain": null, "title": null, "crawlable": false, "forwardQuery": true
        }),
        json!({
            "shortCode": "local",
            "shortUrl": "https://s.test/local",
            "longUrl": "http://127.0.0.1/admin",
            "dateCreated": "2017-01-03T00:00:00+00:00",
            "visitsSummary": {"total": 0, "nonBots": 0, "bots": 0},
            "tags": [],
            "meta": {"validSince": null, "validUntil": null, "maxVisits": null},
            "domain": null, "title": null, "crawlable": false, "forwardQuery": true
        }),
        json!({
            "shortCode": "taken",
            "shortUrl": "https://s.test/taken",
            "longUrl": "https://example.com/theirs",
            "dateCreated": "2017-01-04T00:00:00+00:00",
            "visitsSummary": {"total": 1, "nonBots": 1, "bots": 0},
            "tags": [],
            "meta": {"validSince": null, "validUntil": null, "maxVisits": null},
            "domain": null, "title": null, "crawlable": false, "forwardQuery": true
        }),
        json!({
            "shortCode": "same",
            "shortUrl": "https://s.test/same",
            "longUrl": "https://example.com/same",
            "dateCreated": "2017-01-05T00:00:00+00:00",
            "visitsSummary": {"total": 1, "nonBots": 1, "bots": 0},
            "tags": [],
            "meta": {"validSince": null, "validUntil": null, "maxVisits": null},
            "domain": null, "title": null, "crawlable": false, "forwardQuery": true
        }),
    ]
}

/// Shlink v3's list: `page` / `itemsPerPage`, the `pagination` object,
/// `X-Api-Key` (any case); this one gives at most 3 a page.
async fn fake_shlink() -> String {
    let links = Arc::new(shlink_links());
    let list = move |headers: HeaderMap, Query(q): Query<HashMap<String, String>>| {
        let links = links.clone();
        async move {
            if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("shlink-key") {
                return (
                    AxumStatus::UNAUTHORIZED,
                    Json(json!({
                        "type": "https://shlink.io/api/error/invalid-api-key",
                        "title": "Invalid API key", "detail": "Provided API key does not exist or is invalid.",
                        "status": 401
                    })),
                )
                    .into_response();
            }
            let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let per_page: usize = q
                .get("itemsPerPage")
                .and_then(|p| p.parse().ok())
                .unwrap_or(10);
            let per_page = per_page.min(3);
            let data = page_of(&links, (page - 1) * per_page, per_page, 3);
            let pages = links.len().div_ceil(per_page);
            Json(json!({"shortUrls": {"data": data, "pagination": {
                "currentPage": page, "pagesCount": pages, "itemsPerPage": per_page,
                "itemsInCurrentPage": data.len(), "totalItems": links.len()
            }}}))
            .into_response()
        }
    };
    fake(Router::new().route("/rest/v3/short-urls", get(list))).await
}

async fn shlink_links_land_with_their_history_and_come_over_once(backend: Backend) {
    let app = spawn_app(backend).await;
    app.user("bob").await;
    app.create_link(json!({"url": "https://example.com/mine", "alias": "taken"}))
        .await;
    app.create_link(json!({"url": "https://example.com/same", "alias": "same"}))
        .await;
    let shlink = fake_shlink().await;
    let base = [
        "--from",
        "shlink",
        "--url",
        &shlink,
        "--api-key",
        "shlink-key",
        "--user",
        "bob",
    ];

    let first = report(&import(&app, &base).await);
    assert_eq!(counts(&first), (2, 1, 4), "{first}");
    assert_eq!(count(&first, "slug kurz cannot hold"), 2, "{first}");
    assert_eq!(count(&first, "slug taken by another link"), 1, "{first}");
    assert_eq!(
        count(
            &first,
            "target refused: the target is a loopback, private or link-local address"
        ),
        1,
        "{first}"
    );
    assert!(first.contains("other Shlink domains"), "{first}");
    let again = report(&import(&app, &base).await);
    assert_eq!(counts(&again), (0, 3, 4), "nothing twice: {again}");

    let rename = [
        &base[..],
        &["--on-invalid-slug", "rename", "--on-taken-slug", "rename"],
    ]
    .concat();
    let renamed = report(&import(&app, &rename).await);
    assert_eq!(counts(&renamed), (3, 3, 1), "{renamed}");
    assert_eq!(count(&renamed, "imported"), 3);
    assert!(renamed.contains("(renamed: 3)"), "{renamed}");
    let again = report(&import(&app, &rename).await);
    assert_eq!(
        counts(&again),
        (0, 6, 1),
        "renamed ones are recognised: {again}"
    );
    // Refusing now still recognises what an earlier run renamed.
    let refused = report(&import(&app, &base).await);
    assert_eq!(counts(&refused), (0, 6, 1), "{refused}");

    let games = app.link("games").await;
    assert_eq!(games["url"], "https://store.example.com/");
    assert_eq!(games["created_at"], "2016-08-21T18:34:16Z");
    assert_eq!(games["visits"], 328);
    assert_eq!(games["tags"], json!(["games", "tech"]));
    assert_eq!(games["title"], "Welcome to the store");
    assert_eq!(games["expires_at"], "2099-01-01T00:00:00Z");
    assert_eq!(games["max_visits"], 1000);
    assert_eq!(games["forward_query"], false);
    assert_eq!(games["owner"], "bob");
    assert_eq!(games["status"], "active");
    let old = app.link("12Kb3").await;
    assert_eq!(old["visits"], 1029);
    assert_eq!(old["forward_query"], true, "Shlink's default");
    // The slug kept its link; the source's went to a derived slug.
    assert_eq!(app.link("taken").await["url"], "https://example.com/mine");
    for target in [
        "https://example.com/space",
        "https://example.com/reserved",
        "https://example.com/theirs",
    ] {
        let found = app.list_as(&app.admin_key, &format!("q={target}")).await;
        let items = found["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{target}: {found}");
        let slug = items[0]["slug"].as_str().expect("slug");
        assert_eq!(slug.len(), 8, "a derived slug: {slug}");
    }
    let robots = app.robots_txt().await;
    assert!(
        robots.contains("Allow: /games$\n"),
        "crawlable came over: {robots}"
    );
    assert!(!robots.contains("Allow: /12Kb3"), "{robots}");
    // The imported link redirects.
    let r = app.follow("games").await;
    assert_eq!(r.status(), reqwest::StatusCode::FOUND);
    assert_eq!(r.headers()["location"], "https://store.example.com/");
}

fn yourls_links() -> Vec<Value> {
    let link = |kw: &str, url: &str, ts: &str, clicks: Value| {
        json!({"shorturl": format!("http://sho.rt/{kw}"), "url": url, "title": format!("Title {kw}"),
               "timestamp": ts, "ip": "203.0.113.9", "clicks": clicks})
    };
    vec![
        link(
            "abc",
            "https://example.com/a",
            "2020-01-02 03:04:05",
            json!("12"),
        ),
        link(
            "Bcd_9",
            "https://example.com/b",
            "2020-01-01 00:00:00",
            json!(7),
        ),
        link(
            "c.d",
            "https://example.com/c",
            "2019-12-31 00:00:00",
            json!("0"),
        ),
        link(
            "ddd",
            "https://example.com/d",
            "2019-12-30 00:00:00",
            json!("1"),
        ),
        link(
            "eee",
            "https://example.com/e",
            "2019-12-29 00:00:00",
            json!("2"),
        ),
    ]
}

/// YOURLS's `action=stats&filter=last` with `limit` and `start`, signed
/// with a signature token; this one gives at most 2 a page.
async fn fake_yourls() -> String {
    let links = Arc::new(yourls_links());
    let api = move |Form(q): Form<HashMap<String, String>>| {
        let links = links.clone();
        async move {
            if q.get("signature").map(String::as_str) != Some("sig-token") {
                return (
                    AxumStatus::FORBIDDEN,
                    Json(json!({"errorCode": 403, "message": "Please log in"})),
                );
            }
            assert_eq!(q.get("action").map(String::as_str), Some("stats"));
            assert_eq!(q.get("filter").map(String::as_str), Some("last"));
            assert_eq!(q.get("format").map(String::as_str), Some("json"));
            let start: usize = q.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
            let limit: usize = q.get("limit").and_then(|s| s.parse().ok()).unwrap_or(10);
            let mut answer = json!({
                "stats": {"total_links": links.len().to_string(), "total_clicks": "22"},
                "statusCode": 200, "message": "success"
            });
            let page = page_of(&links, start, limit, 2);
            if !page.is_empty() {
                let map: serde_json::Map<String, Value> = page
                    .into_iter()
                    .enumerate()
                    .map(|(i, l)| (format!("link_{}", i + 1), l))
                    .collect();
                answer["links"] = Value::Object(map);
            }
            (AxumStatus::OK, Json(answer))
        }
    };
    fake(Router::new().route("/yourls-api.php", post(api))).await
}

async fn yourls_links_land_across_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let yourls = fake_yourls().await;
    let args = [
        "--from",
        "yourls",
        "--url",
        &yourls,
        "--signature",
        "sig-token",
    ];
    let first = report(&import(&app, &args).await);
    assert_eq!(counts(&first), (4, 0, 1), "{first}");
    assert_eq!(count(&first, "slug kurz cannot hold"), 1, "{first}");
    assert!(!first.contains("note:"), "every link was read: {first}");
    let again = report(&import(&app, &args).await);
    assert_eq!(counts(&again), (0, 4, 1), "{again}");

    let abc = app.link("abc").await;
    assert_eq!(abc["url"], "https://example.com/a");
    assert_eq!(abc["created_at"], "2020-01-02T03:04:05Z");
    assert_eq!(abc["visits"], 12);
    assert_eq!(abc["title"], "Title abc");
    assert_eq!(app.link("Bcd_9").await["visits"], 7);
    assert_eq!(app.link("eee").await["visits"], 2);

    let wrong = import(
        &app,
        &["--from", "yourls", "--url", &yourls, "--signature", "nope"],
    )
    .await;
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(stderr.contains("403"), "{stderr}");
}

fn kutt_links() -> Vec<Value> {
    let link = |address: &str, target: &str, extra: Value| {
        let mut l = json!({
            "id": format!("00000000-0000-0000-0000-{address:0>12}"),
            "address": address, "target": target, "banned": false, "password": false,
            "description": null, "expire_in": null, "visit_count": 0,
            "created_at": "2024-02-03T04:05:06.000Z", "updated_at": "2024-02-03T04:05:06.000Z",
            "domain": null, "link": format!("https://kutt.test/{address}")
        });
        if let (Some(l), Some(extra)) = (l.as_object_mut(), extra.as_object()) {
            l.extend(extra.clone());
        }
        l
    };
    vec![
        link(
            "kt1",
            "https://example.com/k1",
            json!({"visit_count": 99, "description": "First", "expire_in": "2098-01-01T00:00:00.000Z"}),
        ),
        link("kt2", "https://example.com/k2", json!({"visit_count": 3})),
        link(
            "secret",
            "https://example.com/pw",
            json!({"password": true}),
        ),
        link("bad", "https://example.com/banned", json!({"banned": true})),
        link("kt5", "https://example.com/k5", json!({})),
    ]
}

/// Kutt's `GET /api/v2/links` with `skip` and `limit` (at most 2 here),
/// authenticated with `X-API-KEY`.
async fn fake_kutt() -> String {
    let links = Arc::new(kutt_links());
    let list = move |headers: HeaderMap, Query(q): Query<HashMap<String, String>>| {
        let links = links.clone();
        async move {
            if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("kutt-key") {
                return (
                    AxumStatus::UNAUTHORIZED,
                    Json(json!({"error": "API key is not correct."})),
                );
            }
            let skip: usize = q.get("skip").and_then(|s| s.parse().ok()).unwrap_or(0);
            let limit: usize = q.get("limit").and_then(|s| s.parse().ok()).unwrap_or(10);
            let data = page_of(&links, skip, limit, 2);
            (
                AxumStatus::OK,
                Json(
                    json!({"total": links.len(), "limit": limit.min(2), "skip": skip, "data": data}),
                ),
            )
        }
    };
    fake(Router::new().route("/api/v2/links", get(list))).await
}

async fn kutt_links_land_and_protected_ones_are_skipped(backend: Backend) {
    let app = spawn_app(backend).await;
    let kutt = fake_kutt().await;
    let out = import_with(
        &app,
        &["--from", "kutt", "--url", &format!("{kutt}/")],
        &[("KURZ_IMPORT_API_KEY", "kutt-key")],
    )
    .await;
    let first = report(&out);
    assert_eq!(counts(&first), (3, 0, 2), "{first}");
    assert_eq!(
        count(
            &first,
            "password-protected at the source (its password cannot be read)"
        ),
        1,
        "{first}"
    );
    assert_eq!(count(&first, "banned at the source"), 1, "{first}");
    let out = import_with(
        &app,
        &["--from", "kutt", "--url", &kutt],
        &[("KURZ_IMPORT_API_KEY", "kutt-key")],
    )
    .await;
    assert_eq!(counts(&report(&out)), (0, 3, 2));

    let k1 = app.link("kt1").await;
    assert_eq!(k1["url"], "https://example.com/k1");
    assert_eq!(k1["visits"], 99);
    assert_eq!(k1["title"], "First");
    assert_eq!(k1["created_at"], "2024-02-03T04:05:06Z");
    assert_eq!(k1["expires_at"], "2098-01-01T00:00:00Z");
    expect_missing(&app, "secret").await;
}

async fn expect_missing(app: &TestApp, slug: &str) {
    let r = app
        .get(&format!("/api/v1/links/{slug}"), &app.admin_key)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND, "{slug}");
}

async fn csv_files_land_with_their_columns(backend: Backend) {
    // The blocklist file `kurz serve` would load applies to imports too.
    let dir = tempfile::tempdir().expect("tempdir");
    let blocklist = dir.path().join("blocklist.txt");
    std::fs::write(&blocklist, "blocked.example.net\n").expect("write");
    let app = spawn_app(backend).await;
    let kurz_csv = data("kurz-links.csv");
    let kurz_csv = kurz_csv.to_str().expect("path");
    let env = [("KURZ_BLOCKLIST", blocklist.to_str().expect("path"))];

    let first = report(&import_with(&app, &["--from", "csv", kurz_csv], &env).await);
    assert_eq!(counts(&first), (2, 0, 3), "{first}");
    assert_eq!(count(&first, "unreadable record"), 1, "{first}");
    assert_eq!(count(&first, "slug kurz cannot hold"), 1, "{first}");
    assert_eq!(
        count(
            &first,
            "target refused: the target domain is blocked on this service"
        ),
        1,
        "{first}"
    );
    let again = report(&import_with(&app, &["--from", "csv", kurz_csv], &env).await);
    assert_eq!(counts(&again), (0, 2, 3), "{again}");
    let launch = app.link("launch").await;
    assert_eq!(launch["url"], "https://example.com/launch");
    assert_eq!(launch["created_at"], "2021-03-04T05:06:07Z");
    assert_eq!(launch["title"], "Launch day");
    assert_eq!(launch["tags"], json!(["news", "product"]));
    assert_eq!(launch["expires_at"], "2099-12-31T00:00:00Z");
    assert_eq!(launch["max_visits"], 500);
    assert_eq!(launch["visits"], 42);
    assert_eq!(launch["forward_query"], true);
    let robots = app.robots_txt().await;
    assert!(robots.contains("Allow: /launch$\n"), "{robots}");
    assert_eq!(
        app.link("plain").await["created_at"],
        "2021-03-05T00:00:00Z"
    );

    let bitly = data("bitly-links.csv");
    let args = ["--from", "bitly-csv", bitly.to_str().expect("path")];
    let first = report(&import(&app, &args).await);
    assert_eq!(counts(&first), (2, 0, 1), "{first}");
    let again = report(&import(&app, &args).await);
    assert_eq!(counts(&again), (0, 2, 1), "{again}");
    let sale = app.link("spring-sale").await;
    assert_eq!(sale["url"], "https://shop.example.com/spring");
    assert_eq!(sale["visits"], 1234);
    assert_eq!(sale["tags"], json!(["sale", "spring"]));
    assert_eq!(sale["title"], "Spring sale");
    assert_eq!(sale["created_at"], "2022-04-01T09:30:00Z");
    let docs = app.link("4DocsQq").await;
    assert_eq!(docs["created_at"], "2022-05-02T10:00:00Z");
    assert_eq!(docs["visits"], 17);
}

backend_tests!(
    shlink_links_land_with_their_history_and_come_over_once,
    yourls_links_land_across_pages,
    kutt_links_land_and_protected_ones_are_skipped,
    csv_files_land_with_their_columns
);

/// A source that answers too much, or not at all, stops the run with a
/// reason instead of exhausting or hanging the importer.
#[tokio::test]
async fn a_hostile_source_can_neither_hang_nor_flood_the_importer() {
    let app = spawn_app(Backend::Sqlite).await;
    let flood = fake(Router::new().route(
        "/rest/v3/short-urls",
        get(|| async {
            let body = format!(
                "{{\"shortUrls\":{{\"data\":[],\"padding\":\"{}\"}}}}",
                "x".repeat(9 * 1024 * 1024)
            );
            Response::new(axum::body::Body::from(body))
        }),
    ))
    .await;
    let out = import(
        &app,
        &["--from", "shlink", "--url", &flood, "--api-key", "k"],
    )
    .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("larger than"), "{stderr}");

    let silent = fake(Router::new().route(
        "/api/v2/links",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            "too late"
        }),
    ))
    .await;
    let started = Instant::now();
    let out = import(
        &app,
        &[
            "--from",
            "kutt",
            "--url",
            &silent,
            "--api-key",
            "k",
            "--timeout",
            "1",
        ],
    )
    .await;
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did not answer in time"), "{stderr}");

    let dir = tempfile::tempdir().expect("tempdir");
    let long = dir.path().join("long.csv");
    let line = format!(
        "slug,url\nok,https://example.com/ok\nx,https://example.com/{}\n",
        "a".repeat(200_000)
    );
    std::fs::write(&long, line).expect("write");
    let out = import(&app, &["--from", "csv", long.to_str().expect("path")]).await;
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("longer than 64 KiB"), "{stderr}");
    assert_eq!(
        count(&stdout, "imported"),
        1,
        "what came before stays: {stdout}"
    );
}

/// The export/import pair keeps its shape: `--input` is not a source.
#[tokio::test]
async fn from_and_input_do_not_mix() {
    let app = spawn_app(Backend::Sqlite).await;
    let out = import(&app, &["--from", "csv", "--input", "x.jsonl", "y.csv"]).await;
    assert!(!out.status.success());
    let out = import(&app, &["--from", "shlink", "--url", "http://127.0.0.1:9"]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--api-key"), "{stderr}");
}
