use std::time::Duration;

use kurz_core::account::Role;
use kurz_server::config::{AnalyticsConfig, Config, Switch};
use kurz_server::{accounts, startup};
use kurz_store::Database;
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;

pub(crate) const ADMIN: &str = "admin";

/// A running kurz with an admin and its key.
pub(crate) struct TestApp {
    pub(crate) base: String,
    pub(crate) client: Client,
    pub(crate) admin_key: String,
    /// A second handle on the same database, to set up users directly.
    pub(crate) db: Database,
    pub(crate) db_path: std::path::PathBuf,
    stop: Option<oneshot::Sender<()>>,
    _dir: TempDir,
}

pub(crate) fn test_config(dir: &TempDir) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        database: format!("sqlite://{}", dir.path().join("kurz.db").display()),
        rate_limits: Switch::Off,
        analytics: AnalyticsConfig {
            flush_interval_ms: 50,
        },
        ..Config::default()
    }
}

pub(crate) fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

pub(crate) async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

pub(crate) async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(&dir);
    adjust(&mut config);
    let db = startup::open_store(&config).await.expect("store");
    accounts::create_user(
        db.accounts.as_ref(),
        ADMIN,
        "admin-password".into(),
        Role::Admin,
    )
    .await
    .expect("admin");
    let admin_key = key_for(&db, ADMIN, false).await;

    let app = startup::build(config).await.expect("build");
    let addr = app.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        client: client(),
        admin_key,
        db,
        db_path: dir.path().join("kurz.db"),
        stop: Some(stop),
        _dir: dir,
    }
}

pub(crate) async fn key_for(db: &Database, username: &str, read_only: bool) -> String {
    let user = db
        .accounts
        .user_by_name(username)
        .await
        .expect("lookup")
        .expect("user exists");
    accounts::create_key(db.accounts.as_ref(), user.id, None, read_only)
        .await
        .expect("key")
        .1
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A new user with the `user` role, and a key of theirs.
    pub(crate) async fn user(&self, name: &str) -> String {
        accounts::create_user(
            self.db.accounts.as_ref(),
            name,
            "user-password".into(),
            Role::User,
        )
        .await
        .expect("user");
        key_for(&self.db, name, false).await
    }

    pub(crate) fn get(&self, path: &str, key: &str) -> RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(key)
    }

    pub(crate) fn post(&self, path: &str, key: &str, body: Value) -> RequestBuilder {
        self.client
            .post(self.url(path))
            .bearer_auth(key)
            .json(&body)
    }

    pub(crate) fn patch(&self, path: &str, key: &str, body: Value) -> RequestBuilder {
        self.client
            .patch(self.url(path))
            .bearer_auth(key)
            .json(&body)
    }

    pub(crate) fn delete(&self, path: &str, key: &str) -> RequestBuilder {
        self.client.delete(self.url(path)).bearer_auth(key)
    }

    /// Creates a link as the admin and returns its JSON; panics unless 201.
    pub(crate) async fn create_link(&self, body: Value) -> Value {
        let r = self
            .post("/api/v1/links", &self.admin_key, body)
            .send()
            .await
            .expect("send");
        expect_json(r, StatusCode::CREATED).await
    }

    pub(crate) async fn shorten(&self, url: &str) -> String {
        let link = self.create_link(json!({ "url": url })).await;
        link["slug"].as_str().expect("slug").to_owned()
    }

    pub(crate) async fn follow(&self, slug: &str) -> Response {
        self.client
            .get(self.url(&format!("/{slug}")))
            .send()
            .await
            .expect("send")
    }

    pub(crate) async fn link(&self, slug: &str) -> Value {
        let r = self
            .get(&format!("/api/v1/links/{slug}"), &self.admin_key)
            .send()
            .await
            .expect("send");
        expect_json(r, StatusCode::OK).await
    }

    /// Waits until the click worker has written `n` visits of `slug`.
    pub(crate) async fn wait_for_visits(&self, slug: &str, n: i64) -> Value {
        for _ in 0..100 {
            let link = self.link(slug).await;
            if link["visits"].as_i64() == Some(n) {
                return link;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let link = self.link(slug).await;
        panic!("visits never reached {n}: {link}");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Asserts the status and returns the JSON body.
#[track_caller]
pub(crate) fn expect_json(
    r: Response,
    status: StatusCode,
) -> impl std::future::Future<Output = Value> {
    let got = r.status();
    assert_eq!(got, status, "unexpected status for {}", r.url());
    async move { r.json::<Value>().await.expect("a JSON body") }
}

/// Asserts an error answer: status, five-digit code and, when given, field.
pub(crate) async fn expect_error(r: Response, status: StatusCode, code: u64, field: Option<&str>) {
    let url = r.url().clone();
    assert_eq!(r.status(), status, "status for {url}");
    assert!(
        r.headers().contains_key("x-trace-id"),
        "x-trace-id on {url}"
    );
    let body: Value = r.json().await.expect("a JSON error body");
    assert_eq!(
        body["error"]["code"].as_u64(),
        Some(code),
        "code for {url}: {body}"
    );
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    assert_eq!(
        body["error"]["field"].as_str(),
        field,
        "field for {url}: {body}"
    );
}
