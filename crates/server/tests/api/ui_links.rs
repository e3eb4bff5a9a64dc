//! The links pages: "My links" (search, tag filter, paging) and "One link"
//! (every field of the API's PATCH, disable/enable, delete with a
//! confirmation, the QR download), seen through the JSON API and the
//! redirect.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_json, spawn_app, Backend, TestApp};
use crate::qr::decode_png;
use crate::ui_client::{location, UiClient};

const SCRIPT: &str = "<script>alert(1)</script>";
const BREAKOUT: &str = "\"><img src=x onerror=alert(1)>";

/// Creates a link as the holder of `key`; its JSON.
async fn create(app: &TestApp, key: &str, body: Value) -> Value {
    let r = app
        .post("/api/v1/links", key, body)
        .send()
        .await
        .expect("send");
    expect_json(r, StatusCode::CREATED).await
}

/// The link as the JSON API shows it to the admin.
async fn api_link(app: &TestApp, slug: &str) -> Value {
    app.link(slug).await
}

/// The slugs of a list page, in order.
fn slugs(html: &str) -> Vec<String> {
    html.split("<td class=\"mono\"><a href=\"/ui/links/")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// The `href` of the "Next" link, unescaped.
fn next_href(html: &str) -> Option<String> {
    let at = html.find("rel=\"next\"")?;
    let start = html[..at].rfind("href=\"")? + "href=\"".len();
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&amp;", "&").replace("&#38;", "&"))
}

/// What a browser sends for the edit form of `link` as the page shows
/// it, with `changes` over it (a `None` value leaves the field out, as an
/// unticked checkbox is).
fn edit_form(link: &Value, changes: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    let text = |k: &str| link[k].as_str().unwrap_or_default().to_owned();
    let expires = text("expires_at").chars().take(16).collect::<String>();
    let max = link["max_visits"]
        .as_i64()
        .map(|n| n.to_string())
        .unwrap_or_default();
    let tags = link["tags"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    // The API shows the effective code; the form shows the instance's
    // default as "" only when the link has none, which these tests set.
    let status = if link["redirect_status"] == 302 {
        String::new()
    } else {
        link["redirect_status"].to_string()
    };
    let mut fields: Vec<(String, Option<String>)> = vec![
        ("url".into(), Some(text("url"))),
        ("title".into(), Some(text("title"))),
        ("tags".into(), Some(tags)),
        ("expires_at".into(), Some(expires)),
        ("max_visits".into(), Some(max)),
        ("password".into(), Some(String::new())),
        ("redirect_status".into(), Some(status)),
        (
            "forward_query".into(),
            (link["forward_query"] == true).then(|| "on".to_owned()),
        ),
    ];
    for (k, v) in changes {
        match fields.iter_mut().find(|(name, _)| name == k) {
            Some(field) => field.1 = v.map(str::to_owned),
            None => fields.push(((*k).to_owned(), v.map(str::to_owned))),
        }
    }
    fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
}

/// Saves the edit form of `slug` with `changes`.
async fn save(
    app: &TestApp,
    ui: &UiClient,
    slug: &str,
    changes: &[(&str, Option<&str>)],
) -> reqwest::Response {
    let link = api_link(app, slug).await;
    let fields = edit_form(&link, changes);
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let path = format!("/ui/links/{slug}");
    ui.submit(&path, &path, &pairs).await
}

async fn saved(app: &TestApp, ui: &UiClient, slug: &str, changes: &[(&str, Option<&str>)]) {
    let r = save(app, ui, slug, changes).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{changes:?}");
    assert_eq!(location(&r), format!("/ui/links/{slug}?done=saved"));
}

// ------------------------------------------------------- the list (all backends)

async fn the_list_shows_own_links_and_everyone_s_to_admins(backend: Backend) {
    let app = spawn_app(backend).await;
    let bob = app.user("bob").await;
    create(
        &app,
        &bob,
        json!({"url": "https://example.com/bob", "alias": "bobs", "title": "Bob's"}),
    )
    .await;
    create(
        &app,
        &app.admin_key,
        json!({"url": "https://example.com/admin", "alias": "admins"}),
    )
    .await;

    let ui = UiClient::logged_in(&app, "bob", "user-password").await;
    let (status, body) = ui.page("/ui/links").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(slugs(&body), ["bobs"]);
    assert!(
        body.contains("Bob&#39;s") || body.contains("Bob&#x27;s"),
        "{body}"
    );
    assert!(body.contains("badge badge-active"));
    assert!(body.contains("title=\"https://example.com/bob\""));

    let admin = UiClient::logged_in(&app, "admin", "admin-password").await;
    let (_, body) = admin.page("/ui/links").await;
    assert_eq!(slugs(&body), ["admins", "bobs"], "newest first");
    assert!(body.contains(">bob</td>"), "the owner column");

    // Logged out: the login page, coming back here.
    let r = UiClient::new(&app).get("/ui/links?q=x").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?next=/ui/links%3Fq%3Dx");
}

async fn search_and_the_tag_filter_narrow_the_list(backend: Backend) {
    let app = spawn_app(backend).await;
    let bob = app.user("bob").await;
    for (alias, url, title, tags) in [
        (
            "rust-book",
            "https://doc.example/book",
            "The Rust book",
            json!(["work", "read"]),
        ),
        ("cats", "https://cats.example/", "Cats", json!(["home"])),
        ("ci", "https://ci.example/rustc", "CI", json!(["work"])),
    ] {
        create(
            &app,
            &bob,
            json!({"url": url, "alias": alias, "title": title, "tags": tags}),
        )
        .await;
    }
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;

    let (_, body) = ui.page("/ui/links?q=Rust%20book").await;
    assert_eq!(slugs(&body), ["rust-book"], "by title");
    let (_, body) = ui.page("/ui/links?q=rustc").await;
    assert_eq!(slugs(&body), ["ci"], "by target");
    assert!(body.contains("value=\"rustc\""), "the box keeps the search");

    // Each tag links to the list filtered by it.
    let (_, body) = ui.page("/ui/links").await;
    assert!(body.contains("<a class=\"tag\" href=\"/ui/links?tag=work\">work</a>"));
    let (_, body) = ui.page("/ui/links?tag=work").await;
    assert_eq!(slugs(&body), ["ci", "rust-book"]);
    assert!(
        body.contains("name=\"tag\" value=\"work\""),
        "search within the tag"
    );
    let (_, body) = ui.page("/ui/links?tag=work&q=book").await;
    assert_eq!(slugs(&body), ["rust-book"]);

    let (status, body) = ui.page("/ui/links?q=nothing-like-it").await;
    assert_eq!(status, StatusCode::OK);
    assert!(slugs(&body).is_empty());
    assert!(body.contains("No link matches."));

    let (status, body) = ui.page("/ui/links?cursor=not-a-cursor").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("40030"), "{body}");
}

async fn the_list_pages_through_120_links(backend: Backend) {
    let app = spawn_app(backend).await;
    let bob = app.user("bob").await;
    for i in 0..120 {
        create(
            &app,
            &bob,
            json!({"url": format!("https://example.com/{i}"), "alias": format!("l{i:03}"), "tags": ["many"]}),
        )
        .await;
    }
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;
    let mut seen = Vec::new();
    let mut path = "/ui/links?tag=many".to_owned();
    let mut pages = 0;
    loop {
        let (status, body) = ui.page(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        pages += 1;
        let on_page = slugs(&body);
        assert_eq!(on_page.len(), if pages < 3 { 50 } else { 20 }, "{path}");
        if pages > 1 {
            assert!(body.contains("href=\"/ui/links?tag=many\">« First page</a>"));
        } else {
            assert!(!body.contains("First page"));
        }
        seen.extend(on_page);
        match next_href(&body) {
            Some(next) => {
                assert!(next.contains("tag=many&cursor="), "{next}");
                path = next;
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..120).rev().map(|i| format!("l{i:03}")).collect();
    assert_eq!(seen, expected, "every link once, newest first");
}

backend_tests!(
    the_list_shows_own_links_and_everyone_s_to_admins,
    search_and_the_tag_filter_narrow_the_list,
    the_list_pages_through_120_links,
);

// --------------------------------------------------------------- one link

#[tokio::test]
async fn an_empty_list_leads_to_the_home_page() {
    let app = spawn_app(Backend::Sqlite).await;
    app.user("bob").await;
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;
    let (status, body) = ui.page("/ui/links").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("You have no links yet."));
    assert!(body.contains("<a class=\"button primary\" href=\"/\">Shorten your first link</a>"));
}

#[tokio::test]
async fn the_link_page_shows_the_link() {
    let app = spawn_app(Backend::Sqlite).await;
    let bob = app.user("bob").await;
    let link = create(
        &app,
        &bob,
        json!({"url": "https://example.com/page", "alias": "pg", "title": "Page", "tags": ["a", "b"], "password": "open sesame"}),
    )
    .await;
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;
    let (status, body) = ui.page("/ui/links/pg").await;
    assert_eq!(status, StatusCode::OK);
    let short_url = link["short_url"].as_str().expect("short_url");
    assert!(body.contains(&format!("value=\"{short_url}\"")), "{body}");
    assert!(body.contains("data-copy=\"short-url\""));
    assert!(body.contains("src=\"/ui/links/pg/qr?format=svg&amp;size=192\""));
    assert!(body.contains("href=\"/ui/links/pg/qr?format=png&amp;size=512&amp;download=1\""));
    assert!(body.contains("href=\"/ui/links/pg/stats\""));
    assert!(body.contains("badge badge-active"));
    assert!(body.contains("name=\"remove_password\""));
    assert!(!body.contains("argon2"), "never the hash");
    assert!(body.contains("value=\"a, b\""));

    let r = UiClient::new(&app).get("/ui/links/pg").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "logged out");
}

#[tokio::test]
async fn every_field_is_edited_and_cleared() {
    let app = spawn_app(Backend::Sqlite).await;
    let bob = app.user("bob").await;
    create(
        &app,
        &bob,
        json!({"url": "https://example.com/old", "alias": "ed"}),
    )
    .await;
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;

    saved(&app, &ui, "ed", &[("url", Some("https://example.org/new"))]).await;
    assert_eq!(api_link(&app, "ed").await["url"], "https://example.org/new");
    let r = app.follow("ed").await;
    assert_eq!(location(&r), "https://example.org/new");
    let (_, body) = ui.page("/ui/links/ed?done=saved").await;
    assert!(body.contains("<p class=\"notice\" role=\"status\">Your changes were saved.</p>"));

    saved(
        &app,
        &ui,
        "ed",
        &[
            ("title", Some("New title")),
            ("tags", Some("x, y")),
            ("expires_at", Some("2099-01-02T03:04")),
            ("max_visits", Some("5")),
            ("redirect_status", Some("301")),
            ("forward_query", Some("on")),
        ],
    )
    .await;
    let link = api_link(&app, "ed").await;
    assert_eq!(link["title"], "New title");
    assert_eq!(link["tags"], json!(["x", "y"]));
    assert!(
        link["expires_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2099-01-02T03:04")),
        "{link}"
    );
    assert_eq!(link["max_visits"], 5);
    assert_eq!(link["redirect_status"], 301);
    assert_eq!(link["forward_query"], true);
    let r = app.follow("ed").await;
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);

    saved(&app, &ui, "ed", &[("password", Some("open sesame"))]).await;
    assert_eq!(api_link(&app, "ed").await["has_password"], true);
    let r = app.follow("ed").await;
    assert_eq!(r.status(), StatusCode::OK, "the password form");
    assert!(r.headers().get("location").is_none());

    // Clearing: the expiry, the limit, the password, the title, the tags,
    // the redirect type and the query passing.
    saved(
        &app,
        &ui,
        "ed",
        &[
            ("expires_at", Some("")),
            ("max_visits", Some("")),
            ("remove_password", Some("on")),
            ("title", Some("")),
            ("tags", Some("")),
            ("redirect_status", Some("")),
            ("forward_query", None),
        ],
    )
    .await;
    let link = api_link(&app, "ed").await;
    assert_eq!(link["expires_at"], Value::Null);
    assert_eq!(link["max_visits"], Value::Null);
    assert_eq!(link["has_password"], false);
    assert_eq!(link["title"], Value::Null);
    assert_eq!(link["tags"], json!([]));
    assert_eq!(link["redirect_status"], 302);
    assert_eq!(link["forward_query"], false);
    let r = app.follow("ed").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r), "https://example.org/new");
}

#[tokio::test]
async fn a_refused_value_is_shown_at_its_field() {
    let app = spawn_app(Backend::Sqlite).await;
    let bob = app.user("bob").await;
    create(
        &app,
        &bob,
        json!({"url": "https://example.com/keep", "alias": "bad"}),
    )
    .await;
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;

    for (field, value, id) in [
        ("max_visits", "ten", "max-error"),
        ("url", "ftp://example.com/", "url-error"),
        ("expires_at", "2001-01-01T00:00", "expires-error"),
        ("expires_at", "tomorrow", "expires-error"),
    ] {
        let r = save(
            &app,
            &ui,
            "bad",
            &[(field, Some(value)), ("title", Some("kept"))],
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{field}={value}");
        let body = r.text().await.expect("body");
        assert!(
            body.contains(&format!("<p class=\"field-error\" id=\"{id}\">")),
            "{field}: {body}"
        );
        assert!(body.contains("aria-invalid=\"true\""));
        assert!(
            body.contains(&format!("value=\"{value}\"")),
            "the value is kept"
        );
        assert!(body.contains("value=\"kept\""), "other values are kept");
    }
    let link = api_link(&app, "bad").await;
    assert_eq!(link["url"], "https://example.com/keep");
    assert_eq!(link["title"], Value::Null, "nothing saved");
}

#[tokio::test]
async fn an_expired_link_keeps_its_past_expiry_when_another_field_changes() {
    let app = spawn_app(Backend::Sqlite).await;
    let bob = app.user("bob").await;
    create(
        &app,
        &bob,
        json!({"url": "https://example.com/", "alias": "old", "expires_at": "2099-01-01T00:00:00Z"}),
    )
    .await;
    app.clock.advance(time::Duration::days(365 * 80));
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;
    let (_, body) = ui.page("/ui/links").await;
    assert!(body.contains("badge badge-expired"));
    saved(&app, &ui, "old", &[("title", Some("still here"))]).await;
    assert_eq!(api_link(&app, "old").await["title"], "still here");
}

#[tokio::test]
async fn a_link_is_disabled_and_enabled() {
    let app = spawn_app(Backend::Sqlite).await;
    let bob = app.user("bob").await;
    create(
        &app,
        &bob,
        json!({"url": "https://example.com/", "alias": "dis"}),
    )
    .await;
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;

    let r = ui
        .submit("/ui/links/dis", "/ui/links/dis/disable", &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/ui/links/dis?done=disabled");
    assert_eq!(api_link(&app, "dis").await["status"], "disabled");
    assert_eq!(app.follow("dis").await.status(), StatusCode::GONE);
    let (_, body) = ui.page("/ui/links/dis").await;
    assert!(body.contains("badge badge-disabled"));
    assert!(body.contains("action=\"/ui/links/dis/enable\""));

    let r = ui
        .submit("/ui/links/dis", "/ui/links/dis/enable", &[])
        .await;
    assert_eq!(location(&r), "/ui/links/dis?done=enabled");
    assert_eq!(api_link(&app, "dis").await["status"], "active");
    assert_eq!(app.follow("dis").await.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn deleting_needs_the_token_and_a_confirmation() {
    let app = spawn_app(Backend::Sqlite).await;
    let bob = app.user("bob").await;
    create(
        &app,
        &bob,
        json!({"url": "https://example.com/", "alias": "gone"}),
    )
    .await;
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;

    let r = ui
        .post_form("/ui/links/gone/delete", &[("csrf", ""), ("confirmed", "1")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.expect("body").contains("40302"));
    assert_eq!(app.follow("gone").await.status(), StatusCode::FOUND);

    // The link page's form, without the script's dialog: the confirmation
    // page, not a deletion.
    let (_, body) = ui.page("/ui/links/gone").await;
    assert!(body.contains("data-confirm=\"Delete "));
    let r = ui
        .submit(
            "/ui/links/gone",
            "/ui/links/gone/delete",
            &[("confirmed", "")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/ui/links/gone/delete");
    assert_eq!(app.follow("gone").await.status(), StatusCode::FOUND);
    let (status, body) = ui.page("/ui/links/gone/delete").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Delete for good"));

    let r = ui
        .submit(
            "/ui/links/gone/delete",
            "/ui/links/gone/delete",
            &[("confirmed", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/ui/links?done=deleted");
    let (_, body) = ui.page("/ui/links?done=deleted").await;
    assert!(body.contains("The link was deleted."));
    assert_eq!(app.follow("gone").await.status(), StatusCode::NOT_FOUND);
    let r = app
        .get("/api/v1/links/gone", &bob)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (status, _) = ui.page("/ui/links/gone").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn forms_without_the_token_change_nothing() {
    let app = spawn_app(Backend::Sqlite).await;
    let bob = app.user("bob").await;
    create(
        &app,
        &bob,
        json!({"url": "https://example.com/", "alias": "tok"}),
    )
    .await;
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;
    let _ = ui.page("/ui/links/tok").await;
    for (path, fields) in [
        ("/ui/links/tok", vec![("url", "https://evil.example/")]),
        ("/ui/links/tok/disable", vec![]),
        ("/ui/links/tok/delete", vec![("confirmed", "1")]),
    ] {
        for token in ["", "0000000000000000000000000000000000000000"] {
            let mut all = vec![("csrf", token)];
            all.extend_from_slice(&fields);
            let r = ui.post_form(path, &all).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
            assert!(r.text().await.expect("body").contains("40302"));
        }
    }
    let link = api_link(&app, "tok").await;
    assert_eq!(link["url"], "https://example.com/");
    assert_eq!(link["status"], "active");
}

#[tokio::test]
async fn another_user_s_link_is_not_found() {
    let app = spawn_app(Backend::Sqlite).await;
    app.user("bob").await;
    create(
        &app,
        &app.admin_key,
        json!({"url": "https://example.com/admin", "alias": "theirs"}),
    )
    .await;
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;
    for path in [
        "/ui/links/theirs",
        "/ui/links/theirs/delete",
        "/ui/links/theirs/qr?format=png",
    ] {
        let (status, body) = ui.page(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("example.com/admin"));
    }
    let token = ui.csrf("/ui/links").await;
    for (path, extra) in [
        ("/ui/links/theirs", ("url", "https://evil.example/")),
        ("/ui/links/theirs/disable", ("x", "")),
        ("/ui/links/theirs/delete", ("confirmed", "1")),
    ] {
        let r = ui.post_form(path, &[("csrf", token.as_str()), extra]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let link = api_link(&app, "theirs").await;
    assert_eq!(link["url"], "https://example.com/admin");
    assert_eq!(link["status"], "active");

    // Admins see and change anyone's.
    let admin = UiClient::logged_in(&app, "admin", "admin-password").await;
    create(
        &app,
        &app.user("carol").await,
        json!({"url": "https://example.com/c", "alias": "carols"}),
    )
    .await;
    let (status, body) = admin.page("/ui/links/carols").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(">carol</dd>"));
}

#[tokio::test]
async fn the_qr_code_downloads_and_decodes_to_the_short_url() {
    let app = spawn_app(Backend::Sqlite).await;
    let bob = app.user("bob").await;
    let link = create(
        &app,
        &bob,
        json!({"url": "https://example.com/", "alias": "scan"}),
    )
    .await;
    let short_url = link["short_url"].as_str().expect("short_url");
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;

    let r = ui
        .get("/ui/links/scan/qr?format=png&size=512&download=1")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"scan.png\""
    );
    let (side, text) = decode_png(&r.bytes().await.expect("body"));
    assert_eq!(side, 512);
    assert_eq!(text.as_deref(), Some(short_url));

    let r = ui.get("/ui/links/scan/qr?format=svg&size=192").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert!(r.headers().get("content-disposition").is_none());
    let r = ui.get("/ui/links/scan/qr?format=svg&download=1").await;
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"scan.svg\""
    );

    let (status, body) = ui.page("/ui/links/scan/qr?size=9").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("40030"));
    let r = UiClient::new(&app).get("/ui/links/scan/qr").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "logged out");
}

#[tokio::test]
async fn titles_tags_and_urls_are_shown_escaped() {
    let app = spawn_app(Backend::Sqlite).await;
    let bob = app.user("bob").await;
    for (i, payload) in [SCRIPT, BREAKOUT].into_iter().enumerate() {
        create(
            &app,
            &bob,
            json!({
                // A URL has no spaces.
                "url": format!("https://example.com/?q={}", payload.replace(' ', "/")),
                "alias": format!("x{i}"),
                "title": payload,
                "tags": [payload],
            }),
        )
        .await;
        // An alias carrying markup is refused before any page shows it.
        let r = app
            .post(
                "/api/v1/links",
                &bob,
                json!({"url": "https://example.com/", "alias": payload}),
            )
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;
    for path in [
        "/ui/links",
        "/ui/links?q=%3Cscript%3E",
        "/ui/links/x0",
        "/ui/links/x1",
        "/ui/links/x0/delete",
        "/ui/links/x1/delete",
    ] {
        let (status, body) = ui.page(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!body.contains(SCRIPT), "{path}: {body}");
        assert!(!body.contains("<img src=x"), "{path}: {body}");
    }
    let (_, body) = ui.page("/ui/links").await;
    assert!(
        body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{body}"
    );
    let (_, body) = ui
        .page(&format!(
            "/ui/links?tag={}",
            "%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"
        ))
        .await;
    assert_eq!(slugs(&body), ["x1"], "the tag filter finds the odd tag");

    // A refused edit shows the values it was given, escaped.
    let r = save(
        &app,
        &ui,
        "x0",
        &[("title", Some(SCRIPT)), ("max_visits", Some(BREAKOUT))],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.expect("body");
    assert!(
        !body.contains(SCRIPT) && !body.contains("<img src=x"),
        "{body}"
    );
}
