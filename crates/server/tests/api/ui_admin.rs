//! The admin pages (`/admin`): users (create, role, disable, password),
//! the alias review queue and abuse reports; admins only.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_with, Backend, TestApp};
use crate::ui_client::{location, UiClient};
use crate::ui_keys::{api_status, assert_escaped, IMG, SCRIPT};

async fn admin(app: &TestApp) -> UiClient {
    UiClient::logged_in(app, "admin", "admin-password").await
}

async fn id_of(app: &TestApp, name: &str) -> i64 {
    app.accounts
        .user_by_name(name)
        .await
        .expect("lookup")
        .expect("exists")
        .id
}

#[tokio::test]
async fn an_admin_creates_a_user_who_can_then_log_in() {
    let app = spawn_app(Backend::Sqlite).await;
    let ui = admin(&app).await;
    let (status, page) = ui.page("/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("aria-current=\"page\">Users"),
        "the sub-navigation"
    );
    assert!(page.contains(">admin</a>"), "the admin is listed");

    let fields = [
        ("username", "carol"),
        ("password", "carol-password"),
        ("role", "user"),
    ];
    let r = ui.submit("/admin", "/admin/users", &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    assert!(to.ends_with("?done=created"), "{to}");
    let (status, page) = ui.page(&to).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("carol") && page.contains("class=\"notice\""));
    let carol = UiClient::logged_in(&app, "carol", "carol-password").await;
    assert_eq!(carol.page("/ui/keys").await.0, StatusCode::OK);

    // The same name again, a bad name, a short password: the form again.
    let r = ui.submit("/admin", "/admin/users", &fields).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.expect("body").contains("already taken"));
    let r = ui
        .submit(
            "/admin",
            "/admin/users",
            &[
                ("username", SCRIPT),
                ("password", "long-enough"),
                ("role", "user"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.expect("body");
    assert_escaped(&body, "refused user form");
    assert!(body.contains("aria-invalid=\"true\""));
    let r = ui
        .submit(
            "/admin",
            "/admin/users",
            &[("username", IMG), ("password", "x"), ("role", "user")],
        )
        .await;
    assert_escaped(&r.text().await.expect("body"), "refused user form");
    let r = ui
        .submit(
            "/admin",
            "/admin/users",
            &[
                ("username", "dave"),
                ("password", "short"),
                ("role", "user"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.expect("body").contains("8 to 1024"));
    assert!(app
        .accounts
        .user_by_name("dave")
        .await
        .expect("lookup")
        .is_none());
}

#[tokio::test]
async fn users_are_paged() {
    let app = spawn_app(Backend::Sqlite).await;
    for i in 0..55 {
        app.accounts
            .create_user(
                &format!("user{i:02}"),
                "user-password".into(),
                kurz_core::account::Role::User,
            )
            .await
            .expect("user");
    }
    let ui = admin(&app).await;
    let (_, first) = ui.page("/admin").await;
    assert!(first.contains(">user00</a>") && !first.contains(">user54</a>"));
    let at = first.find("/admin/users?after=").expect("a next page");
    let end = at + first[at..].find('"').expect("end");
    let (status, second) = ui.page(&first[at..end]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(second.contains(">user54</a>") && !second.contains(">user00</a>"));
    assert!(!second.contains("/admin/users?after="), "the last page");
    assert_eq!(
        ui.page("/admin/users?after=x").await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn roles_change_and_an_admin_keeps_their_own() {
    let app = spawn_app(Backend::Sqlite).await;
    app.user("carol").await;
    let carol_id = id_of(&app, "carol").await;
    let carol = UiClient::logged_in(&app, "carol", "user-password").await;
    assert_eq!(carol.page("/admin").await.0, StatusCode::FORBIDDEN);

    let ui = admin(&app).await;
    let page = format!("/admin/users/{carol_id}");
    let r = ui
        .submit(&page, &format!("{page}/role"), &[("role", "admin")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("{page}?done=role"));
    assert_eq!(
        carol.page("/admin").await.0,
        StatusCode::OK,
        "at the next page"
    );

    // Taking your own admin role: refused, in words.
    let me = format!("/admin/users/{}", id_of(&app, "admin").await);
    let r = ui
        .submit(&me, &format!("{me}/role"), &[("role", "user")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("cannot take away your own administrator role"));
    let r = ui
        .submit(&me, &format!("{me}/status"), &[("action", "disable")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("cannot disable yourself"));
    assert_eq!(ui.page("/admin").await.0, StatusCode::OK, "still an admin");

    let r = ui
        .submit(&page, &format!("{page}/role"), &[("role", "root")])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        ui.page("/admin/users/999999").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_disabled_user_is_signed_out_cannot_log_in_and_their_keys_stop() {
    let app = spawn_app(Backend::Sqlite).await;
    let carol_key = app.user("carol").await;
    let carol_id = id_of(&app, "carol").await;
    let carol = UiClient::logged_in(&app, "carol", "user-password").await;
    assert_eq!(api_status(&app, &carol_key).await, StatusCode::OK);

    let ui = admin(&app).await;
    let page = format!("/admin/users/{carol_id}");
    let r = ui
        .submit(&page, &format!("{page}/status"), &[("action", "disable")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, body) = ui.page(&location(&r)).await;
    assert!(body.contains("badge-disabled"));
    let (_, list) = ui.page("/admin").await;
    assert!(list.contains("badge-disabled"));

    let r = carol.get("/ui/keys").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the session ended");
    assert!(location(&r).starts_with("/login"));
    assert_eq!(
        UiClient::new(&app)
            .login("carol", "user-password")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(api_status(&app, &carol_key).await, StatusCode::UNAUTHORIZED);

    let r = ui
        .submit(&page, &format!("{page}/status"), &[("action", "enable")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    UiClient::logged_in(&app, "carol", "user-password").await;
    // Her key works again once the nodes' short negative cache entry
    // for it lapses (the core's documented behaviour), so it is not
    // checked here.
}

#[tokio::test]
async fn an_admin_resets_a_password_and_signs_the_user_out() {
    let app = spawn_app(Backend::Sqlite).await;
    let carol_key = app.user("carol").await;
    let carol_id = id_of(&app, "carol").await;
    let carol = UiClient::logged_in(&app, "carol", "user-password").await;
    let ui = admin(&app).await;
    let page = format!("/admin/users/{carol_id}");
    let path = format!("{page}/password");
    let r = ui
        .submit(
            &page,
            &path,
            &[("new", "fresh-password"), ("repeat", "other-password")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = ui
        .submit(
            &page,
            &path,
            &[("new", "fresh-password"), ("repeat", "fresh-password")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("{page}?done=password"));
    assert_eq!(carol.get("/ui/keys").await.status(), StatusCode::SEE_OTHER);
    let fresh = UiClient::new(&app);
    assert_eq!(
        fresh.login("carol", "user-password").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        fresh.login("carol", "fresh-password").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(api_status(&app, &carol_key).await, StatusCode::OK);

    // Your own goes through your account page, with the current one.
    let me = format!("/admin/users/{}", id_of(&app, "admin").await);
    let r = ui
        .submit(
            &me,
            &format!("{me}/password"),
            &[("new", "fresh-password"), ("repeat", "fresh-password")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(ui.page("/admin").await.0, StatusCode::OK, "still signed in");
}

#[tokio::test]
async fn a_plain_user_gets_403_on_every_admin_page_and_form() {
    let app = spawn_app(Backend::Sqlite).await;
    app.user("bob").await;
    let bob = UiClient::logged_in(&app, "bob", "user-password").await;
    let admin_id = id_of(&app, "admin").await;
    for path in [
        "/admin".to_owned(),
        "/admin/users".to_owned(),
        format!("/admin/users/{admin_id}"),
        "/admin/review".to_owned(),
        "/admin/reports".to_owned(),
        "/admin/reports?status=resolved".to_owned(),
    ] {
        assert_eq!(bob.page(&path).await.0, StatusCode::FORBIDDEN, "{path}");
    }
    let token = bob.csrf("/ui/keys").await;
    for (path, fields) in [
        (
            "/admin/users".to_owned(),
            vec![
                ("username", "eve"),
                ("password", "eve-password"),
                ("role", "admin"),
            ],
        ),
        (
            format!("/admin/users/{admin_id}/role"),
            vec![("role", "user")],
        ),
        (
            format!("/admin/users/{admin_id}/status"),
            vec![("action", "disable")],
        ),
        (
            format!("/admin/users/{admin_id}/password"),
            vec![("new", "taken-over!"), ("repeat", "taken-over!")],
        ),
        (
            "/admin/reports/1/resolve".to_owned(),
            vec![("action", "dismiss")],
        ),
        (
            "/admin/review/abc/reject".to_owned(),
            vec![("confirmed", "1")],
        ),
    ] {
        let mut all = vec![("csrf", token.as_str())];
        all.extend(fields);
        let r = bob.post_form(&path, &all).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert!(app
        .accounts
        .user_by_name("eve")
        .await
        .expect("lookup")
        .is_none());
    UiClient::logged_in(&app, "admin", "admin-password").await;

    // Not signed in: the login page first.
    let r = UiClient::new(&app).get("/admin/review").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login?next="));
}

#[tokio::test]
async fn admin_forms_need_their_token() {
    let app = spawn_app(Backend::Sqlite).await;
    let carol_key = app.user("carol").await;
    let carol_id = id_of(&app, "carol").await;
    let ui = admin(&app).await;
    let _ = ui.page("/admin").await;
    for (path, fields) in [
        (
            "/admin/users".to_owned(),
            vec![
                ("username", "eve"),
                ("password", "eve-password"),
                ("role", "user"),
            ],
        ),
        (
            format!("/admin/users/{carol_id}/status"),
            vec![("action", "disable")],
        ),
        (
            format!("/admin/users/{carol_id}/role"),
            vec![("role", "admin")],
        ),
    ] {
        let r = ui.post_form(&path, &fields).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(r.text().await.expect("body").contains("40302"));
    }
    assert!(app
        .accounts
        .user_by_name("eve")
        .await
        .expect("lookup")
        .is_none());
    assert_eq!(api_status(&app, &carol_key).await, StatusCode::OK);
}

async fn review_app() -> TestApp {
    spawn_with(Backend::Sqlite, |c| {
        c.links.review_keywords = vec!["promo".into()];
    })
    .await
}

#[tokio::test]
async fn review_approves_one_alias_and_rejects_another_with_confirmation() {
    let app = review_app().await;
    let bob = app.user("bob").await;
    for (alias, title) in [("summer-promo", SCRIPT), ("winter-promo", IMG)] {
        let r = app
            .post(
                "/api/v1/links",
                &bob,
                json!({
                    "url": format!("https://example.com/sale?q={SCRIPT}&r=\"><b>"),
                    "alias": alias,
                    "title": title,
                }),
            )
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let ui = admin(&app).await;
    let (status, page) = ui.page("/admin/review").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("summer-promo") && page.contains("winter-promo"));
    assert!(page.contains(">bob<"), "the owner");
    assert_escaped(&page, "review queue");

    let r = ui
        .submit("/admin/review", "/admin/review/summer-promo/approve", &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/review?done=approved");
    assert!(app.follow("summer-promo").await.status().is_redirection());

    // Rejecting without the confirmation asks (and the page escapes).
    let r = ui
        .submit("/admin/review", "/admin/review/winter-promo/reject", &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_escaped(&r.text().await.expect("body"), "reject confirmation");
    let (status, ask) = ui.page("/admin/review/winter-promo/reject").await;
    assert_eq!(status, StatusCode::OK);
    assert_escaped(&ask, "reject confirmation");
    let r = app
        .get("/api/v1/links/winter-promo", &app.admin_key)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK, "still there");

    let r = ui
        .submit(
            "/admin/review",
            "/admin/review/winter-promo/reject",
            &[("confirmed", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/review?done=rejected");
    let r = app
        .get("/api/v1/links/winter-promo", &app.admin_key)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (_, page) = ui.page("/admin/review?done=rejected").await;
    assert!(!page.contains("winter-promo") && !page.contains("summer-promo"));
    assert!(page.contains("class=\"notice\""));

    // An approved link is no longer the queue's to reject.
    let r = ui
        .submit(
            "/admin/review",
            "/admin/review/summer-promo/reject",
            &[("confirmed", "1")],
        )
        .await;
    assert_eq!(location(&r), "/admin/review?done=stale");
    assert!(app.follow("summer-promo").await.status().is_redirection());
    // No token: nothing happens.
    let r = ui
        .post_form("/admin/review/summer-promo/reject", &[("confirmed", "1")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

async fn report(app: &TestApp, slug: &str, reason: &str, details: &str) {
    let r = app
        .client
        .post(app.url("/api/v1/reports"))
        .json(&json!({"slug": slug, "reason": reason, "details": details}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn reports_are_resolved_by_disabling_the_link_or_dismissing() {
    let app = spawn_app(Backend::Sqlite).await;
    let bad = app.shorten("https://example.com/phish").await;
    let fine = app.shorten("https://example.com/fine").await;
    report(&app, &bad, "phishing", SCRIPT).await;
    report(&app, &fine, "spam", IMG).await;

    let ui = admin(&app).await;
    let (status, page) = ui.page("/admin/reports").await;
    assert_eq!(status, StatusCode::OK);
    assert_escaped(&page, "reports");
    assert!(page.contains(&bad) && page.contains(&fine));
    assert!(page.contains("Phishing") && page.contains("Spam"));
    assert!(
        page.contains("script&#62;alert(1)"),
        "details shown as text"
    );

    let forms: Vec<String> = page
        .match_indices("action=\"/admin/reports/")
        .map(|(at, _)| {
            let start = at + "action=\"".len();
            page[start..start + page[start..].find('"').expect("end")].to_owned()
        })
        .collect();
    assert_eq!(forms.len(), 4, "two actions for each of two reports");
    // Newest first: the report about `fine`, then the one about `bad`.
    let r = ui
        .submit("/admin/reports", &forms[2], &[("action", "disable")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/reports?done=disabled_link");
    assert_eq!(app.follow(&bad).await.status(), StatusCode::GONE);

    let r = ui
        .submit("/admin/reports", &forms[0], &[("action", "dismiss")])
        .await;
    assert_eq!(location(&r), "/admin/reports?done=dismissed");
    assert!(app.follow(&fine).await.status().is_redirection());

    let (_, open) = ui.page("/admin/reports").await;
    assert!(!open.contains(&bad) && !open.contains(&fine));
    let (_, resolved) = ui.page("/admin/reports?status=resolved").await;
    assert!(resolved.contains(&bad) && resolved.contains(&fine));
    assert!(resolved.contains("link disabled") && resolved.contains("dismissed"));
    assert_escaped(&resolved, "resolved reports");

    // The other action on a resolved report: the error page, nothing changes.
    let r = ui
        .submit("/admin/reports", &forms[0], &[("action", "disable")])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(app.follow(&fine).await.status().is_redirection());
    let r = ui.post_form(&forms[0], &[("action", "disable")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no token");
    assert_eq!(
        ui.page("/admin/reports?status=bogus").await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn reasons_read_in_chinese_too() {
    let app = spawn_app(Backend::Sqlite).await;
    let slug = app.shorten("https://example.com/x").await;
    report(&app, &slug, "malware", "").await;
    let ui = admin(&app).await;
    let _ = ui.get("/ui/lang?to=zh-CN&back=/").await;
    let (_, page) = ui.page("/admin/reports").await;
    assert!(page.contains("恶意软件"), "{page}");
    assert!(page.contains("滥用举报"));
}

#[tokio::test]
async fn report_pages_follow_on() {
    let app = spawn_app(Backend::Sqlite).await;
    let slug = app.shorten("https://example.com/many").await;
    for i in 0..51 {
        report(&app, &slug, "spam", &format!("report number {i}")).await;
    }
    let ui = admin(&app).await;
    let (_, first) = ui.page("/admin/reports").await;
    assert!(first.contains("report number 50") && !first.contains("report number 0<"));
    let at = first.find("/admin/reports?after=").expect("a next page");
    let end = at + first[at..].find('"').expect("end");
    let (status, second) = ui.page(&first[at..end]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(second.contains("report number 0<") && !second.contains("report number 50"));
    assert!(!second.contains("?after="), "the last page");
    assert_eq!(
        ui.page("/admin/reports?after=not-a-cursor").await.0,
        StatusCode::BAD_REQUEST
    );
}
