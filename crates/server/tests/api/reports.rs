//! Abuse reports (API.md, "Protection and administration"; ADR 0021):
//! anyone files one, within a budget; admins list and resolve them; a link
//! disabled for abuse answers 410 saying so, on every node at once.

use std::process::Output;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::cache::{prefix, redis_url, within, Node};
use crate::cli::{add_admin, kurz};
use crate::helpers::{client, expect_error, expect_json, spawn_app, spawn_with, Backend, TestApp};

const HTML: &str = "text/html,application/xhtml+xml";

/// Files a report without a key; panics unless 202. Its ID.
async fn file(app: &TestApp, body: Value) -> i64 {
    let r = app
        .client
        .post(app.url("/api/v1/reports"))
        .json(&body)
        .send()
        .await
        .expect("send");
    expect_json(r, StatusCode::ACCEPTED).await["id"]
        .as_i64()
        .expect("an id")
}

async fn resolve(app: &TestApp, id: i64, action: &str) -> reqwest::Response {
    app.post(
        &format!("/api/v1/reports/{id}/resolve"),
        &app.admin_key,
        json!({ "action": action }),
    )
    .send()
    .await
    .expect("send")
}

async fn reports(app: &TestApp, query: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/reports?{query}"), &app.admin_key)
        .send()
        .await
        .expect("send");
    expect_json(r, StatusCode::OK).await
}

/// Runs `kurz --database db ARGS` off the test's runtime thread: the app
/// under test runs on that thread, and a blocked thread would hold its
/// SQLite locks while the command waits for them.
pub(crate) async fn run_cli(db: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = kurz(db);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("run kurz"))
        .await
        .expect("the command's thread")
}

async fn page_text(r: reqwest::Response) -> String {
    r.text().await.expect("text")
}

async fn a_report_disabled_for_abuse_answers_410_saying_so(backend: Backend) {
    let app = spawn_app(backend).await;
    let bob = app.user("bob").await;
    let r = app
        .post(
            "/api/v1/links",
            &bob,
            json!({"url": "https://bank.example.net/login"}),
        )
        .send()
        .await
        .expect("send");
    let slug = expect_json(r, StatusCode::CREATED).await["slug"]
        .as_str()
        .expect("slug")
        .to_owned();
    let id = file(
        &app,
        json!({"slug": slug, "reason": "phishing", "details": "asks for my PIN"}),
    )
    .await;

    let open = reports(&app, "").await;
    let items = open["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    let item = items[0].as_object().expect("a report");
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "details",
            "id",
            "reason",
            "resolution",
            "resolved_at",
            "slug",
            "status"
        ],
        "never the reporter's address"
    );
    assert_eq!(item["id"], id);
    assert_eq!(item["slug"], slug.as_str());
    assert_eq!(item["reason"], "phishing");
    assert_eq!(item["details"], "asks for my PIN");
    assert_eq!(item["status"], "open");
    assert!(item["resolution"].is_null());

    // It redirects until an admin decides.
    assert_eq!(app.follow(&slug).await.status(), StatusCode::FOUND);
    let done = expect_json(resolve(&app, id, "disable").await, StatusCode::OK).await;
    assert_eq!(done["status"], "resolved");
    assert_eq!(done["resolution"], "disable");
    assert!(done["resolved_at"].is_string());

    // Programs get the API's 410; browsers a page that says why.
    let r = app.follow(&slug).await;
    assert_eq!(r.status(), StatusCode::GONE);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], 41001);
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("disabled for abuse")));
    for path in [format!("/{slug}"), format!("/{slug}+")] {
        let r = app
            .client
            .get(app.url(&path))
            .header("accept", HTML)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::GONE, "{path}");
        assert!(r.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/html")));
        let page = page_text(r).await;
        assert!(
            page.contains("This link has been disabled"),
            "{path}: {page}"
        );
        assert!(page.contains("disabled for abuse"), "{path}: {page}");
    }
    let link = app.link(&slug).await;
    assert_eq!(link["status"], "disabled");

    // The same decision again is no error; the other one is.
    let again = expect_json(resolve(&app, id, "disable").await, StatusCode::OK).await;
    assert_eq!(again, done);
    expect_error(
        resolve(&app, id, "dismiss").await,
        StatusCode::CONFLICT,
        40903,
        None,
    )
    .await;
    assert!(reports(&app, "").await["items"]
        .as_array()
        .is_some_and(Vec::is_empty));
    assert_eq!(reports(&app, "status=resolved").await["items"][0]["id"], id);

    // The owner cannot undo an admin's abuse decision; an admin can.
    let r = app
        .patch(
            &format!("/api/v1/links/{slug}"),
            &bob,
            json!({"disabled": false}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::FORBIDDEN, 40301, None).await;
    let r = app
        .patch(
            &format!("/api/v1/links/{slug}"),
            &app.admin_key,
            json!({"disabled": false}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(expect_json(r, StatusCode::OK).await["status"], "active");
    assert_eq!(app.follow(&slug).await.status(), StatusCode::FOUND);
}

async fn disabling_closes_the_links_other_reports_and_dismissing_leaves_it_working(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let fine = app.shorten("https://example.com/fine").await;
    let bad = app.shorten("https://example.com/bad").await;
    let on_fine = file(&app, json!({"slug": fine, "reason": "spam"})).await;
    let first = file(&app, json!({"slug": bad, "reason": "malware"})).await;
    let second = file(
        &app,
        json!({"slug": bad, "reason": "other", "details": " "}),
    )
    .await;
    assert!(reports(&app, "").await["items"]
        .as_array()
        .is_some_and(|i| i.len() == 3));

    let dismissed = expect_json(resolve(&app, on_fine, "dismiss").await, StatusCode::OK).await;
    assert_eq!(dismissed["resolution"], "dismiss");
    assert_eq!(app.follow(&fine).await.status(), StatusCode::FOUND);
    assert_eq!(app.link(&fine).await["status"], "active");

    expect_json(resolve(&app, first, "disable").await, StatusCode::OK).await;
    assert_eq!(app.follow(&bad).await.status(), StatusCode::GONE);
    let open = reports(&app, "").await;
    assert!(
        open["items"].as_array().is_some_and(Vec::is_empty),
        "{open}"
    );
    let resolved = reports(&app, "status=resolved").await;
    let ids: Vec<i64> = resolved["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| r["id"].as_i64())
        .collect();
    assert_eq!(ids, vec![second, first, on_fine], "newest first");
    assert!(resolved["items"][0]["details"].is_null(), "blank is none");

    // Cursor paging, as the links list.
    let page = reports(&app, "status=resolved&limit=2").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let rest = reports(&app, &format!("status=resolved&limit=2&cursor={cursor}")).await;
    assert_eq!(rest["items"][0]["id"], on_fine);
    assert!(rest["next_cursor"].is_null());
    expect_error(
        resolve(&app, 999_999, "dismiss").await,
        StatusCode::NOT_FOUND,
        40401,
        None,
    )
    .await;
}

async fn bad_reports_answer_with_their_code_and_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let slug = app.shorten("https://example.com/").await;
    let post = |body: Value| {
        app.client
            .post(app.url("/api/v1/reports"))
            .json(&body)
            .send()
    };
    let cases = [
        (json!({"slug": slug, "reason": "ugly"}), "reason"),
        (json!({"slug": slug}), "reason"),
        (
            json!({"slug": slug, "reason": "spam", "details": "x".repeat(2001)}),
            "details",
        ),
        (json!({"reason": "spam"}), "slug"),
    ];
    for (body, field) in cases {
        let r = post(body).await.expect("send");
        expect_error(r, StatusCode::BAD_REQUEST, 40030, Some(field)).await;
    }
    let r = post(json!({"slug": slug, "reason": "spam", "details": "x".repeat(2000)}))
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::ACCEPTED, "2,000 characters fit");
    let r = post(json!({"slug": "no-such-link", "reason": "spam"}))
        .await
        .expect("send");
    expect_error(r, StatusCode::NOT_FOUND, 40401, None).await;
    let r = post(json!({"slug": slug, "reason": "spam", "extra": 1}))
        .await
        .expect("send");
    expect_error(r, StatusCode::BAD_REQUEST, 40000, None).await;
    let r = app
        .client
        .post(app.url("/api/v1/reports"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::BAD_REQUEST, 40000, None).await;
    let r = resolve(&app, 1, "burn").await;
    expect_error(r, StatusCode::BAD_REQUEST, 40030, Some("action")).await;
    let r = app
        .get("/api/v1/reports?status=closed", &app.admin_key)
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::BAD_REQUEST, 40030, Some("status")).await;
    let r = app
        .get("/api/v1/reports?cursor=nonsense", &app.admin_key)
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::BAD_REQUEST, 40030, Some("cursor")).await;
}

async fn admin_routes_refuse_anonymous_and_other_callers(backend: Backend) {
    let app = spawn_app(backend).await;
    let slug = app.shorten("https://example.com/").await;
    let id = file(&app, json!({"slug": slug, "reason": "spam"})).await;
    let user = app.user("carol").await;
    let resolve_path = format!("/api/v1/reports/{id}/resolve");
    for path in ["/api/v1/reports", "/api/v1/review"] {
        let r = app.client.get(app.url(path)).send().await.expect("send");
        expect_error(r, StatusCode::UNAUTHORIZED, 40101, None).await;
        let r = app.get(path, &user).send().await.expect("send");
        expect_error(r, StatusCode::FORBIDDEN, 40301, None).await;
    }
    let r = app
        .client
        .post(app.url(&resolve_path))
        .json(&json!({"action": "disable"}))
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::UNAUTHORIZED, 40101, None).await;
    let r = app
        .post(&resolve_path, &user, json!({"action": "disable"}))
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::FORBIDDEN, 40301, None).await;
    assert_eq!(app.follow(&slug).await.status(), StatusCode::FOUND);
}

async fn the_preview_form_files_a_report_admins_see(backend: Backend) {
    let app = spawn_app(backend).await;
    let slug = app.shorten("https://example.com/form").await;
    let r = app
        .client
        .get(app.url(&format!("/{slug}+")))
        .header("accept", HTML)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let page = page_text(r).await;
    assert!(
        page.contains(&format!("action=\"/{slug}+/report\"")),
        "{page}"
    );
    for reason in ["phishing", "malware", "spam", "other"] {
        assert!(page.contains(&format!("value=\"{reason}\"")), "{reason}");
    }
    assert!(page.contains("<textarea name=\"details\""));

    let post = |form: &[(&str, &str)]| {
        app.client
            .post(app.url(&format!("/{slug}+/report")))
            .header("accept", HTML)
            .form(form)
            .send()
    };
    let r = post(&[("reason", "malware"), ("details", "<script>x</script>")])
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert!(page_text(r).await.contains("Thank you"));
    // The body bound fits the longest details in the widest characters.
    let widest = "\u{1f600}".repeat(2000);
    let r = post(&[("reason", "other"), ("details", &widest)])
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = post(&[("reason", "other"), ("details", &"x".repeat(33 * 1024))])
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let listed = reports(&app, "").await;
    assert_eq!(listed["items"][0]["details"], widest.as_str());
    let listed = reports(&app, "").await;
    assert_eq!(listed["items"][1]["slug"], slug.as_str());
    assert_eq!(listed["items"][1]["reason"], "malware");
    assert_eq!(listed["items"][1]["details"], "<script>x</script>");

    // A refused form comes back with what was sent, escaped, and why.
    let r = post(&[("reason", "ugly"), ("details", "<b>bold</b>")])
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = page_text(r).await;
    assert!(page.contains("role=\"alert\""), "{page}");
    assert!(page.contains("&#60;b&#62;bold&#60;/b&#62;"), "{page}");
    assert!(!page.contains("<b>bold"), "{page}");
    let r = app
        .client
        .post(app.url("/no-such-link+/report"))
        .header("accept", HTML)
        .form(&[("reason", "spam")])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Only the preview's form is a report route.
    let r = app
        .client
        .post(app.url(&format!("/{slug}/report")))
        .form(&[("reason", "spam")])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        reports(&app, "").await["items"].as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn reports_past_the_budget_answer_429_with_retry_after() {
    let app = spawn_with(Backend::Sqlite, |c| {
        c.rate_limits = kurz_server::config::Switch::On;
        c.limits.reports_per_hour = 2;
    })
    .await;
    let slug = app.shorten("https://example.com/").await;
    // The API and the form share the budget.
    file(&app, json!({"slug": slug, "reason": "spam"})).await;
    let r = app
        .client
        .post(app.url(&format!("/{slug}+/report")))
        .form(&[("reason", "spam")])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    for _ in 0..2 {
        let r = app
            .client
            .post(app.url("/api/v1/reports"))
            .json(&json!({"slug": slug, "reason": "spam"}))
            .send()
            .await
            .expect("send");
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!((1..=3600).contains(&retry), "{retry}");
        expect_error(r, StatusCode::TOO_MANY_REQUESTS, 42901, None).await;
    }
    let r = app
        .client
        .post(app.url(&format!("/{slug}+/report")))
        .header("accept", HTML)
        .form(&[("reason", "spam")])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        reports(&app, "").await["items"].as_array().map(Vec::len),
        Some(2)
    );
    // Everything else goes on.
    assert_eq!(app.follow(&slug).await.status(), StatusCode::FOUND);
}

/// The CLI: `kurz reports list` and `resolve`, through the same use cases.
async fn the_cli_lists_and_resolves_reports(backend: Backend) {
    let app = spawn_app(backend).await;
    let slug = app.shorten("https://example.com/cli").await;
    let id = file(
        &app,
        json!({"slug": slug, "reason": "phishing", "details": "fake"}),
    )
    .await;
    let out = run_cli(&app.db_url, &["reports", "list"], &[]).await;
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let line = text.lines().next().expect("a line");
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(
        fields[..4],
        [id.to_string().as_str(), &slug, "phishing", "open"]
    );
    assert_eq!(fields[6], "\"fake\"");
    let out = run_cli(
        &app.db_url,
        &["reports", "resolve", &id.to_string(), "--action", "disable"],
        &[],
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    // This node had not looked the link up: nothing cached to wait for.
    assert_eq!(app.follow(&slug).await.status(), StatusCode::GONE);
    let out = run_cli(
        &app.db_url,
        &["reports", "list", "--status", "resolved"],
        &[],
    )
    .await;
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.contains("\tresolved\t") && text.contains("\tdisable\t"),
        "{text}"
    );
    let out = run_cli(
        &app.db_url,
        &["reports", "resolve", &id.to_string(), "--action", "dismiss"],
        &[],
    )
    .await;
    assert!(!out.status.success(), "the other action conflicts");
    let out = run_cli(
        &app.db_url,
        &["reports", "resolve", "424242", "--action", "dismiss"],
        &[],
    )
    .await;
    assert!(!out.status.success(), "no such report");
}

/// Two `kurz serve` processes on one database and one Redis: a report
/// resolved on A (through the API) or from the command line disables the
/// link on both within a second, though both had it cached.
async fn a_disable_reaches_both_nodes_within_a_second(backend: Backend) {
    let Some(redis) = redis_url() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = backend.fresh_database(&dir).await;
    let key = add_admin(&db);
    let prefix = prefix();
    let (a, b) = (
        Node::start(&db, Some(&redis), &prefix).await,
        Node::start(&db, Some(&redis), &prefix).await,
    );
    let c = client();
    let by_api = a
        .create(&c, &key, json!({"url": "https://example.com/api"}))
        .await;
    let by_cli = a
        .create(&c, &key, json!({"url": "https://example.com/cli"}))
        .await;
    let mut ids = Vec::new();
    for slug in [&by_api, &by_cli] {
        // Both nodes cache it (L1 and L2).
        for node in [&a, &b] {
            for _ in 0..2 {
                assert_eq!(node.follow(&c, slug).await.status(), StatusCode::FOUND);
            }
        }
        let r = c
            .post(b.url("/api/v1/reports"))
            .json(&json!({"slug": slug, "reason": "phishing"}))
            .send()
            .await
            .expect("send");
        ids.push(
            expect_json(r, StatusCode::ACCEPTED).await["id"]
                .as_i64()
                .expect("id"),
        );
    }
    let r = c
        .post(a.url(&format!("/api/v1/reports/{}/resolve", ids[0])))
        .bearer_auth(&key)
        .json(&json!({"action": "disable"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let took = within(Duration::from_secs(1), "410 on both", async || {
        a.follow(&c, &by_api).await.status() == StatusCode::GONE
            && b.follow(&c, &by_api).await.status() == StatusCode::GONE
    })
    .await;
    eprintln!("a disable on A reached both nodes after {took:?}");
    let page = c
        .get(b.url(&format!("/{by_api}")))
        .header("accept", HTML)
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(page.contains("disabled for abuse"), "{page}");

    let out = run_cli(
        &db,
        &[
            "reports",
            "resolve",
            &ids[1].to_string(),
            "--action",
            "disable",
        ],
        &[
            ("KURZ_REDIS", &redis),
            ("KURZ_CACHE__REDIS_PREFIX", &prefix),
        ],
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    within(
        Duration::from_secs(1),
        "the CLI's disable on both",
        async || {
            a.follow(&c, &by_cli).await.status() == StatusCode::GONE
                && b.follow(&c, &by_cli).await.status() == StatusCode::GONE
        },
    )
    .await;
}

backend_tests!(
    a_report_disabled_for_abuse_answers_410_saying_so,
    disabling_closes_the_links_other_reports_and_dismissing_leaves_it_working,
    bad_reports_answer_with_their_code_and_field,
    admin_routes_refuse_anonymous_and_other_callers,
    the_preview_form_files_a_report_admins_see,
    the_cli_lists_and_resolves_reports,
);

mod cluster {
    use super::*;

    server_tests!(a_disable_reaches_both_nodes_within_a_second);
}
