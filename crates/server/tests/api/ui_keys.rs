//! The keys pages (`/ui/keys`) and your account (`/ui/account`): a key made
//! in the browser works on the API and is shown once; revoking asks first
//! and stops the key at once; a password change signs out every other
//! browser.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{expect_json, spawn_app, Backend, TestApp};
use crate::ui_client::{location, UiClient};

pub(crate) const SCRIPT: &str = "<script>alert(1)</script>";
pub(crate) const IMG: &str = "\"><img src=x onerror=alert(1)>";

/// No markup of the two payloads made it into `html` unescaped.
pub(crate) fn assert_escaped(html: &str, what: &str) {
    assert!(!html.contains("<script>alert"), "{what}: raw script tag");
    assert!(!html.contains("<img src=x"), "{what}: raw img tag");
    assert!(!html.contains("\"><img"), "{what}: attribute broken out of");
}

/// The secret on the page that answers a key's creation.
fn secret_of(html: &str) -> String {
    let at = html.find("id=\"new-key\"").expect("the key field");
    let rest = &html[at..];
    let v = rest.find('>').expect("its text") + 1;
    rest[v..v + rest[v..].find('<').expect("end")].to_owned()
}

async fn keys_of(app: &TestApp, key: &str) -> Vec<Value> {
    let r = app.get("/api/v1/keys", key).send().await.expect("send");
    expect_json(r, StatusCode::OK)
        .await
        .as_array()
        .expect("a list")
        .clone()
}

/// What the API answers `key` (200, or 401 once it stopped working).
pub(crate) async fn api_status(app: &TestApp, key: &str) -> StatusCode {
    app.get("/api/v1/links", key)
        .send()
        .await
        .expect("send")
        .status()
}

#[tokio::test]
async fn a_key_made_in_the_page_works_once_shown_and_revoked_answers_401() {
    let app = spawn_app(Backend::Sqlite).await;
    let bob_key = app.user("bob").await;
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;

    let (status, page) = ui.page("/ui/keys").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("action=\"/ui/keys\""));

    let r = ui
        .submit("/ui/keys", "/ui/keys", &[("name", "nightly export")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let created = r.text().await.expect("body");
    let secret = secret_of(&created);
    assert!(secret.len() > 20, "{secret}");
    assert!(created.contains("data-copy=\"new-key\""), "a copy button");
    assert!(created.contains("not see it again"));

    // It works on the API as bob, with full rights.
    assert_eq!(api_status(&app, &secret).await, StatusCode::OK);
    let keys = keys_of(&app, &secret).await;
    let made = keys
        .iter()
        .find(|k| k["name"] == "nightly export")
        .expect("listed by the API");
    assert_eq!(made["read_only"], false);
    let id = made["id"].as_i64().expect("id");

    // Shown once: the list has its name, never the key.
    let (_, list) = ui.page("/ui/keys").await;
    assert!(list.contains("nightly export"));
    assert!(!list.contains(&secret), "the list shows no secret");

    // Revoking without the confirmation only asks.
    let path = format!("/ui/keys/{id}/revoke");
    let r = ui.submit("/ui/keys", &path, &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let ask = r.text().await.expect("body");
    assert!(ask.contains("nightly export") && ask.contains("name=\"confirmed\" value=\"1\""));
    assert_eq!(api_status(&app, &secret).await, StatusCode::OK);
    let (status, _) = ui.page(&path).await;
    assert_eq!(status, StatusCode::OK, "the confirmation page by link too");

    let r = ui.submit("/ui/keys", &path, &[("confirmed", "1")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/ui/keys?done=revoked");
    assert_eq!(api_status(&app, &secret).await, StatusCode::UNAUTHORIZED);
    let (_, list) = ui.page("/ui/keys?done=revoked").await;
    assert!(list.contains("class=\"notice\""));
    assert!(!list.contains("nightly export"), "{list}");
    assert_eq!(
        api_status(&app, &bob_key).await,
        StatusCode::OK,
        "others stay"
    );
}

#[tokio::test]
async fn a_read_only_key_only_reads_and_another_users_key_is_not_found() {
    let app = spawn_app(Backend::Sqlite).await;
    app.user("bob").await;
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;
    let r = ui
        .submit(
            "/ui/keys",
            "/ui/keys",
            &[("name", "ro"), ("read_only", "on")],
        )
        .await;
    let secret = secret_of(&r.text().await.expect("body"));
    assert_eq!(api_status(&app, &secret).await, StatusCode::OK);
    let r = app
        .post(
            "/api/v1/links",
            &secret,
            serde_json::json!({"url": "https://example.com/"}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, list) = ui.page("/ui/keys").await;
    assert!(list.contains("Read-only"));

    // The admin's key, by its ID, is nothing of bob's.
    let admin_keys = keys_of(&app, &app.admin_key).await;
    let admin_id = admin_keys[0]["id"].as_i64().expect("id");
    let path = format!("/ui/keys/{admin_id}/revoke");
    let r = ui.submit("/ui/keys", &path, &[("confirmed", "1")]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(ui.page(&path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        ui.page("/ui/keys/abc/revoke").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(api_status(&app, &app.admin_key).await, StatusCode::OK);
}

#[tokio::test]
async fn key_forms_need_their_token_and_a_login() {
    let app = spawn_app(Backend::Sqlite).await;
    let bob_key = app.user("bob").await;
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;
    let before = keys_of(&app, &bob_key).await.len();
    let r = ui
        .post_form("/ui/keys", &[("csrf", "nope"), ("name", "x")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.expect("body").contains("40302"));
    let id = keys_of(&app, &bob_key).await[0]["id"].as_i64().expect("id");
    let r = ui
        .post_form(&format!("/ui/keys/{id}/revoke"), &[("confirmed", "1")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(keys_of(&app, &bob_key).await.len(), before);

    let anonymous = UiClient::new(&app);
    for path in ["/ui/keys", "/ui/account"] {
        let r = anonymous.get(path).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&r).starts_with("/login?next="), "{path}");
    }
}

#[tokio::test]
async fn key_names_are_escaped_everywhere_they_show() {
    let app = spawn_app(Backend::Sqlite).await;
    app.user("bob").await;
    let ui = UiClient::logged_in(&app, "bob", "user-password").await;
    for name in [SCRIPT, IMG] {
        let r = ui.submit("/ui/keys", "/ui/keys", &[("name", name)]).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_escaped(&r.text().await.expect("body"), "created page");
    }
    let (_, list) = ui.page("/ui/keys").await;
    assert_escaped(&list, "key list");
    assert!(list.contains("alert(1)"), "shown, as text");
    // The confirmation pages name the keys too.
    let mut at = 0;
    let mut asked = 0;
    while let Some(found) = list[at..].find("action=\"/ui/keys/") {
        let start = at + found + "action=\"".len();
        let end = start + list[start..].find('"').expect("end");
        let r = ui.submit("/ui/keys", &list[start..end], &[]).await;
        assert_escaped(&r.text().await.expect("body"), "confirmation page");
        asked += 1;
        at = end;
    }
    assert_eq!(asked, 3, "bob's first key and the two new ones");
    // Too long a name: the form again, with the name escaped in its field.
    let long = format!("{IMG}{}", "x".repeat(200));
    let r = ui.submit("/ui/keys", "/ui/keys", &[("name", &long)]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.expect("body");
    assert_escaped(&body, "refused form");
    assert!(body.contains("class=\"alert\""));
}

#[tokio::test]
async fn a_password_change_signs_out_every_other_browser_and_keeps_this_one() {
    let app = spawn_app(Backend::Sqlite).await;
    let bob_key = app.user("bob").await;
    let here = UiClient::logged_in(&app, "bob", "user-password").await;
    let elsewhere = UiClient::logged_in(&app, "bob", "user-password").await;
    assert_eq!(here.page("/ui/account").await.0, StatusCode::OK);

    let wrong = [
        ("current", "not-my-password"),
        ("new", "new-password-1"),
        ("repeat", "new-password-1"),
    ];
    let r = here
        .submit("/ui/account", "/ui/account/password", &wrong)
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.expect("body");
    assert!(body.contains("current password is wrong"), "{body}");
    let mismatch = [
        ("current", "user-password"),
        ("new", "new-password-1"),
        ("repeat", "new-password-2"),
    ];
    let r = here
        .submit("/ui/account", "/ui/account/password", &mismatch)
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let short = [
        ("current", "user-password"),
        ("new", "short"),
        ("repeat", "short"),
    ];
    let r = here
        .submit("/ui/account", "/ui/account/password", &short)
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        elsewhere.page("/ui/keys").await.0,
        StatusCode::OK,
        "nothing changed yet"
    );

    let right = [
        ("current", "user-password"),
        ("new", "new-password-1"),
        ("repeat", "new-password-1"),
    ];
    let r = here
        .submit("/ui/account", "/ui/account/password", &right)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/ui/account?done=password");
    let (status, body) = here.page("/ui/account?done=password").await;
    assert_eq!(status, StatusCode::OK, "this browser stays signed in");
    assert!(body.contains("class=\"notice\""));

    let r = elsewhere.get("/ui/keys").await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the other browser is out"
    );
    assert!(location(&r).starts_with("/login"));

    let fresh = UiClient::new(&app);
    assert_eq!(
        fresh.login("bob", "user-password").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        fresh.login("bob", "new-password-1").await.status(),
        StatusCode::SEE_OTHER
    );
    // API keys do not depend on the password.
    assert_eq!(api_status(&app, &bob_key).await, StatusCode::OK);

    let r = here
        .post_form(
            "/ui/account/password",
            &[("current", "new-password-1"), ("new", "x"), ("repeat", "x")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no token, no change");
}
