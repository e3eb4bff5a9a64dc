use std::time::Duration;

use kurz_core::clock::Clock;
use reqwest::StatusCode;
use serde_json::json;

use crate::faults::wait_until;
use crate::helpers::{expect_error, spawn_app, spawn_with, Backend, TestApp};

async fn redirects_with_the_links_status_and_exact_location(backend: Backend) {
    let app = spawn_app(backend).await;
    let target = "https://example.com/a/b?c=d&e=%20f#frag";
    for status in [301u16, 302, 307, 308] {
        let link = app
            .create_link(json!({"url": target, "redirect_status": status}))
            .await;
        let r = app.follow(link["slug"].as_str().expect("slug")).await;
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(r.headers()["location"].as_bytes(), target.as_bytes());
        assert_eq!(r.headers()["cache-control"], "private, max-age=90");
        assert!(r.headers().contains_key("x-trace-id"));
    }
}

async fn unknown_slugs_answer_404_as_json_or_as_a_page(backend: Backend) {
    let app = spawn_app(backend).await;
    expect_error(
        app.follow("nothing").await,
        StatusCode::NOT_FOUND,
        40401,
        None,
    )
    .await;
    expect_error(app.follow("api").await, StatusCode::NOT_FOUND, 40401, None).await;
    expect_error(
        app.follow("bad%20slug").await,
        StatusCode::NOT_FOUND,
        40401,
        None,
    )
    .await;
    let r = app
        .client
        .get(app.url("/nothing"))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/html"));
    assert!(r.text().await.expect("body").contains("40401"));
}

async fn get_counts_a_click_and_head_does_not(backend: Backend) {
    let app = spawn_app(backend).await;
    let slug = app.shorten("https://example.com/").await;
    for _ in 0..3 {
        assert_eq!(app.follow(&slug).await.status(), StatusCode::FOUND);
    }
    let r = app
        .client
        .head(app.url(&format!("/{slug}")))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(r.headers()["location"], "https://example.com/");
    app.wait_for_visits(&slug, 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.link(&slug).await["visits"], 3);
}

async fn expired_links_answer_410(backend: Backend) {
    let app = spawn_app(backend).await;
    let soon = app.clock.now() + time::Duration::seconds(60);
    let soon = soon
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format");
    let link = app
        .create_link(json!({"url": "https://example.com/", "expires_at": soon}))
        .await;
    let slug = link["slug"].as_str().expect("slug");
    assert_eq!(app.follow(slug).await.status(), StatusCode::FOUND);
    app.clock.advance(time::Duration::seconds(59));
    assert_eq!(app.follow(slug).await.status(), StatusCode::FOUND);
    app.clock.advance(time::Duration::seconds(1));
    expect_error(app.follow(slug).await, StatusCode::GONE, 41001, None).await;
    assert_eq!(app.link(slug).await["status"], "expired");
}

async fn racing_visits_of_a_limited_link_give_exactly_max_visits_redirects(backend: Backend) {
    let app = spawn_app(backend).await;
    let link = app
        .create_link(json!({"url": "https://example.com/", "max_visits": 10}))
        .await;
    let slug = link["slug"].as_str().expect("slug").to_owned();
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let client = app.client.clone();
        let url = app.url(&format!("/{slug}"));
        tasks.push(tokio::spawn(async move {
            client.get(url).send().await.expect("send").status()
        }));
    }
    let (mut redirected, mut gone) = (0, 0);
    for t in tasks {
        match t.await.expect("task") {
            StatusCode::FOUND => redirected += 1,
            StatusCode::GONE => gone += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((redirected, gone), (10, 30));
    // The refused visits are no clicks; the ten are written by the worker.
    let link = app.wait_for_visits(&slug, 10).await;
    assert_eq!(link["status"], "expired");
}

async fn forward_query_appends_the_visitors_query(backend: Backend) {
    let app = spawn_app(backend).await;
    let plain = app
        .create_link(json!({"url": "https://example.com/p", "forward_query": true}))
        .await;
    let with_query = app
        .create_link(json!({"url": "https://example.com/q?a=1#top", "forward_query": true}))
        .await;
    let off = app
        .create_link(json!({"url": "https://example.com/o"}))
        .await;
    let go = |slug: &serde_json::Value, q: &str| {
        app.client
            .get(app.url(&format!("/{}?{q}", slug.as_str().expect("slug"))))
            .send()
    };
    let r = go(&plain["slug"], "utm=x&b=2").await.expect("send");
    assert_eq!(r.headers()["location"], "https://example.com/p?utm=x&b=2");
    let r = go(&with_query["slug"], "b=2").await.expect("send");
    assert_eq!(r.headers()["location"], "https://example.com/q?a=1&b=2#top");
    let r = go(&off["slug"], "b=2").await.expect("send");
    assert_eq!(r.headers()["location"], "https://example.com/o");
}

async fn password_protected_links_ask_for_the_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let link = app
        .create_link(json!({"url": "https://example.com/secret", "password": "open sesame"}))
        .await;
    let slug = link["slug"].as_str().expect("slug");

    let r = app.follow(slug).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("location").is_none());
    let page = r.text().await.expect("body");
    assert!(page.contains("<form") && page.contains("name=\"password\""));
    assert!(!page.contains("example.com/secret"));

    let r = app.unlock(slug, "wrong").await;
    expect_error(r, StatusCode::UNAUTHORIZED, 40102, Some("password")).await;
    let r = app.unlock_as_page(slug, "wrong").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.expect("body").contains("Wrong password"));

    let r = app.unlock(slug, "open sesame").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "https://example.com/secret");
    app.wait_for_visits(slug, 1).await;
}

async fn preview_shows_target_and_clicks_without_redirecting(backend: Backend) {
    let app = spawn_app(backend).await;
    let slug = app.shorten("https://example.com/a?x=1&y=2").await;
    app.follow(&slug).await;
    app.wait_for_visits(&slug, 1).await;
    let r = app.follow(&format!("{slug}+")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("location").is_none());
    let page = r.text().await.expect("body");
    assert!(page.contains("https://example.com/a?x=1&#38;y=2"), "{page}");
    // The count comes from the cached record, so it may lag the store by
    // up to `cache.l1_ttl_secs` (README): 0 or 1 here, never more.
    assert!(
        page.contains("<dd>1</dd>") || page.contains("<dd>0</dd>"),
        "{page}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        app.link(&slug).await["visits"],
        1,
        "a preview is not a click"
    );
    expect_error(
        app.follow("unknown+").await,
        StatusCode::NOT_FOUND,
        40401,
        None,
    )
    .await;
}

/// The warm-up's query on each backend: links by visits, most first,
/// unvisited ones left out, each with the slug and record a redirect needs.
async fn the_warm_up_streams_the_most_visited_links_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut slugs = Vec::new();
    for (i, clicks) in [1, 3, 0, 2].into_iter().enumerate() {
        let slug = app.shorten(&format!("https://example.com/{i}")).await;
        for _ in 0..clicks {
            app.follow(&slug).await;
        }
        if clicks > 0 {
            app.wait_for_visits(&slug, clicks).await;
        }
        slugs.push(slug);
    }
    let mut streamed = Vec::new();
    let mut sink = |slug: &str, record: kurz_core::link::RedirectRecord| {
        streamed.push((slug.to_owned(), record.url.to_string()));
    };
    let count = app
        .db
        .popular()
        .most_visited(2, &mut sink)
        .await
        .expect("warm-up query");
    assert_eq!(count, 2);
    assert_eq!(
        streamed,
        [
            (slugs[1].clone(), "https://example.com/1".to_owned()),
            (slugs[3].clone(), "https://example.com/3".to_owned()),
        ]
    );
    let all = app
        .db
        .popular()
        .most_visited(10, &mut |_: &str, _| {})
        .await
        .expect("warm-up query");
    assert_eq!(all, 3, "the unvisited link is left out");
}

/// One sample of the app's `/metrics` (0 when the series is absent).
async fn metric(app: &TestApp, series: &str) -> f64 {
    crate::operating::sample(&crate::operating::scrape(app).await, series).unwrap_or(0.0)
}

/// At start the most-visited links go into L1, as many as
/// `cache.warmup_entries` says, beside the server: once it is done, their
/// first redirects are L1 hits, and a link past the bound is a miss.
#[tokio::test]
async fn the_warm_up_fills_l1_with_the_most_visited_links_up_to_its_bound() {
    const HITS: &str = r#"kurz_cache_requests_total{level="l1",result="hit"}"#;
    const MISSES: &str = r#"kurz_cache_requests_total{level="l1",result="miss"}"#;
    let app = spawn_with(Backend::Sqlite, |c| c.cache.warmup_entries = 2).await;
    let mut slugs = Vec::new();
    for (i, clicks) in [1, 3, 2].into_iter().enumerate() {
        let slug = app.shorten(&format!("https://example.com/{i}")).await;
        for _ in 0..clicks {
            app.follow(&slug).await;
        }
        app.wait_for_visits(&slug, clicks).await;
        slugs.push(slug);
    }
    let app = app.restart().await;
    wait_until("the warm-up", Duration::from_secs(10), async || {
        metric(&app, "kurz_cache_l1_entries").await == 2.0
    })
    .await;
    let (hits, misses) = (metric(&app, HITS).await, metric(&app, MISSES).await);
    for slug in [&slugs[1], &slugs[2]] {
        assert_eq!(app.follow(slug).await.status(), StatusCode::FOUND);
    }
    // The scrape is rendered at most four times a second.
    wait_until("two L1 hits", Duration::from_secs(5), async || {
        metric(&app, HITS).await == hits + 2.0
    })
    .await;
    assert_eq!(metric(&app, MISSES).await, misses, "warmed up: no miss");
    assert_eq!(app.follow(&slugs[0]).await.status(), StatusCode::FOUND);
    wait_until("an L1 miss", Duration::from_secs(5), async || {
        metric(&app, MISSES).await == misses + 1.0
    })
    .await;
}

/// A click flush writes rollups and adds to the links' counters (on
/// MariaDB and PostgreSQL a thousand links a statement, rollups 500 rows a
/// statement); links in different statements, and ids that no longer
/// exist, are all fine, and a second flush adds to the first.
async fn click_counts_of_thousands_of_links_are_added_in_batches(backend: Backend) {
    use kurz_core::analytics::{ClickBatch, HourCount};
    let app = spawn_app(backend).await;
    let (a, b) = (
        app.shorten("https://example.com/a").await,
        app.shorten("https://example.com/b").await,
    );
    let id = |slug: String| {
        let lookup = app.db.lookup();
        async move {
            lookup
                .lookup(&slug)
                .await
                .expect("lookup")
                .expect("link")
                .id
        }
    };
    let (id_a, id_b) = (id(a.clone()).await, id(b.clone()).await);
    let hour = |link_id, total| HourCount {
        link_id,
        hour: 480_000,
        total,
        humans: total,
        bots: 0,
    };
    let mut hours: Vec<HourCount> = (0..2500).map(|i| hour(1_000_000_000 + i, 1)).collect();
    hours.push(hour(id_a, 5));
    hours.push(hour(id_b, 7));
    hours.sort_unstable_by_key(|h| h.link_id);
    let analytics = app.db.analytics();
    let batch = |hours| ClickBatch {
        hours,
        ..ClickBatch::default()
    };
    analytics.write_clicks(&batch(hours)).await.expect("flush");
    analytics
        .write_clicks(&batch(vec![hour(id_a, 1)]))
        .await
        .expect("flush");
    assert_eq!(app.link(&a).await["visits"], 6);
    assert_eq!(app.link(&b).await["visits"], 7);
}

async fn link_id(app: &crate::helpers::TestApp, slug: &str) -> i64 {
    app.db
        .lookup()
        .lookup(slug)
        .await
        .expect("lookup")
        .expect("link")
        .id
}

/// `total` clicks of one link in one hour, all by people.
fn hours_of(link_id: i64, total: u64) -> kurz_core::analytics::ClickBatch {
    kurz_core::analytics::ClickBatch {
        hours: vec![kurz_core::analytics::HourCount {
            link_id,
            hour: 480_000,
            total,
            humans: total,
            bots: 0,
        }],
        ..Default::default()
    }
}

/// On SQLite clicks are written outside sqlx (ADR 0028): a write that
/// meets a locked database waits the busy time-out and reports the store
/// unavailable (the worker keeps the batch and retries), writes nothing,
/// and the next write goes through.
#[tokio::test]
async fn a_click_write_on_a_locked_sqlite_file_is_retried_not_lost() {
    use kurz_core::error::StoreError;
    let app = crate::helpers::spawn_with(Backend::Sqlite, |c| c.pool.busy_timeout_ms = 200).await;
    let slug = app.shorten("https://example.com/locked").await;
    let id = link_id(&app, &slug).await;
    let batch = hours_of(id, 3);
    let analytics = app.db.analytics();
    let mut conn = app.lock_sqlite_file().await;
    let locked = analytics.write_clicks(&batch).await;
    assert!(
        matches!(locked, Err(StoreError::Unavailable(_))),
        "{locked:?}"
    );
    sqlx::query("rollback")
        .execute(&mut conn)
        .await
        .expect("unlock");
    analytics.write_clicks(&batch).await.expect("written");
    assert_eq!(app.link(&slug).await["visits"], 3);
}

/// A click write that fails half-way (a trigger refuses the breakdown
/// rows, after the hourly ones went in) leaves nothing of its batch, and
/// the next write, on a fresh connection, goes through.
#[tokio::test]
async fn a_click_write_that_fails_half_way_leaves_nothing_of_its_batch() {
    use kurz_core::analytics::{ClickBatch, Facet, FacetCount};
    use kurz_core::error::StoreError;
    use sqlx::Connection;
    let app = spawn_app(Backend::Sqlite).await;
    let slug = app.shorten("https://example.com/refused").await;
    let id = link_id(&app, &slug).await;
    let batch = ClickBatch {
        facets: vec![FacetCount {
            link_id: id,
            hour: 480_000,
            facet: Facet::Browser,
            name: "Firefox".into(),
            n: 2,
        }],
        ..hours_of(id, 2)
    };
    let mut conn = sqlx::SqliteConnection::connect(&app.db_url)
        .await
        .expect("connect");
    sqlx::query(
        "create trigger refuse_facets before insert on click_facets \
         begin select raise(abort, 'refused'); end",
    )
    .execute(&mut conn)
    .await
    .expect("trigger");
    async fn hours(conn: &mut sqlx::SqliteConnection, id: i64) -> i64 {
        sqlx::query_scalar("select count(*) from click_hours where link_id = ?")
            .bind(id)
            .fetch_one(conn)
            .await
            .expect("count")
    }
    let analytics = app.db.analytics();
    let refused = analytics.write_clicks(&batch).await;
    assert!(matches!(refused, Err(StoreError::Other(_))), "{refused:?}");
    assert_eq!(hours(&mut conn, id).await, 0, "rolled back");
    assert_eq!(app.link(&slug).await["visits"], 0);

    sqlx::query("drop trigger refuse_facets")
        .execute(&mut conn)
        .await
        .expect("drop");
    analytics.write_clicks(&batch).await.expect("written");
    assert_eq!(hours(&mut conn, id).await, 1);
    assert_eq!(app.link(&slug).await["visits"], 2);
}

backend_tests!(
    click_counts_of_thousands_of_links_are_added_in_batches,
    the_warm_up_streams_the_most_visited_links_first,
    redirects_with_the_links_status_and_exact_location,
    unknown_slugs_answer_404_as_json_or_as_a_page,
    get_counts_a_click_and_head_does_not,
    expired_links_answer_410,
    racing_visits_of_a_limited_link_give_exactly_max_visits_redirects,
    forward_query_appends_the_visitors_query,
    password_protected_links_ask_for_the_password,
    preview_shows_target_and_clicks_without_redirecting,
);
