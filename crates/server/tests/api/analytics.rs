//! Click analytics end to end: redirects in, stats and visits out, on every
//! backend.

use kurz_core::clock::Clock;
use reqwest::StatusCode;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::OffsetDateTime;

use crate::helpers::{
    expect_error, expect_json, spawn_node, spawn_with, Backend, TestApp, BROWSER_UA,
};

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
const SLACK: &str = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)";

/// A node whose worker would not flush on its own within a test: only a
/// full batch or shutdown writes.
async fn slow_flushing(backend: Backend) -> TestApp {
    spawn_with(backend, |c| c.analytics.flush_interval_ms = 60_000).await
}

impl TestApp {
    /// Follows `slug` as a visitor with `ua`, from `referrer`.
    pub(crate) async fn click(&self, slug: &str, ua: &str, referrer: Option<&str>) -> StatusCode {
        let mut r = self
            .client
            .get(self.url(&format!("/{slug}")))
            .header("user-agent", ua);
        if let Some(referrer) = referrer {
            r = r.header("referer", referrer);
        }
        r.send().await.expect("send").status()
    }

    async fn stats(&self, path: &str, key: &str) -> Value {
        let r = self.get(path, key).send().await.expect("send");
        expect_json(r, StatusCode::OK).await
    }

    /// A link's raw visits as CSV, as the admin; panics unless 200.
    async fn visits_csv(&self, slug: &str) -> String {
        let r = self
            .get(
                &format!("/api/v1/links/{slug}/visits?format=csv"),
                &self.admin_key,
            )
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK);
        r.text().await.expect("body")
    }

    async fn link_stats(&self, slug: &str, query: &str) -> Value {
        self.stats(
            &format!("/api/v1/links/{slug}/stats?{query}"),
            &self.admin_key,
        )
        .await
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("format")
}

fn breakdown(stats: &Value, name: &str) -> Vec<(String, u64)> {
    stats[name]
        .as_array()
        .expect("a breakdown")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().expect("name").to_owned(),
                e["count"].as_u64().expect("count"),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|&(n, c)| (n.to_owned(), c)).collect()
}

async fn clicks_are_counted_with_their_detail_across_a_graceful_restart(backend: Backend) {
    let app = slow_flushing(backend).await;
    let slug = app.shorten("https://example.com/landing").await;
    let hn = Some("https://news.ycombinator.com/item?id=1");
    for _ in 0..4 {
        assert_eq!(app.click(&slug, BROWSER_UA, hn).await, StatusCode::FOUND);
    }
    for _ in 0..3 {
        assert_eq!(app.click(&slug, IPHONE, None).await, StatusCode::FOUND);
    }
    for _ in 0..2 {
        assert_eq!(app.click(&slug, SLACK, None).await, StatusCode::FOUND);
    }
    assert_eq!(
        app.click(&slug, "curl/8.5.0", Some("https://t.co/x")).await,
        StatusCode::FOUND
    );
    // Not clicks: HEAD and the preview.
    let head = app
        .client
        .head(app.url(&format!("/{slug}")))
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), StatusCode::FOUND);
    let preview = app
        .client
        .get(app.url(&format!("/{slug}+")))
        .send()
        .await
        .expect("preview");
    assert_eq!(preview.status(), StatusCode::OK);

    // Shutdown writes what the worker had not.
    let app = app.restart().await;
    let s = app.link_stats(&slug, "").await;
    assert_eq!(
        (
            s["total"].as_u64(),
            s["humans"].as_u64(),
            s["bots"].as_u64()
        ),
        (Some(10), Some(7), Some(3))
    );
    assert_eq!(s["unclassified"], 0);
    assert_eq!(
        app.link(&slug).await["visits"],
        10,
        "visits equals the stats' total"
    );
    assert_eq!(
        breakdown(&s, "referrers"),
        pairs(&[("direct", 5), ("news.ycombinator.com", 4), ("t.co", 1)])
    );
    assert_eq!(
        breakdown(&s, "devices"),
        pairs(&[("desktop", 4), ("bot", 3), ("mobile", 3)])
    );
    assert_eq!(
        breakdown(&s, "browsers"),
        pairs(&[
            ("Firefox", 4),
            ("Safari", 3),
            ("misc crawler", 2),
            ("HTTP Library", 1)
        ])
    );
    assert_eq!(breakdown(&s, "countries"), pairs(&[("unknown", 10)]));
    // Thirty days by day, zero-filled; today holds every click.
    let series = s["series"].as_array().expect("series");
    assert_eq!(
        series
            .iter()
            .map(|p| p["count"].as_u64().expect("n"))
            .sum::<u64>(),
        10
    );
    assert!(series.len() == 30 || series.len() == 31, "{}", series.len());
    assert_eq!(series.last().expect("today")["count"], 10);
    // `limit` cuts each breakdown.
    let one = app.link_stats(&slug, "limit=1").await;
    assert_eq!(breakdown(&one, "referrers"), pairs(&[("direct", 5)]));
    // Raw visits: newest first, never an IP.
    let visits = app
        .stats(&format!("/api/v1/links/{slug}/visits"), &app.admin_key)
        .await;
    let items = visits["items"].as_array().expect("items");
    assert_eq!(items.len(), 10);
    assert!(items.iter().all(|v| v.get("ip").is_none()));
    assert_eq!(items.iter().filter(|v| v["bot"] == true).count(), 3);
}

async fn bots_do_not_use_up_a_limited_link(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    let link = app
        .create_link(json!({"url": "https://example.com/once", "max_visits": 1}))
        .await;
    let slug = link["slug"].as_str().expect("slug").to_owned();
    for ua in [SLACK, "facebookexternalhit/1.1", "curl/8.5.0"] {
        let r = app
            .client
            .get(app.url(&format!("/{slug}")))
            .header("user-agent", ua)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK, "{ua}");
        assert!(
            r.headers().get("location").is_none(),
            "a bot does not learn the target"
        );
        let page = r.text().await.expect("body");
        assert!(!page.contains("example.com/once"), "{page}");
        assert!(page.contains(&format!("action=\"/{slug}\"")), "{page}");
    }
    // A person whose browser looks like a program opens it from that page.
    let r = app
        .client
        .post(app.url(&format!("/{slug}")))
        .header("user-agent", "curl/8.5.0")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "https://example.com/once");
    assert_eq!(app.click(&slug, BROWSER_UA, None).await, StatusCode::GONE);
    let link = app.wait_for_visits(&slug, 4).await;
    assert_eq!(link["status"], "expired");
    let s = app.link_stats(&slug, "").await;
    assert_eq!(
        (s["humans"].as_u64(), s["bots"].as_u64()),
        (Some(0), Some(4)),
        "the form's visit counts against the limit, its click by its user agent"
    );
}

async fn long_headers_are_cut_not_refused(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    let slug = app.shorten("https://example.com/long").await;
    let host = format!("{}.example", "a".repeat(400));
    let referrer = format!("https://{host}/");
    let ua = format!("=cmd|' /C calc'!A0 {}", "x".repeat(2000));
    assert_eq!(
        app.click(&slug, &ua, Some(&referrer)).await,
        StatusCode::FOUND
    );
    assert_eq!(app.click(&slug, BROWSER_UA, None).await, StatusCode::FOUND);
    app.wait_for_visits(&slug, 2).await;
    let s = app.link_stats(&slug, "").await;
    let referrers = breakdown(&s, "referrers");
    assert!(
        referrers.contains(&(host[..255].to_owned(), 1)),
        "{referrers:?}"
    );
    let visits = app
        .stats(&format!("/api/v1/links/{slug}/visits"), &app.admin_key)
        .await;
    let kept = visits["items"][1]["user_agent"].as_str().expect("ua");
    assert_eq!(kept.len(), 512);
    let csv = app.visits_csv(&slug).await;
    assert!(csv.contains(",'=cmd|"), "a formula stays text: {csv}");
}

async fn a_tiny_queue_under_many_concurrent_clicks_keeps_exact_totals(backend: Backend) {
    let app = spawn_with(backend, |c| {
        c.analytics.queue_capacity = 4;
        c.analytics.batch_size = 4;
        c.analytics.flush_interval_ms = 60_000;
    })
    .await;
    let slugs = [
        app.shorten("https://example.com/1").await,
        app.shorten("https://example.com/2").await,
    ];
    let mut tasks = Vec::new();
    for i in 0..300 {
        let client = app.client.clone();
        let url = app.url(&format!("/{}", slugs[i % 2]));
        tasks.push(tokio::spawn(async move {
            client.get(url).send().await.expect("send").status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), StatusCode::FOUND);
    }
    let app = app.restart().await;
    let mut dropped = 0;
    for slug in &slugs {
        let s = app.link_stats(slug, "").await;
        assert_eq!(s["total"], 150);
        assert_eq!(app.link(slug).await["visits"], 150);
        let (humans, bots, unclassified) = (
            s["humans"].as_u64().expect("n"),
            s["bots"].as_u64().expect("n"),
            s["unclassified"].as_u64().expect("n"),
        );
        assert_eq!(humans + bots + unclassified, 150);
        assert_eq!(bots, 0);
        // Every click kept its detail, or was counted as dropped.
        let visits = app
            .stats(
                &format!("/api/v1/links/{slug}/visits?limit=1000"),
                &app.admin_key,
            )
            .await;
        assert_eq!(
            visits["items"].as_array().expect("items").len() as u64,
            humans
        );
        dropped += unclassified;
    }
    assert!(dropped > 0, "300 clicks at once must overflow a queue of 4");
}

async fn with_analytics_off_clicks_are_not_kept_but_visit_limits_hold(backend: Backend) {
    let app = spawn_with(backend, |c| c.analytics.enabled = false).await;
    let slug = app.shorten("https://example.com/untracked").await;
    for _ in 0..3 {
        assert_eq!(app.click(&slug, BROWSER_UA, None).await, StatusCode::FOUND);
    }
    let limited = app
        .create_link(json!({"url": "https://example.com/once", "max_visits": 1}))
        .await;
    let limited = limited["slug"].as_str().expect("slug").to_owned();
    assert_eq!(
        app.click(&limited, BROWSER_UA, None).await,
        StatusCode::FOUND
    );
    assert_eq!(
        app.click(&limited, BROWSER_UA, None).await,
        StatusCode::GONE,
        "the limit is taken in the store, with or without analytics"
    );
    // No click reached a queue: one with no worker to empty it would lose
    // them without a word.
    let metrics = crate::operating::scrape(&app).await;
    for series in ["kurz_clicks_total", "kurz_click_queue_depth"] {
        assert_eq!(
            crate::operating::sample(&metrics, series),
            Some(0.0),
            "{series}"
        );
    }
    // Had anything been queued, the graceful stop would have written it.
    let key = app.admin_key.clone();
    let app = app.restart().await;
    let s = app
        .stats(&format!("/api/v1/links/{slug}/stats"), &key)
        .await;
    assert_eq!(s["total"].as_u64(), Some(0), "{s}");
    assert_eq!(app.link(&slug).await["visits"], 0);
}

async fn two_nodes_add_up(backend: Backend) {
    let a = spawn_with(backend, |c| c.analytics.flush_interval_ms = 60_000).await;
    let b = spawn_node(&a.db_url, |c| c.analytics.flush_interval_ms = 60_000).await;
    let slug = a.shorten("https://example.com/both").await;
    for i in 0..40 {
        let node = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            node.click(&slug, if i % 4 < 2 { BROWSER_UA } else { SLACK }, None)
                .await,
            StatusCode::FOUND
        );
    }
    let key = a.admin_key.clone();
    b.stop_gracefully().await;
    let a = a.restart().await;
    let s = a.stats(&format!("/api/v1/links/{slug}/stats"), &key).await;
    assert_eq!(
        (
            s["total"].as_u64(),
            s["humans"].as_u64(),
            s["bots"].as_u64()
        ),
        (Some(40), Some(20), Some(20))
    );
    assert_eq!(a.link(&slug).await["visits"], 40);
}

/// 2 links × 300 hours: 600 hourly rows in one flush, more than one
/// transaction takes on SQLite (500); every count and raw visit lands.
async fn a_flush_larger_than_a_transaction_lands_whole(backend: Backend) {
    let app = slow_flushing(backend).await;
    let slugs = [
        app.shorten("https://example.com/a").await,
        app.shorten("https://example.com/b").await,
    ];
    let start = datetime!(2026-01-01 00:00 UTC);
    for hour in 0..300 {
        app.clock.set(start + time::Duration::hours(hour));
        for slug in &slugs {
            assert_eq!(app.click(slug, BROWSER_UA, None).await, StatusCode::FOUND);
        }
    }
    let app = app.restart().await;
    for slug in &slugs {
        let s = app
            .link_stats(
                slug,
                "from=2026-01-01T00:00:00Z&to=2026-01-13T12:00:00Z&interval=day",
            )
            .await;
        assert_eq!(s["total"], 300, "{slug}");
        let days: Vec<u64> = s["series"]
            .as_array()
            .expect("series")
            .iter()
            .map(|p| p["count"].as_u64().expect("n"))
            .collect();
        assert_eq!(days, [[24; 12].as_slice(), &[12]].concat());
        assert_eq!(app.link(slug).await["visits"], 300);
        let visits = app
            .stats(
                &format!("/api/v1/links/{slug}/visits?limit=1000"),
                &app.admin_key,
            )
            .await;
        assert_eq!(visits["items"].as_array().expect("items").len(), 300);
    }
}

async fn hours_and_days_are_utc_buckets_with_exact_edges(backend: Backend) {
    let app = slow_flushing(backend).await;
    let slug = app.shorten("https://example.com/edges").await;
    for (at, n) in [
        (datetime!(2026-03-01 22:59:59.999 UTC), 1),
        (datetime!(2026-03-01 23:00:00 UTC), 2),
        (datetime!(2026-03-01 23:59:59 UTC), 3),
        (datetime!(2026-03-02 00:00:00 UTC), 4),
    ] {
        app.clock.set(at);
        for _ in 0..n {
            assert_eq!(app.click(&slug, BROWSER_UA, None).await, StatusCode::FOUND);
        }
    }
    let app = app.restart().await;
    let hours = app
        .link_stats(
            &slug,
            "from=2026-03-01T22:00:00Z&to=2026-03-02T01:00:00Z&interval=hour",
        )
        .await;
    let series: Vec<(String, u64)> = hours["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|p| {
            (
                p["t"].as_str().expect("t").to_owned(),
                p["count"].as_u64().expect("n"),
            )
        })
        .collect();
    assert_eq!(
        series,
        vec![
            ("2026-03-01T22:00:00Z".to_owned(), 1),
            ("2026-03-01T23:00:00Z".to_owned(), 5),
            ("2026-03-02T00:00:00Z".to_owned(), 4),
        ]
    );
    assert_eq!(hours["total"], 10);
    let days = app
        .link_stats(
            &slug,
            "from=2026-02-28T12:00:00Z&to=2026-03-02T00:00:01Z&interval=day",
        )
        .await;
    let counts: Vec<u64> = days["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|p| p["count"].as_u64().expect("n"))
        .collect();
    assert_eq!(counts, vec![0, 6, 4]);
    assert_eq!(days["series"][0]["t"], "2026-02-28T00:00:00Z");
    // A range that ends before the last hour leaves it out.
    let early = app
        .link_stats(
            &slug,
            "from=2026-03-01T00:00:00Z&to=2026-03-01T23:00:00Z&interval=hour",
        )
        .await;
    assert_eq!(early["total"], 1);
}

async fn bad_ranges_and_strangers_get_clear_errors(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    let slug = app.shorten("https://example.com/mine").await;
    let ask = |query: &str| {
        app.get(
            &format!("/api/v1/links/{slug}/stats?{query}"),
            &app.admin_key,
        )
        .send()
    };
    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "from"),
        ("from=2026-03-01T00:00:00Z&to=2026-03-01T00:00:00Z", "from"),
        (
            "from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&interval=hour",
            "to",
        ),
        ("interval=week", "interval"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
    ] {
        expect_error(
            ask(query).await.expect("send"),
            StatusCode::BAD_REQUEST,
            40030,
            Some(field),
        )
        .await;
    }
    let visits = app
        .get(
            &format!("/api/v1/links/{slug}/visits?format=xml"),
            &app.admin_key,
        )
        .send()
        .await
        .expect("send");
    expect_error(visits, StatusCode::BAD_REQUEST, 40030, Some("format")).await;
    // Pages of raw visits hold at most 1,000.
    for limit in ["0", "1001"] {
        let r = app
            .get(
                &format!("/api/v1/links/{slug}/visits?limit={limit}"),
                &app.admin_key,
            )
            .send()
            .await
            .expect("send");
        expect_error(r, StatusCode::BAD_REQUEST, 40030, Some("limit")).await;
    }
    // Another user's link is not theirs to see, nor to know of.
    let bob = app.user("bob").await;
    for path in [
        format!("/api/v1/links/{slug}/stats"),
        format!("/api/v1/links/{slug}/visits"),
        format!("/api/v1/links/{slug}/visits?format=csv"),
    ] {
        let r = app.get(&path, &bob).send().await.expect("send");
        expect_error(r, StatusCode::NOT_FOUND, 40401, None).await;
    }
    let r = app
        .client
        .get(app.url(&format!("/api/v1/links/{slug}/stats")))
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::UNAUTHORIZED, 40101, None).await;
}

async fn overall_stats_cover_the_callers_links_with_top_links(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    let bob = app.user("bob").await;
    let mine = |key: &str, url: &str| app.post("/api/v1/links", key, json!({ "url": url })).send();
    let b1: Value = expect_json(
        mine(&bob, "https://example.com/b1").await.expect("send"),
        StatusCode::CREATED,
    )
    .await;
    let b2: Value = expect_json(
        mine(&bob, "https://example.com/b2").await.expect("send"),
        StatusCode::CREATED,
    )
    .await;
    let admins = app.shorten("https://example.com/a").await;
    let (b1, b2) = (
        b1["slug"].as_str().expect("slug").to_owned(),
        b2["slug"].as_str().expect("slug").to_owned(),
    );
    for (slug, n) in [(&b1, 3), (&b2, 5), (&admins, 7)] {
        for _ in 0..n {
            assert_eq!(app.click(slug, BROWSER_UA, None).await, StatusCode::FOUND);
        }
    }
    app.wait_for_visits(&admins, 7).await;
    app.wait_for_visits(&b2, 5).await;
    app.wait_for_visits(&b1, 3).await;
    let s = app.stats("/api/v1/stats", &bob).await;
    assert_eq!(s["total"], 8);
    assert_eq!(
        s["top_links"],
        json!([{"slug": b2, "count": 5}, {"slug": b1, "count": 3}])
    );
    let all = app.stats("/api/v1/stats?limit=2", &app.admin_key).await;
    assert_eq!(all["total"], 15);
    assert_eq!(
        all["top_links"],
        json!([{"slug": admins, "count": 7}, {"slug": b2, "count": 5}])
    );
    // One link's stats have no top_links.
    assert!(app.link_stats(&b1, "").await.get("top_links").is_none());
}

async fn visits_page_by_cursor_and_stream_as_csv(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    let slug = app.shorten("https://example.com/paged").await;
    for i in 0..25 {
        app.clock.advance(time::Duration::seconds(1));
        let referrer = format!("https://site{i}.example/");
        assert_eq!(
            app.click(&slug, BROWSER_UA, Some(&referrer)).await,
            StatusCode::FOUND
        );
    }
    app.wait_for_visits(&slug, 25).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/links/{slug}/visits?limit=10&cursor={c}"),
            None => format!("/api/v1/links/{slug}/visits?limit=10"),
        };
        let page = app.stats(&path, &app.admin_key).await;
        for v in page["items"].as_array().expect("items") {
            seen.push(v["referrer"].as_str().expect("referrer").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let newest_first: Vec<String> = (0..25).rev().map(|i| format!("site{i}.example")).collect();
    assert_eq!(seen, newest_first);
    let r = app
        .get(
            &format!("/api/v1/links/{slug}/visits?format=csv"),
            &app.admin_key,
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/csv"));
    let body = r.text().await.expect("body");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines[0],
        "t,referrer,country,browser,os,device,bot,user_agent"
    );
    assert_eq!(lines.len(), 26);
    assert!(
        lines[1].contains(",site24.example,unknown,Firefox,Linux,desktop,false,"),
        "{}",
        lines[1]
    );
}

async fn raw_visits_can_be_turned_off_and_old_ones_are_purged(backend: Backend) {
    let app = spawn_with(backend, |c| c.analytics.raw_visits = false).await;
    let slug = app.shorten("https://example.com/quiet").await;
    assert_eq!(app.click(&slug, BROWSER_UA, None).await, StatusCode::FOUND);
    app.wait_for_visits(&slug, 1).await;
    let visits = app
        .stats(&format!("/api/v1/links/{slug}/visits"), &app.admin_key)
        .await;
    assert_eq!(visits["items"], json!([]));
    assert_eq!(app.link_stats(&slug, "").await["total"], 1, "rollups stay");

    let app = spawn_with(backend, |_| {}).await;
    let slug = app.shorten("https://example.com/old").await;
    let start = app.clock.now();
    for _ in 0..3 {
        assert_eq!(app.click(&slug, BROWSER_UA, None).await, StatusCode::FOUND);
    }
    app.clock.advance(time::Duration::days(100));
    assert_eq!(app.click(&slug, BROWSER_UA, None).await, StatusCode::FOUND);
    app.wait_for_visits(&slug, 4).await;
    let analytics = app.db.analytics();
    let cutoff = start + time::Duration::days(10);
    assert_eq!(
        analytics.purge_visits(cutoff, 2).await.expect("purge"),
        2,
        "bounded batches"
    );
    assert_eq!(analytics.purge_visits(cutoff, 2).await.expect("purge"), 1);
    assert_eq!(analytics.purge_visits(cutoff, 2).await.expect("purge"), 0);
    let visits = app
        .stats(&format!("/api/v1/links/{slug}/visits"), &app.admin_key)
        .await;
    assert_eq!(visits["items"].as_array().expect("items").len(), 1);
    assert_eq!(
        app.link_stats(
            &slug,
            &format!("from={}", rfc3339(start - time::Duration::days(1)))
        )
        .await["total"],
        4,
        "rollups are kept for ever"
    );
}

async fn countries_come_from_the_geoip_database_behind_trusted_proxies(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("countries.mmdb");
    let db = crate::mmdb::countries(&[
        ("203.0.113.0".parse().expect("ip"), 24, "NL"),
        ("198.51.100.0".parse().expect("ip"), 24, "JP"),
    ]);
    std::fs::write(&path, db).expect("write");
    let app = spawn_with(backend, |c| {
        c.geoip_db = Some(path.clone());
        c.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let slug = app.shorten("https://example.com/geo").await;
    for ip in ["203.0.113.9", "203.0.113.200", "198.51.100.1", "192.0.2.1"] {
        let r = app
            .client
            .get(app.url(&format!("/{slug}")))
            .header("x-forwarded-for", ip)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::FOUND);
    }
    app.wait_for_visits(&slug, 4).await;
    let s = app.link_stats(&slug, "").await;
    assert_eq!(
        breakdown(&s, "countries"),
        pairs(&[("NL", 2), ("JP", 1), ("unknown", 1)])
    );
    // The addresses themselves are nowhere in what is kept.
    let csv = app.visits_csv(&slug).await;
    assert!(!csv.contains("203.0.113") && !csv.contains("198.51.100"));
}

backend_tests!(
    clicks_are_counted_with_their_detail_across_a_graceful_restart,
    bots_do_not_use_up_a_limited_link,
    long_headers_are_cut_not_refused,
    a_tiny_queue_under_many_concurrent_clicks_keeps_exact_totals,
    a_flush_larger_than_a_transaction_lands_whole,
    two_nodes_add_up,
    with_analytics_off_clicks_are_not_kept_but_visit_limits_hold,
    hours_and_days_are_utc_buckets_with_exact_edges,
    bad_ranges_and_strangers_get_clear_errors,
    overall_stats_cover_the_callers_links_with_top_links,
    visits_page_by_cursor_and_stream_as_csv,
    raw_visits_can_be_turned_off_and_old_ones_are_purged,
    countries_come_from_the_geoip_database_behind_trusted_proxies,
);

/// Field `n` (counted from 1, as `proc(5)` does) of a `/proc/.../stat`
/// file, as a number.
#[cfg(target_os = "linux")]
fn stat_field(stat: &std::path::Path, n: usize) -> Option<i64> {
    let stat = std::fs::read_to_string(stat).ok()?;
    // After the name in parentheses, which may hold spaces: field 3 on.
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split(' ').nth(n - 3)?.parse().ok()
}

/// The nice value in a `/proc/.../stat` file.
#[cfg(target_os = "linux")]
fn nice_in(stat: &std::path::Path) -> Option<i64> {
    stat_field(stat, 19)
}

/// The scheduling policy in a `/proc/.../stat` file (5: `SCHED_IDLE`).
#[cfg(target_os = "linux")]
fn policy_in(stat: &std::path::Path) -> Option<i64> {
    stat_field(stat, 41)
}

/// `field` of the `stat` of each of this process's threads named `name`.
#[cfg(target_os = "linux")]
fn of_threads(name: &str, field: fn(&std::path::Path) -> Option<i64>) -> Vec<i64> {
    let tasks = std::fs::read_dir("/proc/self/task").expect("tasks");
    tasks
        .flatten()
        .map(|task| task.path())
        .filter(|path| {
            std::fs::read_to_string(path.join("comm")).is_ok_and(|comm| comm.trim_end() == name)
        })
        .filter_map(|path| field(&path.join("stat")))
        .collect()
}

/// ADR 0027: clicks are written from a thread below the request threads'
/// priority; on SQLite on that thread itself (ADR 0028); under
/// `SCHED_IDLE` where the process may raise it again (ADR 0029).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn clicks_are_written_below_the_priority_of_redirects() {
    let base = nice_in(std::path::Path::new("/proc/thread-self/stat")).expect("own nice");
    let app = spawn_with(Backend::Sqlite, |_| {}).await;
    let slug = app.shorten("https://example.com/landing").await;
    assert_eq!(app.click(&slug, BROWSER_UA, None).await, StatusCode::FOUND);
    app.wait_for_visits(&slug, 1).await;
    let lowered = (base + i64::from(kurz_server::analytics::thread::NICENESS)).min(19);
    assert!(
        of_threads("kurz-clicks", nice_in).contains(&lowered),
        "the click worker's thread runs at nice {lowered}"
    );
    assert!(
        lowered == base || !of_threads("sqlx-sqlite-wor", nice_in).contains(&lowered),
        "on SQLite clicks are written on the worker's own thread, not through a \
         sqlx connection of their own (ADR 0028)"
    );
    const SCHED_IDLE: i64 = 5;
    let idle = kurz_server::analytics::thread::idle_is_reversible();
    assert_eq!(
        of_threads("kurz-clicks", policy_in).contains(&SCHED_IDLE),
        idle,
        "the click worker is under SCHED_IDLE exactly where it can leave it"
    );
    assert!(
        nice_in(std::path::Path::new("/proc/thread-self/stat")) == Some(base),
        "the request side keeps its priority"
    );
    assert_ne!(
        policy_in(std::path::Path::new("/proc/thread-self/stat")),
        Some(SCHED_IDLE),
        "and its policy"
    );
}
