//! The stats pages of the web UI: a link's stats, the dashboard, and the
//! visits download, fed by real clicks through the redirect path.

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use kurz_core::clock::Clock;

use crate::helpers::{expect_json, spawn_app, Backend, TestApp, BROWSER_UA};
use crate::ui_client::{location, UiClient};

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const HN: &str = "https://news.ycombinator.com/item?id=1";
const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";

/// Follows `slug` as a visitor with `ua`, from `referer`: a redirect.
async fn click(app: &TestApp, slug: &str, ua: &str, referer: Option<&str>) {
    let status = app.click(slug, ua, referer).await;
    assert_eq!(status, StatusCode::FOUND, "a redirect of {slug}");
}

/// A link of the owner of `key`.
async fn link_of(app: &TestApp, key: &str, body: Value) -> String {
    let r = app
        .post("/api/v1/links", key, body)
        .send()
        .await
        .expect("send");
    expect_json(r, StatusCode::CREATED).await["slug"]
        .as_str()
        .expect("slug")
        .to_owned()
}

/// 3 people from Hacker News, 2 on phones with no referrer, 1 crawler.
async fn six_clicks(app: &TestApp, slug: &str) {
    for _ in 0..3 {
        click(app, slug, BROWSER_UA, Some(HN)).await;
    }
    for _ in 0..2 {
        click(app, slug, IPHONE, None).await;
    }
    click(app, slug, GOOGLEBOT, None).await;
    app.wait_for_visits(slug, 6).await;
}

/// The part of `html` from `start` to the next `end`.
fn part<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in the page"));
    let rest = &html[at..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

/// The rows of the clicks-over-time chart's table: one per bucket.
fn buckets(html: &str) -> usize {
    part(html, "id=\"over-time\"", "</section>")
        .matches("<th scope=\"row\">")
        .count()
}

fn row(name: &str, count: u64) -> String {
    format!("<th scope=\"row\">{name}</th><td>{count}</td>")
}

fn total(label: &str, n: u64) -> String {
    format!("<dt>{label}</dt><dd>{n}</dd>")
}

fn day(t: OffsetDateTime) -> String {
    let d = t.date();
    format!("{}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

async fn a_links_page_shows_its_clicks_by_day_and_by_hour(backend: Backend) {
    let app = spawn_app(backend).await;
    let slug = app.shorten("https://example.com/landing").await;
    six_clicks(&app, &slug).await;
    let ui = UiClient::logged_in(&app, "admin", "admin-password").await;

    let (status, html) = ui.page(&format!("/ui/links/{slug}/stats")).await;
    assert_eq!(status, StatusCode::OK);
    for t in [total("Clicks", 6), total("Humans", 5), total("Bots", 1)] {
        assert!(html.contains(&t), "{t}");
    }
    assert!(
        html.contains(&format!("href=\"/ui/links/{slug}\"")),
        "back to the link"
    );
    assert!(html.contains(&format!("href=\"/ui/links/{slug}/visits.csv\"")));
    // Thirty days by day; today has every click, in its tooltip and table.
    assert_eq!(buckets(&html), 30);
    assert!(html.contains("· 6 clicks</title>"), "today's tooltip");
    assert!(html.contains(&row("news.ycombinator.com", 3)));
    assert!(html.contains(&row("Direct / none", 3)));
    assert!(html.contains(&row("Mobile", 2)));
    assert!(html.contains(&row("Desktop", 3)));
    assert!(html.contains(&row("Humans", 5)));
    assert!(html.contains(&row("Bots", 1)));
    assert!(html.contains("<option value=\"30d\" selected>"));
    // The chooser is a GET form whose select submits itself with script.
    let chooser = part(&html, "<form method=\"get\"", "</form>");
    assert!(chooser.contains(&format!("action=\"/ui/links/{slug}/stats\"")));
    assert!(chooser.contains("name=\"range\" data-autosubmit"));
    assert!(
        chooser.contains("<button type=\"submit\""),
        "and a button without"
    );

    let (status, html) = ui.page(&format!("/ui/links/{slug}/stats?range=24h")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(buckets(&html), 24);
    assert!(html.contains("by hour (UTC)"));
    assert!(
        html.contains(":00 · 6 clicks</title>"),
        "this hour's tooltip"
    );
    assert!(html.contains("<option value=\"24h\" selected>"));

    let (_, html) = ui.page(&format!("/ui/links/{slug}/stats?range=7d")).await;
    assert_eq!(buckets(&html), 7);
    assert!(html.contains(&total("Clicks", 6)));

    // Custom days, both included, by hour.
    let now = app.clock.now();
    let (from, to) = (day(now - Duration::days(1)), day(now));
    let (status, html) = ui
        .page(&format!(
            "/ui/links/{slug}/stats?range=custom&from={from}&to={to}&interval=hour"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(buckets(&html), 48);
    assert!(html.contains(&total("Clicks", 6)));
    assert!(html.contains(&format!("value=\"{from}\"")));
    // Days before any click: the page says so instead of drawing nothing.
    let before = day(now - Duration::days(9));
    let (status, html) = ui
        .page(&format!(
            "/ui/links/{slug}/stats?range=custom&from={before}&to={before}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Nobody followed this link in the chosen range"));
    assert!(!html.contains("chart-series"));
}

#[tokio::test]
async fn a_refused_range_is_said_on_its_field() {
    let app = spawn_app(Backend::Sqlite).await;
    let slug = app.shorten("https://example.com/").await;
    let ui = UiClient::logged_in(&app, "admin", "admin-password").await;
    for (query, field) in [
        ("from=2026-02-01&to=2026-01-01", "from"),
        ("from=soon&to=2026-01-01", "from"),
        ("from=2026-01-01&to=2026-12-31&interval=hour", "to"),
    ] {
        let (status, html) = ui
            .page(&format!("/ui/links/{slug}/stats?range=custom&{query}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(html.contains("role=\"alert\""), "{query}");
        let input = part(&html, &format!("id=\"{field}\""), ">");
        assert!(input.contains("aria-invalid=\"true\""), "{query}: {input}");
        assert!(html.contains("<details class=\"range-custom\" open>"));
    }
    // An unknown preset is the default, not an error.
    let (status, html) = ui
        .page(&format!("/ui/links/{slug}/stats?range=forever"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<option value=\"30d\" selected>"));
}

#[tokio::test]
async fn a_link_never_clicked_says_so() {
    let app = spawn_app(Backend::Sqlite).await;
    let slug = app.shorten("https://example.com/").await;
    let ui = UiClient::logged_in(&app, "admin", "admin-password").await;
    let (status, html) = ui.page(&format!("/ui/links/{slug}/stats")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No clicks yet"));
    assert!(html.contains(&total("Clicks", 0)));
    assert!(!html.contains("<svg"), "no empty charts");
    let (_, html) = ui.page("/ui/dashboard").await;
    assert!(html.contains("None of the links followed in the chosen range"));
    assert!(!html.contains("<svg"));
}

#[tokio::test]
async fn another_users_link_is_not_found_and_strangers_log_in_first() {
    let app = spawn_app(Backend::Sqlite).await;
    let slug = app.shorten("https://example.com/admins").await;
    app.user("bob").await;
    let bob = UiClient::logged_in(&app, "bob", "user-password").await;
    for path in [
        format!("/ui/links/{slug}/stats"),
        format!("/ui/links/{slug}/stats?range=custom&from=x"),
        format!("/ui/links/{slug}/visits.csv"),
        "/ui/links/no-such-link/stats".to_owned(),
        "/ui/links/no-such-link/visits.csv".to_owned(),
    ] {
        let (status, html) = bob.page(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(html.contains("40401"), "{path}");
        assert!(!html.contains("example.com/admins"), "{path}");
    }
    let stranger = UiClient::new(&app);
    for path in [
        format!("/ui/links/{slug}/stats"),
        format!("/ui/links/{slug}/visits.csv"),
        "/ui/dashboard".to_owned(),
    ] {
        let r = stranger.get(&path).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&r).starts_with("/login?next="), "{path}");
    }
}

async fn the_dashboard_counts_a_users_links_or_every_link_for_admins(backend: Backend) {
    let app = spawn_app(backend).await;
    let bob_key = app.user("bob").await;
    let bobs = link_of(&app, &bob_key, json!({ "url": "https://example.com/bob" })).await;
    let admins = app.shorten("https://example.com/admin").await;
    for _ in 0..2 {
        click(&app, &bobs, BROWSER_UA, None).await;
    }
    click(&app, &bobs, GOOGLEBOT, None).await;
    for _ in 0..4 {
        click(&app, &admins, IPHONE, Some(HN)).await;
    }
    app.wait_for_visits(&bobs, 3).await;
    app.wait_for_visits(&admins, 4).await;

    let bob = UiClient::logged_in(&app, "bob", "user-password").await;
    let (status, html) = bob.page("/ui/dashboard").await;
    assert_eq!(status, StatusCode::OK);
    for t in [total("Clicks", 3), total("Humans", 2), total("Bots", 1)] {
        assert!(html.contains(&t), "bob: {t}");
    }
    assert!(html.contains(&format!("href=\"/ui/links/{bobs}/stats\"")));
    assert!(!html.contains(&admins), "not another user's link");
    assert!(html.contains("aria-current=\"page\">Dashboard"));

    let admin = UiClient::logged_in(&app, "admin", "admin-password").await;
    let (_, html) = admin.page("/ui/dashboard?range=24h").await;
    for t in [total("Clicks", 7), total("Humans", 6), total("Bots", 1)] {
        assert!(html.contains(&t), "admin: {t}");
    }
    let top = part(&html, "id=\"top-links\"", "</table>");
    let (first, second) = (
        top.find(&format!("/ui/links/{admins}/stats")),
        top.find(&format!("/ui/links/{bobs}/stats")),
    );
    assert!(
        first.is_some() && second.is_some() && first < second,
        "{top}"
    );
    assert!(top.contains("57.1%"), "4 of 7");
    assert_eq!(buckets(&html), 24);
}

#[tokio::test]
async fn hostile_titles_referrers_and_agents_are_escaped() {
    let app = spawn_app(Backend::Sqlite).await;
    let link = app
        .create_link(json!({
            "url": "https://example.com/?q=%22%3E%3Cimg%20src=x%3E",
            "title": format!("{SCRIPT}{IMG}"),
        }))
        .await;
    let slug = link["slug"].as_str().expect("slug").to_owned();
    click(&app, &slug, SCRIPT, Some(SCRIPT)).await;
    click(
        &app,
        &slug,
        IMG,
        Some(&format!("https://evil.example/{SCRIPT}")),
    )
    .await;
    click(
        &app,
        &slug,
        BROWSER_UA,
        Some(&format!("https://x.example/{IMG}")),
    )
    .await;
    app.wait_for_visits(&slug, 3).await;
    let ui = UiClient::logged_in(&app, "admin", "admin-password").await;
    for path in [
        format!("/ui/links/{slug}/stats"),
        format!("/ui/links/{slug}/stats?range=24h"),
        "/ui/dashboard".to_owned(),
    ] {
        let (status, html) = ui.page(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!html.contains(SCRIPT), "{path}");
        assert!(!html.contains("<img src=x"), "{path}");
        assert!(!html.contains("<script>"), "{path}");
    }
    let (_, html) = ui.page(&format!("/ui/links/{slug}/stats")).await;
    let title = part(&html, "class=\"stats-title break\">", "</p>");
    assert!(
        title.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || title.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the title, escaped: {title}"
    );
    assert!(html.contains(&total("Clicks", 3)));
    assert!(
        html.contains(&row("evil.example", 1)),
        "{}",
        part(&html, "Referrers", "</section>")
    );
}

#[tokio::test]
async fn visits_download_as_csv_for_the_session_user() {
    let app = spawn_app(Backend::Sqlite).await;
    let bob_key = app.user("bob").await;
    let slug = link_of(&app, &bob_key, json!({ "url": "https://example.com/csv" })).await;
    click(&app, &slug, BROWSER_UA, Some(HN)).await;
    click(&app, &slug, GOOGLEBOT, None).await;
    click(&app, &slug, "=HYPERLINK(\"http://evil.example\")", None).await;
    app.wait_for_visits(&slug, 3).await;
    let bob = UiClient::logged_in(&app, "bob", "user-password").await;
    let r = bob.get(&format!("/ui/links/{slug}/visits.csv")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    assert!(h["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/csv"));
    assert_eq!(
        h["content-disposition"],
        format!("attachment; filename=\"{slug}-visits.csv\"").as_str()
    );
    assert_eq!(h["cache-control"], "no-store");
    let body = r.text().await.expect("body");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines[0],
        "t,referrer,country,browser,os,device,bot,user_agent"
    );
    assert_eq!(lines.len(), 4, "{body}");
    assert!(body.contains("news.ycombinator.com"));
    assert_eq!(lines.iter().filter(|l| l.contains(",true,")).count(), 1);
    assert!(body.contains("'=HYPERLINK"), "formulas stay text");
    // The same as the API's own export.
    let api = app
        .get(&format!("/api/v1/links/{slug}/visits?format=csv"), &bob_key)
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("body");
    assert_eq!(api, body);
}

#[tokio::test]
async fn the_pages_read_in_chinese() {
    let app = spawn_app(Backend::Sqlite).await;
    let slug = app.shorten("https://example.com/").await;
    click(&app, &slug, IPHONE, None).await;
    app.wait_for_visits(&slug, 1).await;
    let ui = UiClient::logged_in(&app, "admin", "admin-password").await;
    let r = ui.get("/ui/lang?to=zh-CN&back=/").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = ui.page(&format!("/ui/links/{slug}/stats")).await;
    assert!(html.contains("<html lang=\"zh-CN\">"));
    assert!(html.contains(&row("手机", 1)));
    assert!(html.contains(&row("直接访问 / 无", 1)));
    assert!(html.contains("1 次点击</title>"));
    let (_, html) = ui.page("/ui/dashboard").await;
    assert!(html.contains("<h1>概览</h1>"));
}

backend_tests!(
    a_links_page_shows_its_clicks_by_day_and_by_hour,
    the_dashboard_counts_a_users_links_or_every_link_for_admins,
);
