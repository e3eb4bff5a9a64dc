//! The web UI over HTTP: the frame, headers, languages, form tokens and
//! logging in. Pages of each area have their own files (`ui_*.rs`); the
//! real browser drives them in `browser`.

use reqwest::StatusCode;

use crate::helpers::{spawn_app, Backend};
use crate::ui_client::{location, UiClient};

#[tokio::test]
async fn every_page_gets_the_security_headers() {
    let app = spawn_app(Backend::Sqlite).await;
    let ui = UiClient::new(&app);
    for path in ["/", "/login", "/no-such-slug", "/ui/links"] {
        let r = ui.get(path).await;
        if r.status().is_redirection() {
            continue;
        }
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().expect("ascii");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(
            h["referrer-policy"], "strict-origin-when-cross-origin",
            "{path}"
        );
        assert_eq!(h["cache-control"], "no-store", "{path}");
    }
}

#[tokio::test]
async fn static_files_are_named_by_content_and_kept_for_a_year() {
    let app = spawn_app(Backend::Sqlite).await;
    let ui = UiClient::new(&app);
    let (_, home) = ui.page("/").await;
    let at = home.find("/static/app.").expect("a stylesheet link");
    let end = at + home[at..].find('"').expect("end of the name");
    let css = &home[at..end];
    assert!(css.ends_with(".css"));
    let r = ui.get(css).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/css"));
    assert_eq!(
        ui.get("/static/app.0000000000000000.css").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_language_follows_the_browser_then_the_switch() {
    let app = spawn_app(Backend::Sqlite).await;
    let ui = UiClient::new(&app);
    let zh = ui
        .client
        .get(app.url("/login"))
        .header("accept-language", "zh-CN,zh;q=0.9,en;q=0.5")
        .send()
        .await
        .expect("GET");
    assert_eq!(zh.headers()["content-language"], "zh-CN");
    let body = zh.text().await.expect("body");
    assert!(body.contains("<html lang=\"zh-CN\">"));
    assert!(body.contains("用户名"), "the login form in Chinese");

    // The switch is remembered, over the browser's preference.
    let r = ui.get("/ui/lang?to=zh-CN&back=/login").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
    let (_, body) = ui.page("/login").await;
    assert!(body.contains("用户名"));
    let r = ui.get("/ui/lang?to=en&back=//evil.example/").await;
    assert_eq!(location(&r), "/", "never back to another site");
    let (_, body) = ui.page("/login").await;
    assert!(body.contains("User name"));
}

#[tokio::test]
async fn a_form_without_its_token_is_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    let ui = UiClient::new(&app);
    let _ = ui.page("/login").await;
    for token in ["", "0000000000000000000000000000000000000000"] {
        let r = ui
            .post_form(
                "/login",
                &[
                    ("csrf", token),
                    ("username", "admin"),
                    ("password", "admin-password"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r
            .headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap_or_default().starts_with("kurz_session")));
        let body = r.text().await.expect("body");
        assert!(body.contains("40302"), "{body}");
    }
}
