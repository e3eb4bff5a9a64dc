//! The web UI in a real headless Chromium (see `browser` for how it
//! starts): the whole flow a person goes through, the same core flow with
//! JavaScript off, and a phone-sized screen. Screenshots of every page go
//! to `target/ui-screenshots/ui-*.png`.

use std::time::{Duration, Instant};

use base64::Engine as _;
use fantoccini::{Client, Locator};
use serde_json::json;

use crate::browser::{landing_page, Browser, Options};
use crate::helpers::{spawn_with, Backend, TestApp};

async fn wait_for_text(c: &Client, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let source = c.source().await.expect("source");
        if source.contains(needle) {
            return source;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the page: {source}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The element `css` selects, waited for: a page that has just been
/// submitted may still be the old one when it is asked.
async fn element(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
}

async fn fill(c: &Client, css: &str, text: &str) {
    let field = element(c, css).await;
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

async fn click(c: &Client, css: &str) {
    element(c, css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn value(c: &Client, css: &str) -> String {
    element(c, css)
        .await
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default()
}

async fn log_in(browser: &Browser, app: &TestApp, user: &str, password: &str) {
    let c = &browser.client;
    c.goto(&app.url("/login")).await.expect("open");
    fill(c, "#username", user).await;
    fill(c, "#password", password).await;
    click(c, "form[action='/login'] button[type=submit]").await;
    wait_for_text(c, &format!("Signed in as {user}</a>")).await;
}

/// Opens "More options" when it is closed (with scripts off too: a
/// `<details>` opens by itself).
async fn open_options(c: &Client) {
    let open = c
        .execute("return document.querySelector('details').open", vec![])
        .await
        .expect("script");
    if open != json!(true) {
        click(c, "details > summary").await;
    }
}

async fn shorten(c: &Client, app: &TestApp, url: &str, alias: &str) {
    c.goto(&app.url("/")).await.expect("open");
    fill(c, "#url", url).await;
    open_options(c).await;
    fill(c, "#alias", alias).await;
    fill(c, "#title", "Landing <b>page</b>").await;
    fill(c, "#tags", "docs, browser").await;
    click(c, "form[action='/ui/shorten'] button[type=submit]").await;
    wait_for_text(c, "id=\"short-url\"").await;
}

#[tokio::test]
async fn a_person_shortens_follows_edits_downloads_and_manages_keys_in_chromium() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_with(Backend::Sqlite, |c| c.links.allow_private_targets = true).await;
    let c = &browser.client;
    let target = landing_page().await;

    log_in(&browser, &app, "admin", "admin-password").await;
    browser.screenshot("ui-home").await;

    // Shorten with options; the answer shows the short URL, a copy button
    // and the QR code.
    shorten(c, &app, &target, "landing").await;
    let short = value(c, "#short-url").await;
    assert_eq!(short, app.url("/landing"));
    click(c, "button[data-copy=short-url]").await;
    // The label changes once the clipboard's promise settles, and back
    // 1.5 s later: read it until it does (a single read right after the
    // click raced the promise).
    let button = element(c, "button[data-copy=short-url]").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let label = button.text().await.expect("text");
        if label == "Copied" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the copy button reports the copy: {label:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let qr_loaded = c
        .execute(
            "return document.querySelector('img.qr').naturalWidth > 0",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(qr_loaded, json!(true), "the QR code image shows");
    browser.screenshot("ui-shortened").await;
    let link = app.link("landing").await;
    assert_eq!(link["title"], "Landing <b>page</b>");
    assert_eq!(link["tags"], json!(["docs", "browser"]));

    // Follow it: one click, seen on the link's chart.
    c.goto(&short).await.expect("follow");
    assert_eq!(
        browser.wait_for_url(&target, Duration::from_secs(10)).await,
        target
    );
    app.wait_for_visits("landing", 1).await;
    c.goto(&app.url("/ui/links")).await.expect("list");
    let list = wait_for_text(c, "/ui/links/landing").await;
    assert!(
        list.contains("Landing &lt;b&gt;page&lt;/b&gt;"),
        "escaped title"
    );
    browser.screenshot("ui-links").await;
    c.goto(&app.url("/ui/links/landing/stats"))
        .await
        .expect("stats");
    let stats = wait_for_text(c, "<svg").await;
    assert!(
        stats.contains("1 click"),
        "the chart shows the click: {stats}"
    );
    browser.screenshot("ui-stats").await;

    // Edit the target; the redirect follows at once.
    c.goto(&app.url("/ui/links/landing"))
        .await
        .expect("link page");
    browser.screenshot("ui-link").await;
    let moved = format!("{target}?moved=1");
    fill(c, "#url", &moved).await;
    click(c, "form[action='/ui/links/landing'] button[type=submit]").await;
    wait_for_text(c, "class=\"notice\"").await;
    let r = app.follow("landing").await;
    assert_eq!(r.headers()["location"], moved.as_str());

    // Download the QR code (the page's own link, with the session) and
    // decode it back to the short URL.
    let href = c
        .find(Locator::Css("a[href*='/qr?'][href*='png']"))
        .await
        .expect("a PNG download link")
        .attr("href")
        .await
        .expect("href")
        .expect("an href");
    let png = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => {
               let s = ''; new Uint8Array(b).forEach(x => s += String.fromCharCode(x));
               done(btoa(s));
             });",
            vec![json!(href)],
        )
        .await
        .expect("fetch the QR code");
    let png = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().expect("base64"))
        .expect("bytes");
    assert_eq!(
        crate::qr::decode_png(&png).1.as_deref(),
        Some(short.as_str())
    );

    // An API key: created (shown once), working, revoked.
    c.goto(&app.url("/ui/keys")).await.expect("keys");
    fill(c, "#key-name-input", "laptop <script>").await;
    click(c, "form[action='/ui/keys'] button[type=submit]").await;
    // The keys page has an `id="new-key"` heading of its own: wait for
    // the page that shows the key.
    wait_for_text(c, "id=\"created-heading\"").await;
    let key = value(c, "textarea#new-key").await;
    assert!(key.starts_with("kurz_"), "the new key field holds {key:?}");
    browser.screenshot("ui-key-created").await;
    let r = app.get("/api/v1/links", &key).send().await.expect("send");
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    c.goto(&app.url("/ui/keys")).await.expect("keys");
    let listed = wait_for_text(c, "laptop &lt;script&gt;").await;
    assert!(!listed.contains(&key), "a key is shown once");
    browser.screenshot("ui-keys").await;
    // The `data-confirm` dialog, answered yes (WebDriver's own handling of
    // dialogs differs between drivers; the page's script is what is tested).
    c.execute("window.confirm = function () { return true; };", vec![])
        .await
        .expect("script");
    // The new key's row: the admin has the tests' key too.
    c.find(Locator::XPath(
        "//tr[td[contains(., 'laptop <script>')]]//form[contains(@action, '/revoke')]//button",
    ))
    .await
    .expect("the new key's revoke button")
    .click()
    .await
    .expect("revoke");
    wait_for_text(c, "The key was revoked.").await;
    let r = app.get("/api/v1/links", &key).send().await.expect("send");
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);

    // Log out.
    click(c, "form[action='/logout'] button[type=submit]").await;
    wait_for_text(c, "href=\"/login\"").await;
    c.goto(&app.url("/ui/links")).await.expect("list");
    let url = c.current_url().await.expect("url");
    assert_eq!(url.path(), "/login", "logged out");
    let _ = browser.client.clone().close().await;
}

#[tokio::test]
async fn the_core_flow_works_with_javascript_off_in_chromium() {
    let Some(browser) = Browser::start_with(Options {
        javascript: false,
        ..Options::default()
    })
    .await
    else {
        return;
    };
    let app = spawn_with(Backend::Sqlite, |_| {}).await;
    let c = &browser.client;
    log_in(&browser, &app, "admin", "admin-password").await;
    c.goto(&app.url("/")).await.expect("open");
    let home = c.source().await.expect("source");
    assert!(home.contains("<html lang=\"en\">"));
    fill(c, "#url", "https://example.com/no-script").await;
    click(c, "details > summary").await;
    fill(c, "#alias", "noscript").await;
    click(c, "form[action='/ui/shorten'] button[type=submit]").await;
    wait_for_text(c, "id=\"short-url\"").await;
    // No script: the copy button stays hidden, the URL is in a field.
    let copy_shown = c
        .find(Locator::Css("button[data-copy=short-url]"))
        .await
        .expect("copy button")
        .is_displayed()
        .await
        .expect("displayed");
    assert!(!copy_shown, "no copy button without script");
    browser.screenshot("ui-nojs-shortened").await;

    c.goto(&app.url("/ui/links")).await.expect("list");
    wait_for_text(c, "/ui/links/noscript").await;
    c.goto(&app.url("/ui/links/noscript")).await.expect("link");
    fill(c, "#url", "https://example.com/changed").await;
    click(c, "form[action='/ui/links/noscript'] button[type=submit]").await;
    wait_for_text(c, "class=\"notice\"").await;
    assert_eq!(
        app.link("noscript").await["url"],
        "https://example.com/changed"
    );

    // Delete: without script the button leads to a confirmation page.
    click(
        c,
        "form[action='/ui/links/noscript/delete'] button[type=submit]",
    )
    .await;
    wait_for_text(c, "/ui/links/noscript/delete").await;
    browser.screenshot("ui-nojs-delete-confirm").await;
    click(
        c,
        "main form[action='/ui/links/noscript/delete'] button[type=submit]",
    )
    .await;
    wait_for_text(c, "class=\"notice\"").await;
    let r = app.follow("noscript").await;
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
    let _ = browser.client.clone().close().await;
}

#[tokio::test]
async fn every_page_fits_a_360_pixel_screen_in_chromium() {
    let Some(browser) = Browser::start_with(Options {
        width: 360,
        height: 780,
        ..Options::default()
    })
    .await
    else {
        return;
    };
    let app = spawn_with(Backend::Sqlite, |_| {}).await;
    let c = &browser.client;
    app.create_link(json!({
        "url": "https://example.com/a/rather/long/path/that/does/not/fit/on/a/phone?with=query&and=more",
        "alias": "phone", "title": "A link seen on a phone", "tags": ["mobile", "docs"]
    }))
    .await;
    log_in(&browser, &app, "admin", "admin-password").await;
    for (name, path) in [
        ("home", "/"),
        ("links", "/ui/links"),
        ("link", "/ui/links/phone"),
        ("stats", "/ui/links/phone/stats"),
        ("dashboard", "/ui/dashboard"),
        ("keys", "/ui/keys"),
        ("admin", "/admin"),
        ("preview", "/phone+"),
        ("not-found", "/no-such-page/at-all"),
    ] {
        c.goto(&app.url(path)).await.expect("open");
        let widths = c
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth]",
                vec![],
            )
            .await
            .expect("script");
        browser.screenshot(&format!("ui-360-{name}")).await;
        let (scroll, inner) = (widths[0].as_i64(), widths[1].as_i64());
        assert_eq!(inner, Some(360), "{path}: the viewport is a phone's");
        assert!(
            scroll <= inner,
            "{path}: the page scrolls sideways ({scroll:?} > {inner:?})"
        );
    }
    let _ = browser.client.clone().close().await;
}
