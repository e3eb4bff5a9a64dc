use std::sync::Arc;
use std::time::Duration;

use kurz_core::account::Role;
use kurz_core::clock::ManualClock;
use kurz_core::service::AccountService;
use kurz_server::config::{AnalyticsConfig, Config, Switch};
use kurz_server::startup;
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
    pub(crate) accounts: Arc<AccountService>,
    pub(crate) db_url: String,
    /// The app's clock; tests move it instead of sleeping.
    pub(crate) clock: Arc<ManualClock>,
    stop: Option<oneshot::Sender<()>>,
    running: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub(crate) config: Config,
    dir: Option<TempDir>,
}

/// The backends the suite runs against. SQLite always; MariaDB/MySQL and
/// PostgreSQL when `KURZ_TEST_MYSQL_URL` / `KURZ_TEST_POSTGRES_URL` name a
/// server (`.ci/run` sets both). A test whose URL is set but whose server
/// does not answer fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    MySql,
    Postgres,
}

impl Backend {
    fn env(self) -> Option<&'static str> {
        match self {
            Self::Sqlite => None,
            Self::MySql => Some("KURZ_TEST_MYSQL_URL"),
            Self::Postgres => Some("KURZ_TEST_POSTGRES_URL"),
        }
    }

    /// The server URL from the environment; `None` when the variable is unset.
    pub(crate) fn server_url(self) -> Option<String> {
        self.env()
            .and_then(|var| std::env::var(var).ok())
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn enabled(self) -> bool {
        self == Self::Sqlite || self.server_url().is_some()
    }

    fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::MySql => "MariaDB/MySQL",
            Self::Postgres => "PostgreSQL",
        }
    }

    /// A new, empty database of this backend and its URL.
    pub(crate) async fn fresh_database(self, dir: &TempDir) -> String {
        use sqlx::Connection;
        let name = format!("kurz_t_{:016x}", rand::random::<u64>());
        match self {
            Self::Sqlite => format!(
                "sqlite://{}",
                dir.path().join(format!("{name}.db")).display()
            ),
            Self::MySql => {
                let server = self.server_url().expect("KURZ_TEST_MYSQL_URL");
                let mut conn = sqlx::MySqlConnection::connect(&server)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("KURZ_TEST_MYSQL_URL is set but {server} does not answer: {e}")
                    });
                sqlx::query(&format!("create database {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create database");
                with_database(&server, &name)
            }
            Self::Postgres => {
                let server = self.server_url().expect("KURZ_TEST_POSTGRES_URL");
                let mut conn = sqlx::PgConnection::connect(&server)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("KURZ_TEST_POSTGRES_URL is set but {server} does not answer: {e}")
                    });
                sqlx::query(&format!("create database {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create database");
                with_database(&server, &name)
            }
        }
    }
}

/// `url` with its path (the database name) replaced.
pub(crate) fn with_database(url: &str, name: &str) -> String {
    let mut u = url::Url::parse(url).expect("a server URL");
    u.set_path(&format!("/{name}"));
    u.to_string()
}

/// Says, past the test harness's capture, how many tests of `module` did
/// not run for want of a server URL: a passing run without the servers is
/// not coverage of them, and the count should not read as if it were.
pub(crate) fn note_backends_not_run(module: &str, tests: usize) {
    use std::io::Write;
    for backend in [Backend::MySql, Backend::Postgres] {
        if !backend.enabled() {
            let _ = writeln!(
                std::io::stderr(),
                "note: {tests} {} tests of {module} did not run: set {}",
                backend.label(),
                backend.env().unwrap_or_default()
            );
        }
    }
}

/// One test module per backend: `mod $module { fn name() }` for each name,
/// calling `super::name(Backend::$backend)`; a backend whose server URL is
/// not set passes without running (counted by `note_backends_not_run`).
macro_rules! backend_mod {
    ($module:ident, $backend:ident, $($name:ident),*) => {
        mod $module {
            $(#[tokio::test] async fn $name() {
                let b = crate::helpers::Backend::$backend;
                if b.enabled() {
                    super::$name(b).await
                }
            })*
        }
    };
}

/// Runs each named `async fn name(backend: Backend)` against the database
/// servers: as `mysql::name` and `postgres::name`.
macro_rules! server_tests {
    ($($name:ident),* $(,)?) => {
        backend_mod!(mysql, MySql, $($name),*);
        backend_mod!(postgres, Postgres, $($name),*);
        #[test]
        fn backend_tests_not_run_here() {
            crate::helpers::note_backends_not_run(
                module_path!(),
                [$(stringify!($name)),*].len(),
            );
        }
    };
}

/// Runs each named `async fn name(backend: Backend)` once per backend:
/// `sqlite::name`, `mysql::name` and `postgres::name`.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        backend_mod!(sqlite, Sqlite, $($name),*);
        server_tests!($($name),*);
    };
}

/// Another node on the database of `url`, with its own pool and ID blocks.
pub(crate) async fn spawn_node(url: &str, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config(url.to_owned());
    adjust(&mut config);
    spawn_on(config, tempfile::tempdir().expect("tempdir")).await
}

pub(crate) fn test_config(database: String) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        database,
        rate_limits: Switch::Off,
        analytics: AnalyticsConfig {
            flush_interval_ms: 50,
            ..Config::default().analytics
        },
        ..Config::default()
    }
}

/// What the test client says it is: a browser, so its clicks count as a
/// person's (tests of bots set their own).
pub(crate) const BROWSER_UA: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";

pub(crate) fn client() -> Client {
    Client::builder()
        .user_agent(BROWSER_UA)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

pub(crate) async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(backend, |_| {}).await
}

pub(crate) async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(backend.fresh_database(&dir).await);
    adjust(&mut config);
    spawn_on(config, dir).await
}

/// Starts an app on a configured (existing) database, with an admin.
pub(crate) async fn spawn_on(config: Config, dir: TempDir) -> TestApp {
    let clock = Arc::new(ManualClock::starting_now());
    let db = startup::open_store(&config, clock.clone())
        .await
        .expect("store");
    // Setting up users needs no cache.
    let mut setup = config.clone();
    setup.redis = None;
    setup.cache.l1_max_entries = 0;
    let caches = startup::caches(&setup, &db).expect("caches");
    let accounts = startup::services(&setup, &db, &caches, clock.clone(), "http://unused").accounts;
    // A second node, or a database filled by an import, has its admin already.
    if accounts
        .user_by_name(ADMIN)
        .await
        .expect("lookup")
        .is_none()
    {
        accounts
            .create_user(ADMIN, "admin-password".into(), Role::Admin)
            .await
            .expect("admin");
    }
    let admin_key = key_for(&accounts, ADMIN, false).await;

    let config_url = config.database.clone();
    let kept = config.clone();
    let app = startup::build_with_clock(config, clock.clone())
        .await
        .expect("build");
    let addr = app.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        client: client(),
        admin_key,
        db_url: config_url,
        db,
        accounts,
        clock,
        stop: Some(stop),
        running: Some(running),
        config: kept,
        dir: Some(dir),
    }
}

pub(crate) async fn key_for(accounts: &AccountService, username: &str, read_only: bool) -> String {
    let user = accounts
        .user_by_name(username)
        .await
        .expect("lookup")
        .expect("user exists");
    kurz_server::accounts::create_key(accounts, user.id, None, read_only)
        .await
        .expect("key")
        .1
}

impl TestApp {
    /// Stops as SIGTERM does (finish requests, flush clicks) and waits
    /// until the app has exited.
    pub(crate) async fn stop_gracefully(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(running) = self.running.take() {
            running.await.expect("the app task").expect("a clean exit");
        }
    }

    /// Stops gracefully and starts again on the same database, with the
    /// same configuration and clock time.
    pub(crate) async fn restart(mut self) -> Self {
        let dir = self.dir.take().expect("a data folder");
        let config = self.config.clone();
        let at = kurz_core::clock::Clock::now(&*self.clock);
        self.stop_gracefully().await;
        let app = spawn_on(config, dir).await;
        app.clock.set(at);
        app
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A new user with the `user` role, and a key of theirs.
    pub(crate) async fn user(&self, name: &str) -> String {
        self.accounts
            .create_user(name, "user-password".into(), Role::User)
            .await
            .expect("user");
        key_for(&self.accounts, name, false).await
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

    /// Submits a protected link's password form.
    pub(crate) async fn unlock(&self, slug: &str, password: &str) -> Response {
        self.client
            .post(self.url(&format!("/{slug}")))
            .form(&[("password", password)])
            .send()
            .await
            .expect("send")
    }

    /// Submits the password form as a browser does (`Accept: text/html`).
    pub(crate) async fn unlock_as_page(&self, slug: &str, password: &str) -> Response {
        self.client
            .post(self.url(&format!("/{slug}")))
            .header("accept", "text/html")
            .form(&[("password", password)])
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

    /// One page of `GET /api/v1/links?{query}` as `key` sees it; panics unless 200.
    pub(crate) async fn list_as(&self, key: &str, query: &str) -> Value {
        let r = self
            .get(&format!("/api/v1/links?{query}"), key)
            .send()
            .await
            .expect("send");
        expect_json(r, StatusCode::OK).await
    }

    /// `/robots.txt` as a crawler reads it.
    pub(crate) async fn robots_txt(&self) -> String {
        let r = self
            .client
            .get(self.url("/robots.txt"))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK);
        r.text().await.expect("text")
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

    /// A connection of its own holding the SQLite file's write lock (an
    /// exclusive transaction) until it rolls back or is dropped.
    pub(crate) async fn lock_sqlite_file(&self) -> sqlx::SqliteConnection {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&self.db_url)
            .await
            .expect("connect");
        sqlx::query("begin exclusive")
            .execute(&mut conn)
            .await
            .expect("lock");
        conn
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
