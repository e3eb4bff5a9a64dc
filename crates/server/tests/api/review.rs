//! Alias review (API.md, "Protection and administration"): aliases with a
//! word of `links.review_keywords` wait as `pending`; admins list them,
//! approve with `PATCH {"approved": true}` and reject with `DELETE`, from
//! the API or the command line.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_error, expect_json, spawn_with, Backend, TestApp};
use crate::reports::run_cli;

async fn review_app(backend: Backend) -> TestApp {
    spawn_with(backend, |c| c.links.review_keywords = vec!["promo".into()]).await
}

async fn queue(app: &TestApp, query: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/review?{query}"), &app.admin_key)
        .send()
        .await
        .expect("send");
    expect_json(r, StatusCode::OK).await
}

fn slugs(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|l| l["slug"].as_str())
        .collect()
}

async fn a_review_cycle_approves_one_alias_and_rejects_another(backend: Backend) {
    let app = review_app(backend).await;
    let bob = app.user("bob").await;
    for alias in ["summer-promo", "winter-promo"] {
        let r = app
            .post(
                "/api/v1/links",
                &bob,
                json!({"url": "https://example.com/sale", "alias": alias}),
            )
            .send()
            .await
            .expect("send");
        assert_eq!(
            expect_json(r, StatusCode::CREATED).await["status"],
            "pending"
        );
        // Pending: no redirect.
        expect_error(app.follow(alias).await, StatusCode::GONE, 41001, None).await;
    }
    let plain = app.shorten("https://example.com/plain").await;

    let page = queue(&app, "").await;
    assert_eq!(
        slugs(&page),
        ["winter-promo", "summer-promo"],
        "newest first"
    );
    let first = &page["items"][0];
    assert_eq!(first["status"], "pending");
    assert_eq!(first["owner"], "bob");
    assert_eq!(first["url"], "https://example.com/sale");
    assert!(first["short_url"]
        .as_str()
        .is_some_and(|u| u.ends_with("/winter-promo")));
    assert!(!slugs(&page).contains(&plain.as_str()));
    let one = queue(&app, "limit=1").await;
    assert_eq!(slugs(&one), ["winter-promo"]);
    let cursor = one["next_cursor"].as_str().expect("a next page");
    let rest = queue(&app, &format!("limit=1&cursor={cursor}")).await;
    assert_eq!(slugs(&rest), ["summer-promo"]);
    assert!(rest["next_cursor"].is_null());

    // The owner can neither approve nor see the queue.
    let r = app
        .patch(
            "/api/v1/links/summer-promo",
            &bob,
            json!({"approved": true}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::FORBIDDEN, 40301, None).await;
    let r = app.get("/api/v1/review", &bob).send().await.expect("send");
    expect_error(r, StatusCode::FORBIDDEN, 40301, None).await;

    let r = app
        .patch(
            "/api/v1/links/summer-promo",
            &app.admin_key,
            json!({"approved": true}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(expect_json(r, StatusCode::OK).await["status"], "active");
    assert_eq!(app.follow("summer-promo").await.status(), StatusCode::FOUND);

    let r = app
        .delete("/api/v1/links/winter-promo", &app.admin_key)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.follow("winter-promo").await,
        StatusCode::NOT_FOUND,
        40401,
        None,
    )
    .await;
    assert!(slugs(&queue(&app, "").await).is_empty());
    expect_error(
        app.get("/api/v1/review?limit=0", &app.admin_key)
            .send()
            .await
            .expect("send"),
        StatusCode::BAD_REQUEST,
        40030,
        Some("limit"),
    )
    .await;
}

async fn the_cli_lists_approves_and_rejects_aliases(backend: Backend) {
    let app = review_app(backend).await;
    for alias in ["cli-promo", "bad-promo"] {
        app.create_link(json!({"url": "https://example.com/", "alias": alias}))
            .await;
    }
    let run = |args: &'static [&'static str]| run_cli(&app.db_url, args, &[]);
    let out = run(&["review", "list"]).await;
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let listed: Vec<&str> = text.lines().filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(listed, ["bad-promo", "cli-promo"]);

    assert!(run(&["review", "approve", "cli-promo"])
        .await
        .status
        .success());
    assert_eq!(app.link("cli-promo").await["status"], "active");
    assert_eq!(app.follow("cli-promo").await.status(), StatusCode::FOUND);
    // Only a pending alias is rejected from here.
    assert!(!run(&["review", "reject", "cli-promo"])
        .await
        .status
        .success());
    assert!(run(&["review", "reject", "bad-promo"])
        .await
        .status
        .success());
    let r = app
        .get("/api/v1/links/bad-promo", &app.admin_key)
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::NOT_FOUND, 40401, None).await;
    let out = run(&["review", "list"]).await;
    assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");
    assert!(!run(&["review", "approve", "no-such"])
        .await
        .status
        .success());
}

backend_tests!(
    a_review_cycle_approves_one_alias_and_rejects_another,
    the_cli_lists_approves_and_rejects_aliases,
);
