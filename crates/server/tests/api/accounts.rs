use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_error, expect_json, spawn_app, Backend};

async fn admins_create_users_and_others_may_not(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .post(
            "/api/v1/users",
            &app.admin_key,
            json!({"username": "carol", "password": "long enough", "role": "user"}),
        )
        .send()
        .await
        .expect("send");
    let user = expect_json(r, StatusCode::CREATED).await;
    assert_eq!(user["username"], "carol");
    assert_eq!(user["role"], "user");
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());

    let r = app
        .post(
            "/api/v1/users",
            &app.admin_key,
            json!({"username": "carol", "password": "long enough"}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::CONFLICT, 40902, Some("username")).await;
    let r = app
        .post(
            "/api/v1/users",
            &app.admin_key,
            json!({"username": "dave", "password": "short"}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::BAD_REQUEST, 40030, Some("password")).await;
    let r = app
        .post(
            "/api/v1/users",
            &app.admin_key,
            json!({"username": "has space", "password": "long enough"}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::BAD_REQUEST, 40030, Some("username")).await;
    let r = app
        .post(
            "/api/v1/users",
            &app.admin_key,
            json!({"username": "erin", "password": "long enough", "role": "root"}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::BAD_REQUEST, 40030, Some("role")).await;

    let bob = app.user("bob").await;
    let r = app
        .post(
            "/api/v1/users",
            &bob,
            json!({"username": "mallory", "password": "long enough", "role": "admin"}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::FORBIDDEN, 40301, None).await;
}

async fn keys_are_shown_once_listed_without_secret_and_revoked_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let bob = app.user("bob").await;
    let r = app
        .post(
            "/api/v1/keys",
            &bob,
            json!({"name": "laptop", "read_only": true}),
        )
        .send()
        .await
        .expect("send");
    let created = expect_json(r, StatusCode::CREATED).await;
    let new_key = created["key"].as_str().expect("key shown").to_owned();
    assert_eq!(created["name"], "laptop");
    assert_eq!(created["read_only"], true);
    let id = created["id"].as_i64().expect("id");

    let list = expect_json(
        app.get("/api/v1/keys", &bob).send().await.expect("send"),
        StatusCode::OK,
    )
    .await;
    let keys = list.as_array().expect("array");
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k.get("key").is_none()));
    assert!(!list.to_string().contains(&new_key));

    // The new key is read-only: it reads but cannot write or mint keys.
    assert_eq!(
        app.get("/api/v1/links", &new_key)
            .send()
            .await
            .expect("send")
            .status(),
        StatusCode::OK
    );
    let r = app
        .post("/api/v1/keys", &new_key, json!({}))
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::FORBIDDEN, 40301, None).await;

    // Someone else's key is not theirs to revoke.
    let r = app
        .delete(&format!("/api/v1/keys/{id}"), &app.admin_key)
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::NOT_FOUND, 40401, None).await;

    let r = app
        .delete(&format!("/api/v1/keys/{id}"), &bob)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .get("/api/v1/links", &new_key)
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::UNAUTHORIZED, 40101, None).await;
    let list: Value = expect_json(
        app.get("/api/v1/keys", &bob).send().await.expect("send"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(list.as_array().expect("array").len(), 1);
}

backend_tests!(
    admins_create_users_and_others_may_not,
    keys_are_shown_once_listed_without_secret_and_revoked_at_once,
);
