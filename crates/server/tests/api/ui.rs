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

#[tokio::test]
async fn logging_in_sets_a_session_cookie_that_logging_out_ends() {
    let app = spawn_app(Backend::Sqlite).await;
    let ui = UiClient::new(&app);
    let r = ui.login("admin", "admin-password").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("kurz_session="))
        .expect("a session cookie")
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Max-Age="), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http here: {cookie}");
    let (_, home) = ui.page("/").await;
    assert!(home.contains("Signed in as admin"), "{home}");
    assert!(home.contains("action=\"/ui/shorten\""));

    // The same cookie in another client is the same session; logging out
    // ends it there too (it lives in the store, not in the cookie).
    let token = cookie
        .trim_start_matches("kurz_session=")
        .split(';')
        .next()
        .expect("value")
        .to_owned();
    let other = crate::helpers::client();
    let signed_in = |c: reqwest::Client| {
        let url = app.url("/");
        let token = token.clone();
        async move {
            c.get(url)
                .header("cookie", format!("kurz_session={token}"))
                .send()
                .await
                .expect("GET")
                .text()
                .await
                .expect("body")
                .contains("Signed in as admin")
        }
    };
    assert!(signed_in(other.clone()).await);
    let r = ui.submit("/", "/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(!signed_in(other).await, "the session ended in the store");
    let (_, home) = ui.page("/").await;
    assert!(!home.contains("Signed in as"));
}

#[tokio::test]
async fn a_wrong_password_or_an_unknown_user_is_one_answer() {
    let app = spawn_app(Backend::Sqlite).await;
    let ui = UiClient::new(&app);
    for (user, password) in [("admin", "wrong-password"), ("nobody", "admin-password")] {
        let r = ui.login(user, password).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let body = r.text().await.expect("body");
        assert!(body.contains("Wrong user name or password."), "{body}");
    }
    // Where to go after logging in stays on this site.
    let token = ui.csrf("/login").await;
    let r = ui
        .post_form(
            "/login",
            &[
                ("csrf", token.as_str()),
                ("username", "admin"),
                ("password", "admin-password"),
                ("next", "//evil.example/x"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/");
}

#[tokio::test]
async fn logins_are_throttled_per_user_name() {
    let app = crate::helpers::spawn_with(Backend::Sqlite, |c| {
        c.rate_limits = kurz_server::config::Switch::On;
        c.limits.login_attempts_per_minute = 3;
        c.limits.login_attempts_per_client_per_minute = 100;
    })
    .await;
    let ui = UiClient::new(&app);
    for _ in 0..3 {
        assert_eq!(
            ui.login("admin", "wrong-password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let r = ui.login("admin", "admin-password").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.text().await.expect("body").contains("42901"));
    // Another name is another budget.
    app.user("bob").await;
    assert_eq!(
        ui.login("bob", "user-password").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_disabled_user_s_session_ends_at_once() {
    let app = spawn_app(Backend::Sqlite).await;
    app.user("carol").await;
    let carol = UiClient::logged_in(&app, "carol", "user-password").await;
    let (_, home) = carol.page("/").await;
    assert!(home.contains("Signed in as carol"));
    let user = app
        .accounts
        .user_by_name("carol")
        .await
        .expect("lookup")
        .expect("carol");
    app.accounts
        .set_disabled(&kurz_core::account::Principal::operator(), user.id, true)
        .await
        .expect("disable");
    let (_, home) = carol.page("/").await;
    assert!(!home.contains("Signed in as carol"));
    assert_eq!(
        carol.login("carol", "user-password").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn shortening_from_the_home_page_shows_the_link_and_its_qr_code() {
    let app = spawn_app(Backend::Sqlite).await;
    let ui = UiClient::logged_in(&app, "admin", "admin-password").await;
    let r = ui
        .submit(
            "/",
            "/ui/shorten",
            &[
                ("url", "https://example.com/from-the-ui"),
                ("alias", "from-ui"),
                ("title", "<script>alert(1)</script>"),
                ("tags", "docs, ui"),
                ("max_visits", "5"),
                ("redirect_status", "307"),
                ("forward_query", "on"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("body");
    let short = app.url("/from-ui");
    assert!(page.contains(&format!("value=\"{short}\"")), "{page}");
    assert!(page.contains("src=\"data:image/svg+xml;base64,"));
    let link = app.link("from-ui").await;
    assert_eq!(link["url"], "https://example.com/from-the-ui");
    assert_eq!(link["title"], "<script>alert(1)</script>");
    assert_eq!(link["tags"], serde_json::json!(["docs", "ui"]));
    assert_eq!(link["max_visits"], 5);
    assert_eq!(link["redirect_status"], 307);
    assert_eq!(link["forward_query"], true);
    assert_eq!(link["owner"], "admin");

    // A refusal comes back as the form, with the values and the reason.
    let r = ui
        .submit(
            "/",
            "/ui/shorten",
            &[("url", "javascript:alert(1)"), ("alias", "\"><img src=x>")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.expect("body");
    assert!(
        page.contains("Only http and https URLs can be shortened."),
        "{page}"
    );
    assert!(page.contains("value=\"javascript:alert(1)\""));
    assert!(!page.contains("\"><img src=x>"), "the alias is escaped");
}

#[tokio::test]
async fn anonymous_visitors_shorten_only_when_allowed() {
    let app = spawn_app(Backend::Sqlite).await;
    let ui = UiClient::new(&app);
    let (_, home) = ui.page("/").await;
    assert!(!home.contains("action=\"/ui/shorten\""));
    let r = ui
        .submit("/login", "/ui/shorten", &[("url", "https://example.com/")])
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let open =
        crate::helpers::spawn_with(Backend::Sqlite, |c| c.links.allow_anonymous = true).await;
    let ui = UiClient::new(&open);
    let r = ui
        .submit("/", "/ui/shorten", &[("url", "https://example.com/anon")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("Your short link is ready"));
}

/// A visitor behind a trusted proxy, at `ip`.
fn client_at(app: &crate::helpers::TestApp, ip: &str) -> UiClient {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", ip.parse().expect("header"));
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    UiClient {
        client,
        base: app.url(""),
    }
}

#[tokio::test]
async fn one_address_cannot_lock_a_user_out() {
    let app = crate::helpers::spawn_with(Backend::Sqlite, |c| {
        c.rate_limits = kurz_server::config::Switch::On;
        c.trusted_proxies = vec!["127.0.0.1/32".into()];
        c.limits.login_attempts_per_minute = 3;
        c.limits.login_attempts_per_client_per_minute = 5;
    })
    .await;
    app.user("carol").await;
    let attacker = client_at(&app, "203.0.113.99");
    let mut refused = 0;
    for _ in 0..12 {
        let status = attacker.login("carol", "guess-guess").await.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert_eq!(
        refused,
        12 - 3,
        "3 guesses a minute at carol from one address"
    );
    // Carol, from her own address, logs in: the attacker spent its own
    // budgets, not hers.
    let carol = client_at(&app, "198.51.100.2");
    assert_eq!(
        carol.login("carol", "user-password").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn users_shortening_in_the_ui_do_not_share_a_budget() {
    let app = crate::helpers::spawn_with(Backend::Sqlite, |c| {
        c.rate_limits = kurz_server::config::Switch::On;
        c.trusted_proxies = vec!["127.0.0.1/32".into()];
        c.limits.create_per_minute = 2;
    })
    .await;
    app.user("bob").await;
    app.user("carol").await;
    let bob = client_at(&app, "10.0.0.1");
    assert_eq!(
        bob.login("bob", "user-password").await.status(),
        StatusCode::SEE_OTHER
    );
    let carol = client_at(&app, "10.0.0.2");
    assert_eq!(
        carol.login("carol", "user-password").await.status(),
        StatusCode::SEE_OTHER
    );
    async fn shorten(ui: &UiClient, n: usize) -> StatusCode {
        let url = format!("https://example.com/{n}");
        ui.submit("/", "/ui/shorten", &[("url", url.as_str())])
            .await
            .status()
    }
    assert_eq!(shorten(&bob, 1).await, StatusCode::OK);
    assert_eq!(shorten(&bob, 2).await, StatusCode::OK);
    assert_eq!(shorten(&bob, 3).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        shorten(&carol, 4).await,
        StatusCode::OK,
        "carol has her own budget"
    );
}

#[tokio::test]
async fn pages_and_their_files_are_compressed_for_browsers_that_ask() {
    let app = spawn_app(Backend::Sqlite).await;
    let ui = UiClient::new(&app);
    let (_, home) = ui.page("/").await;
    let at = home.find("/static/app.").expect("a stylesheet link");
    let end = at + home[at..].find('"').expect("end of the name");
    for path in ["/login", &home[at..end]] {
        let r = ui
            .client
            .get(app.url(path))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-encoding"], "gzip", "{path}");
    }
    // A redirect is never touched.
    let slug = app.shorten("https://example.com/").await;
    let r = ui
        .client
        .get(app.url(&format!("/{slug}")))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(r.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn a_form_over_64_kib_is_refused_before_it_is_read() {
    let app = spawn_app(Backend::Sqlite).await;
    let ui = UiClient::logged_in(&app, "admin", "admin-password").await;
    let long = "a".repeat(64 * 1024);
    let r = ui
        .submit(
            "/",
            "/ui/shorten",
            &[("url", "https://example.com/"), ("title", &long)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.text().await.expect("body").contains("41301"));
    // Just under the bound, the form is read (and its title refused by the
    // core's own length rule, not by the size of the body).
    let r = ui
        .submit(
            "/",
            "/ui/shorten",
            &[
                ("url", "https://example.com/"),
                ("title", &long[..60 * 1024]),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn ui_pages_take_the_api_budget_of_their_client() {
    let app = crate::helpers::spawn_with(Backend::Sqlite, |c| {
        c.rate_limits = kurz_server::config::Switch::On;
        c.limits.api_per_minute = 3;
    })
    .await;
    let ui = UiClient::new(&app);
    let (status, page) = ui.page("/login").await;
    assert_eq!(status, StatusCode::OK);
    let at = page.find("/static/app.").expect("a stylesheet link");
    let css = &page[at..at + page[at..].find('"').expect("end of the name")];
    for _ in 0..2 {
        assert_eq!(ui.get("/login").await.status(), StatusCode::OK);
    }
    let r = ui.get("/login").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    // A page's own files are not counted.
    assert_eq!(ui.get(css).await.status(), StatusCode::OK);
}
