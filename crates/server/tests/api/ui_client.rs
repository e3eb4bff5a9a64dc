//! A browser without a browser, for tests of the web UI over HTTP: it
//! keeps cookies, reads the form token out of a page and posts forms.
//! (The tests in `browser` drive a real Chromium.)

use reqwest::{Client, Response, StatusCode};

use crate::helpers::{TestApp, BROWSER_UA};

pub(crate) struct UiClient {
    pub(crate) client: Client,
    pub(crate) base: String,
}

impl UiClient {
    /// A fresh visitor of `app`, with no cookie yet.
    pub(crate) fn new(app: &TestApp) -> Self {
        let client = Client::builder()
            .user_agent(BROWSER_UA)
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("client");
        Self {
            client,
            base: app.url(""),
        }
    }

    /// A visitor logged in as `username` with `password`.
    pub(crate) async fn logged_in(app: &TestApp, username: &str, password: &str) -> Self {
        let ui = Self::new(app);
        let r = ui.login(username, password).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "login of {username}");
        ui
    }

    /// Posts the login form (with the token of a fresh login page).
    pub(crate) async fn login(&self, username: &str, password: &str) -> Response {
        let token = self.csrf("/login").await;
        self.post_form(
            "/login",
            &[
                ("csrf", token.as_str()),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    /// GET a page: its status and body.
    pub(crate) async fn page(&self, path: &str) -> (StatusCode, String) {
        let r = self.get(path).await;
        let status = r.status();
        (status, r.text().await.expect("body"))
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("accept", "text/html")
            .send()
            .await
            .expect("GET")
    }

    /// The form token of the page at `path`.
    pub(crate) async fn csrf(&self, path: &str) -> String {
        let (status, body) = self.page(path).await;
        assert!(status.is_success(), "{path}: {status}");
        form_token(&body).unwrap_or_else(|| panic!("{path} has no form token"))
    }

    pub(crate) async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("accept", "text/html")
            .form(fields)
            .send()
            .await
            .expect("POST")
    }

    /// Posts `fields` to `path` with the form token of the page at `from`.
    pub(crate) async fn submit(&self, from: &str, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf(from).await;
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_form(path, &all).await
    }
}

/// The value of the first `name="csrf"` input of a page.
pub(crate) fn form_token(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")?;
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// `Location` of a redirect.
pub(crate) fn location(r: &Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
