//! Several nodes on one database, and read replicas.

use std::collections::HashSet;

use kurz_core::clock::{Clock, SystemClock};
use kurz_core::link::NewLink;
use kurz_core::target::{TargetUrl, UrlPolicy};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_error, spawn_app, spawn_node, spawn_with, Backend};

async fn two_nodes_create_concurrently_with_distinct_slugs(backend: Backend) {
    // Small ID blocks, so the nodes lease often and race on the counter.
    let a = spawn_with(backend, |c| c.pool.id_block = 7).await;
    let b = spawn_node(&a.db_url, |c| c.pool.id_block = 7).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let node = if i % 2 == 0 { &a } else { &b };
        let (client, url, key) = (
            node.client.clone(),
            node.url("/api/v1/links"),
            node.admin_key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .json(&json!({"url": format!("https://example.com/{i}")}))
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), StatusCode::CREATED);
            let link: Value = r.json().await.expect("json");
            (link["slug"].as_str().expect("slug").to_owned(), i)
        }));
    }
    let mut slugs = HashSet::new();
    for t in tasks {
        let (slug, i) = t.await.expect("task");
        // Each node redirects the other's links.
        let other = if i % 2 == 0 { &b } else { &a };
        assert_eq!(
            other.follow(&slug).await.headers()["location"],
            format!("https://example.com/{i}").as_str()
        );
        assert!(slugs.insert(slug));
    }
    assert_eq!(slugs.len(), 60);
}

async fn max_visits_is_exact_across_two_nodes(backend: Backend) {
    let a = spawn_app(backend).await;
    let b = spawn_node(&a.db_url, |_| {}).await;
    let link = a
        .create_link(json!({"url": "https://example.com/", "max_visits": 10}))
        .await;
    let slug = link["slug"].as_str().expect("slug").to_owned();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let node = if i % 2 == 0 { &a } else { &b };
        let (client, url) = (node.client.clone(), node.url(&format!("/{slug}")));
        tasks.push(tokio::spawn(async move {
            client.get(url).send().await.expect("send").status()
        }));
    }
    let mut redirected = 0;
    for t in tasks {
        match t.await.expect("task") {
            StatusCode::FOUND => redirected += 1,
            StatusCode::GONE => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(redirected, 10);
    b.wait_for_visits(&slug, 10).await;
}

async fn replica_misses_are_checked_on_the_primary(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let replica_url = backend.fresh_database(&dir).await;
    let options = kurz_store::DbOptions::new(replica_url.clone());
    let replica = kurz_store::open(&options, std::sync::Arc::new(SystemClock)).expect("open");
    replica.ensure_ready().await.expect("replica migrated");
    let app = spawn_with(backend, |c| c.database_replicas = vec![replica_url.clone()]).await;

    // Created on the primary a moment ago, absent from the replica: the
    // redirect still finds it.
    let slug = app.shorten("https://example.com/fresh").await;
    let r = app.follow(&slug).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(r.headers()["location"], "https://example.com/fresh");

    // A row only the replica has is served from it: redirects read replicas.
    let target =
        TargetUrl::parse("https://example.com/replica", &UrlPolicy::default()).expect("url");
    replica
        .links()
        .insert(NewLink {
            id: 9_000_000,
            slug: "on-replica".into(),
            url: target,
            owner_id: None,
            created_at: SystemClock.now(),
            expires_at: None,
            max_visits: None,
            tags: Vec::new(),
            title: None,
            redirect_status: None,
            forward_query: false,
            crawlable: false,
            password_hash: None,
            pending: false,
            visits: 0,
            human_visits: 0,
        })
        .await
        .expect("insert on the replica");
    let r = app.follow("on-replica").await;
    assert_eq!(r.headers()["location"], "https://example.com/replica");
    // Lists read the replica too; single-link reads and writes go to the primary.
    let list = app.list_as(&app.admin_key, "").await;

    assert!(list["items"]
        .as_array()
        .expect("items")
        .iter()
        .any(|l| l["slug"] == "on-replica"));
    let r = app
        .get("/api/v1/links/on-replica", &app.admin_key)
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::NOT_FOUND, 40401, None).await;
    // Unknown everywhere is still 404.
    expect_error(
        app.follow("nowhere").await,
        StatusCode::NOT_FOUND,
        40401,
        None,
    )
    .await;
}

backend_tests!(
    two_nodes_create_concurrently_with_distinct_slugs,
    max_visits_is_exact_across_two_nodes,
    replica_misses_are_checked_on_the_primary,
);
