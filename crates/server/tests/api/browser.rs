//! Pages in a real browser: headless Chromium driven over WebDriver
//! (chromedriver). Runs when `KURZ_TEST_CHROMEDRIVER` names a chromedriver
//! binary (`.ci/run` installs Debian's `chromium` and `chromium-driver` and
//! sets it); fails, not skips, when it is set and the browser does not
//! start. Screenshots go to `target/ui-screenshots/`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

use crate::helpers::{spawn_with, Backend};

/// How a browser is started.
#[derive(Clone, Copy)]
pub(crate) struct Options {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) javascript: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            width: 1280,
            height: 900,
            javascript: true,
        }
    }
}

/// A chromedriver and a Chromium session; both go away on drop.
pub(crate) struct Browser {
    pub(crate) client: Client,
    _driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// `None` (with a note) when no chromedriver is configured.
    pub(crate) async fn start() -> Option<Self> {
        Self::start_with(Options::default()).await
    }

    pub(crate) async fn start_with(options: Options) -> Option<Self> {
        let Some(driver) = std::env::var("KURZ_TEST_CHROMEDRIVER")
            .ok()
            .filter(|v| !v.is_empty())
        else {
            // Past the harness's capture: a pass without a browser is no
            // browser coverage.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "note: the browser tests did not run: set KURZ_TEST_CHROMEDRIVER to a chromedriver"
            );
            return None;
        };
        let chromium =
            std::env::var("KURZ_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("KURZ_TEST_CHROMEDRIVER={driver} does not start: {e}"));
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        // As root in a container: no sandbox; no background traffic to a
        // network that is not there.
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--window-size={},{}", options.width, options.height),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "profile.managed_default_content_settings.javascript":
                        if options.javascript { 1 } else { 2 },
                },
            },
        });
        let mut capabilities = capabilities;
        if options.width < 600 {
            // A phone: its viewport, whatever the smallest window is.
            capabilities["goog:chromeOptions"]["mobileEmulation"] = json!({
                "deviceMetrics": {"width": options.width, "height": options.height, "pixelRatio": 1.0}
            });
        }
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Some(Self {
            client,
            _driver: child,
            _profile: profile,
        })
    }

    /// Waits until the page's URL is `url`.
    pub(crate) async fn wait_for_url(&self, url: &str, deadline: Duration) -> String {
        let started = Instant::now();
        loop {
            let now = self.client.current_url().await.expect("url").to_string();
            if now == url || started.elapsed() > deadline {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn screenshot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }
}

/// A page on another origin for links to land on.
pub(crate) async fn landing_page() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let body = "<!doctype html><title>landed</title><h1 id=\"landed\">Landed</h1>";
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    // `localhost`, not 127.0.0.1: another origin than kurz's, and not
    // kurz's own host (which a target may not be).
    format!("http://localhost:{port}/landed")
}

#[tokio::test]
async fn the_right_password_lands_on_the_target_in_chromium() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_with(Backend::Sqlite, |c| {
        c.links.allow_private_targets = true;
    })
    .await;
    let target = landing_page().await;
    let link = app
        .create_link(json!({"url": target, "password": "open sesame", "max_visits": 1}))
        .await;
    let slug = link["slug"].as_str().expect("slug");

    browser
        .client
        .goto(&app.url(&format!("/{slug}")))
        .await
        .expect("open");
    browser.screenshot("password-form").await;
    browser
        .client
        .find(Locator::Css("input[name=password]"))
        .await
        .expect("a password field")
        .send_keys("open sesame")
        .await
        .expect("type");
    browser
        .client
        .find(Locator::Css("button[type=submit]"))
        .await
        .expect("a submit button")
        .click()
        .await
        .expect("submit");
    let landed = browser.wait_for_url(&target, Duration::from_secs(10)).await;
    browser.screenshot("password-landed").await;
    assert_eq!(
        landed, target,
        "the form's 303 must be followed (CSP form-action)"
    );
    browser
        .client
        .find(Locator::Id("landed"))
        .await
        .expect("the target page");
    app.wait_for_visits(slug, 1).await;
    let _ = browser.client.close().await;
}

#[tokio::test]
async fn a_report_sent_from_the_preview_page_disables_the_link_for_abuse_in_chromium() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_with(Backend::Sqlite, |_| {}).await;
    let slug = app.shorten("https://bank.example.net/login").await;
    let c = &browser.client;
    c.goto(&app.url(&format!("/{slug}+"))).await.expect("open");
    c.find(Locator::Css("select[name=reason] option[value=phishing]"))
        .await
        .expect("a phishing option")
        .click()
        .await
        .expect("choose");
    c.find(Locator::Css("textarea[name=details]"))
        .await
        .expect("a details field")
        .send_keys("It asks for my bank PIN <b>now</b>")
        .await
        .expect("type");
    browser.screenshot("report-form").await;
    c.find(Locator::Css("section button[type=submit]"))
        .await
        .expect("a submit button")
        .click()
        .await
        .expect("submit");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !c.source().await.expect("source").contains("Thank you") {
        assert!(Instant::now() < deadline, "no thank-you page");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.screenshot("report-thanks").await;

    let r = app
        .get("/api/v1/reports", &app.admin_key)
        .send()
        .await
        .expect("send");
    let listed: serde_json::Value = r.json().await.expect("json");
    let report = &listed["items"][0];
    assert_eq!(report["reason"], "phishing");
    assert_eq!(report["details"], "It asks for my bank PIN <b>now</b>");
    let id = report["id"].as_i64().expect("id");
    let r = app
        .post(
            &format!("/api/v1/reports/{id}/resolve"),
            &app.admin_key,
            json!({"action": "disable"}),
        )
        .send()
        .await
        .expect("send");
    assert!(r.status().is_success());
    c.goto(&app.url(&format!("/{slug}"))).await.expect("open");
    let text = c
        .find(Locator::Css("body"))
        .await
        .expect("body")
        .text()
        .await
        .expect("text");
    browser.screenshot("abuse-410").await;
    assert!(text.contains("This link has been disabled"), "{text}");
    assert!(text.contains("disabled for abuse"), "{text}");
    let _ = browser.client.close().await;
}
