//! The two-level cache with real parts: `kurz serve` processes sharing a
//! MariaDB or PostgreSQL and a Redis. Changes on one node reach the other's
//! cache within a second; Redis that dies, hangs or comes back never fails
//! a redirect; with the database away, cached links still redirect.
//!
//! Runs when `KURZ_TEST_REDIS_URL` names a Redis (`.ci/run` sets it); each
//! test uses its own key prefix there, or its own `redis-server` on a free
//! port when it needs to kill one.

use std::io::{Read, Write};
use std::net::TcpStream as StdStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::cli::{add_admin, free_port, KURZ};
use crate::faults::{server_addr, wait_until, Proxy};
use crate::helpers::{client, expect_error, Backend};

/// The shared Redis of the test run; `None` (with a note) when unset.
pub(crate) fn redis_url() -> Option<String> {
    let url = std::env::var("KURZ_TEST_REDIS_URL")
        .ok()
        .filter(|v| !v.is_empty());
    match &url {
        Some(url) => assert!(
            ping(url),
            "KURZ_TEST_REDIS_URL is set but {url} does not answer PING"
        ),
        None => {
            let _ = writeln!(
                std::io::stderr(),
                "note: a Redis cache test did not run: set KURZ_TEST_REDIS_URL"
            );
        }
    }
    url
}

/// `PING` over a raw socket: true on `+PONG`.
fn ping(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    let addr = format!(
        "{}:{}",
        u.host_str().unwrap_or("127.0.0.1"),
        u.port().unwrap_or(6379)
    );
    let Ok(mut s) = StdStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// A key prefix of one test's own.
pub(crate) fn prefix() -> String {
    format!("kurz_t_{:016x}:", rand::random::<u64>())
}

/// A `kurz serve` process.
pub(crate) struct Node {
    child: Child,
    base: String,
}

impl Node {
    pub(crate) async fn start(db: &str, redis: Option<&str>, prefix: &str) -> Self {
        Self::start_with(db, redis, prefix, &[]).await
    }

    /// With `env` on top (`KURZ_CACHE__L1_MAX_ENTRIES=0` and the like).
    pub(crate) async fn start_with(
        db: &str,
        redis: Option<&str>,
        prefix: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let port = free_port();
        let mut cmd = Command::new(KURZ);
        cmd.env_remove("KURZ_CONFIG")
            .env("RUST_LOG", "warn")
            .env("KURZ_CACHE__REDIS_PREFIX", prefix)
            .env("KURZ_POOL__ACQUIRE_TIMEOUT_MS", "1000")
            .env("KURZ_POOL__QUERY_TIMEOUT_MS", "2000")
            .args(["--database", db, "serve", "--rate-limits", "off"])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .envs(env.iter().copied());
        if let Some(redis) = redis {
            cmd.args(["--redis", redis]);
        }
        let child = cmd.spawn().expect("spawn kurz");
        let node = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let c = client();
        for _ in 0..100 {
            if let Ok(r) = c.get(node.url("/readyz")).send().await {
                if r.status() == StatusCode::OK {
                    return node;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("kurz did not become ready");
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn follow(&self, c: &Client, slug: &str) -> reqwest::Response {
        c.get(self.url(&format!("/{slug}")))
            .send()
            .await
            .expect("send")
    }

    pub(crate) async fn create(&self, c: &Client, key: &str, body: Value) -> String {
        let r = c
            .post(self.url("/api/v1/links"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::CREATED);
        let link: Value = r.json().await.expect("json");
        link["slug"].as_str().expect("slug").to_owned()
    }

    /// One sample of `/metrics`.
    async fn metric(&self, c: &Client, series: &str) -> Option<f64> {
        let text = c
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("text");
        crate::operating::sample(&text, series)
    }

    /// `/readyz`'s body, once it has said 200: Redis down never makes a
    /// node unready (it still serves, from L1 and the store).
    async fn readyz(&self, c: &Client) -> Value {
        let r = c.get(self.url("/readyz")).send().await.expect("send");
        assert_eq!(r.status(), StatusCode::OK, "ready whatever Redis does");
        r.json().await.expect("json")
    }

    /// Waits until `/readyz` says Redis is `state` (`up` or `down`): it
    /// follows the breaker, whose probe may be out at any one moment.
    async fn redis_becomes(&self, c: &Client, state: &str) {
        wait_until(
            &format!("Redis {state} on {}", self.base),
            Duration::from_secs(15),
            async || self.readyz(c).await["redis"] == state,
        )
        .await;
    }

    /// `kurz_cache_requests_total` of one level and result (0 before the
    /// first).
    async fn cache_count(&self, c: &Client, level: &str, result: &str) -> f64 {
        let series = format!(r#"kurz_cache_requests_total{{level="{level}",result="{result}"}}"#);
        self.metric(c, &series).await.unwrap_or(0.0)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `check` holds, polling every 25 ms, and says how long that
/// took.
pub(crate) async fn within(
    deadline: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < deadline, "{what} within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn location_is(node: &Node, c: &Client, slug: &str, want: &str) -> bool {
    node.follow(c, slug)
        .await
        .headers()
        .get("location")
        .is_some_and(|l| l == want)
}

async fn changes_on_one_node_reach_the_other_within_a_second(backend: Backend) {
    let Some(redis) = redis_url() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = backend.fresh_database(&dir).await;
    let key = add_admin(&db);
    let prefix = prefix();
    let (a, b) = (
        Node::start(&db, Some(&redis), &prefix).await,
        Node::start(&db, Some(&redis), &prefix).await,
    );
    let c = client();
    let slug = a
        .create(&c, &key, json!({"url": "https://example.com/old"}))
        .await;
    // The create's own invalidation (B deletes its entry again half a
    // second after the message) must be over, or it, not the PATCH's,
    // could be what takes the entry out of B's L1.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // B caches it (L1 and L2), and answers from its L1. (The scrape is
    // rendered at most four times a second.)
    let hits = b.cache_count(&c, "l1", "hit").await;
    within(
        Duration::from_secs(3),
        "B answering from its L1 before the change",
        async || {
            assert!(location_is(&b, &c, &slug, "https://example.com/old").await);
            b.cache_count(&c, "l1", "hit").await >= hits + 2.0
        },
    )
    .await;
    let patch = |body: Value| {
        c.patch(a.url(&format!("/api/v1/links/{slug}")))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    assert!(patch(json!({"url": "https://example.com/new"}))
        .await
        .expect("send")
        .status()
        .is_success());
    let took = within(Duration::from_secs(1), "the new target on B", async || {
        location_is(&b, &c, &slug, "https://example.com/new").await
    })
    .await;
    eprintln!("a PATCH on A reached B after {took:?}");
    assert!(patch(json!({"disabled": true}))
        .await
        .expect("send")
        .status()
        .is_success());
    within(Duration::from_secs(1), "410 on B", async || {
        b.follow(&c, &slug).await.status() == StatusCode::GONE
    })
    .await;
    assert!(patch(json!({"disabled": false}))
        .await
        .expect("send")
        .status()
        .is_success());
    within(
        Duration::from_secs(1),
        "a redirect on B again",
        async || b.follow(&c, &slug).await.status() == StatusCode::FOUND,
    )
    .await;
    let r = c
        .delete(a.url(&format!("/api/v1/links/{slug}")))
        .bearer_auth(&key)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    within(Duration::from_secs(1), "404 on B", async || {
        b.follow(&c, &slug).await.status() == StatusCode::NOT_FOUND
    })
    .await;
    // An alias B has cached as unknown works on B once A creates it.
    assert_eq!(
        b.follow(&c, "fresh-alias").await.status(),
        StatusCode::NOT_FOUND
    );
    a.create(
        &c,
        &key,
        json!({"url": "https://example.com/alias", "alias": "fresh-alias"}),
    )
    .await;
    within(Duration::from_secs(1), "the new alias on B", async || {
        location_is(&b, &c, "fresh-alias", "https://example.com/alias").await
    })
    .await;
}

async fn a_key_revoked_on_one_node_is_refused_by_the_other_at_once(backend: Backend) {
    let Some(redis) = redis_url() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = backend.fresh_database(&dir).await;
    let admin = add_admin(&db);
    let prefix = prefix();
    let (a, b) = (
        Node::start(&db, Some(&redis), &prefix).await,
        Node::start(&db, Some(&redis), &prefix).await,
    );
    let c = client();
    let r = c
        .post(a.url("/api/v1/keys"))
        .bearer_auth(&admin)
        .json(&json!({"name": "laptop"}))
        .send()
        .await
        .expect("send");
    let made: Value = r.json().await.expect("json");
    let (key, id) = (
        made["key"].as_str().expect("key").to_owned(),
        made["id"].as_i64().expect("id"),
    );
    let list = |node: &Node| c.get(node.url("/api/v1/links")).bearer_auth(&key).send();
    // B knows (and caches) the key.
    for _ in 0..3 {
        assert_eq!(list(&b).await.expect("send").status(), StatusCode::OK);
    }
    let r = c
        .delete(a.url(&format!("/api/v1/keys/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let took = within(Duration::from_secs(1), "401 on B", async || {
        list(&b).await.expect("send").status() == StatusCode::UNAUTHORIZED
    })
    .await;
    eprintln!("a revoke on A reached B after {took:?}");
    expect_error(
        list(&b).await.expect("send"),
        StatusCode::UNAUTHORIZED,
        40101,
        None,
    )
    .await;
}

async fn cached_links_redirect_while_the_database_is_away(backend: Backend) {
    let Some(redis) = redis_url() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let real = backend.fresh_database(&dir).await;
    let key = add_admin(&real);
    let proxy = Proxy::start(server_addr(&real), true).await;
    let node = Node::start(&proxy.url_for(&real), Some(&redis), &prefix()).await;
    let c = client();
    let cached = node
        .create(&c, &key, json!({"url": "https://example.com/cached"}))
        .await;
    let uncached = node
        .create(&c, &key, json!({"url": "https://example.com/uncached"}))
        .await;
    let protected = node
        .create(
            &c,
            &key,
            json!({"url": "https://example.com/secret", "password": "open sesame"}),
        )
        .await;
    // Past the creates' own second deletes (half a second after each),
    // which would take what is cached now out of L1 again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(location_is(&node, &c, &cached, "https://example.com/cached").await);
    let form = node.follow(&c, &protected).await;
    assert_eq!(form.status(), StatusCode::OK, "the password form");

    proxy.set_up(false);
    for _ in 0..20 {
        assert!(
            location_is(&node, &c, &cached, "https://example.com/cached").await,
            "a cached link redirects without its database"
        );
    }
    // The preview comes from the cache too; only its click count needs the
    // store, and the page does without it.
    let r = node.follow(&c, &format!("{cached}+")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("body");
    assert!(page.contains("https://example.com/cached"), "{page}");
    // So does a protected link's password form.
    let r = node.follow(&c, &protected).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("body");
    assert!(page.contains("password"), "{page}");
    assert!(!page.contains("https://example.com/secret"), "{page}");
    let r = node.follow(&c, &uncached).await;
    expect_error(r, StatusCode::SERVICE_UNAVAILABLE, 50301, None).await;
    proxy.set_up(true);
    wait_until("the database back", Duration::from_secs(10), async || {
        location_is(&node, &c, &uncached, "https://example.com/uncached").await
    })
    .await;
}

/// A `redis-server` of one test's own, on a free port.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (installed with Redis) starts");
        let this = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ping(&this.url()) {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        this
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `GET key` over a raw socket: whether the key exists.
    fn has(&self, key: &str) -> bool {
        let Ok(mut s) = StdStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let command = format!("EXISTS {key}\r\n");
        if s.write_all(command.as_bytes()).is_err() {
            return false;
        }
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).is_ok() && &buf == b":1\r\n"
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn killing_redis_fails_no_redirect_and_l2_returns_with_it() {
    if redis_url().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("kill.db").display());
    let key = add_admin(&db);
    let port = free_port();
    let mut redis = OwnRedis::start_on(port);
    let prefix = prefix();
    let node = Node::start(&db, Some(&redis.url()), &prefix).await;
    // A second node on the same database and Redis, without L1: every
    // redirect it answers asks Redis first.
    let l2_only = Node::start_with(
        &db,
        Some(&redis.url()),
        &prefix,
        &[("KURZ_CACHE__L1_MAX_ENTRIES", "0")],
    )
    .await;
    let c = client();
    for n in [&node, &l2_only] {
        n.redis_becomes(&c, "up").await;
    }
    let mut slugs = Vec::new();
    for i in 0..20 {
        let url = format!("https://example.com/{i}");
        slugs.push((node.create(&c, &key, json!({ "url": url })).await, url));
    }

    // A stream of redirects on both nodes, with Redis killed half-way: at
    // least 3 s and 400 redirects, so a loaded machine still kills it
    // mid-stream.
    let mut failed = 0;
    let started = Instant::now();
    let mut i = 0usize;
    while started.elapsed() < Duration::from_secs(3) || i < 400 {
        if i == 200 {
            redis.kill();
        }
        let (slug, url) = &slugs[i % slugs.len()];
        let n = if i.is_multiple_of(2) { &node } else { &l2_only };
        if !location_is(n, &c, slug, url).await {
            failed += 1;
        }
        i += 1;
    }
    assert_eq!(failed, 0, "of {i} redirects");
    assert!(
        l2_only.cache_count(&c, "l2", "hit").await >= 1.0,
        "the node without L1 used L2 before the kill"
    );
    for n in [&node, &l2_only] {
        n.redis_becomes(&c, "down").await;
    }
    let breaker = node.metric(&c, "kurz_redis_breaker_state").await;
    assert!(
        matches!(breaker, Some(b) if b >= 1.0),
        "the breaker is open (2) or probing (1): {breaker:?}"
    );

    // Meanwhile a link changes behind the node's back (no invalidation can
    // reach it while the channel is down): its L1 still has the old target.
    let (changed, _) = &slugs[0];
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&db).await.expect("db");
        sqlx::query("update links set url = 'https://example.com/changed' where slug = ?")
            .bind(changed)
            .execute(&mut conn)
            .await
            .expect("update");
    }
    assert!(location_is(&node, &c, changed, "https://example.com/0").await);

    // Redis comes back on the same port: the node uses L2 again by itself.
    let redis = OwnRedis::start_on(port);
    node.redis_becomes(&c, "up").await;
    assert_eq!(
        node.metric(&c, "kurz_redis_breaker_state").await,
        Some(0.0),
        "closed again"
    );
    // Resubscribed, the node dropped what it cached while deaf.
    wait_until(
        "L1 cleared on resubscribing",
        Duration::from_secs(15),
        async || location_is(&node, &c, changed, "https://example.com/changed").await,
    )
    .await;
    // A lookup that misses L1 fills L2 again. On a loaded machine one
    // Redis command may miss its 50 ms (a cache miss, by design), so each
    // try looks up a link L1 has not seen.
    wait_until("a lookup filling L2", Duration::from_secs(15), async || {
        let fresh = node
            .create(&c, &key, json!({"url": "https://example.com/after"}))
            .await;
        assert!(location_is(&node, &c, &fresh, "https://example.com/after").await);
        tokio::time::sleep(Duration::from_millis(100)).await;
        redis.has(&format!("{prefix}l:{fresh}"))
    })
    .await;
    let l2_misses = node
        .metric(&c, r#"kurz_cache_requests_total{level="l2",result="miss"}"#)
        .await;
    assert!(matches!(l2_misses, Some(n) if n >= 1.0), "{l2_misses:?}");
    // The node without L1 finds its links in Redis again, as filled since
    // it came back.
    l2_only.redis_becomes(&c, "up").await;
    let before = l2_only.cache_count(&c, "l2", "hit").await;
    wait_until("L2 hits again", Duration::from_secs(15), async || {
        for (slug, url) in &slugs[1..] {
            assert!(location_is(&l2_only, &c, slug, url).await);
        }
        l2_only.cache_count(&c, "l2", "hit").await > before
    })
    .await;
}

#[tokio::test]
async fn a_listener_that_never_answers_in_place_of_redis_holds_no_redirect_back() {
    if redis_url().is_none() {
        return;
    }
    // Accepts connections and never says a word: the client's handshake
    // never completes, so lookups skip L2 at once. (A connection that
    // stops answering later is the next test's.)
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for conn in silent.incoming().take(64) {
            open.push(conn);
        }
        open
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("silent.db").display());
    let key = add_admin(&db);
    // Without L1, so that every redirect takes the way to Redis.
    let node = Node::start_with(
        &db,
        Some(&format!("redis://127.0.0.1:{port}")),
        &prefix(),
        &[("KURZ_CACHE__L1_MAX_ENTRIES", "0")],
    )
    .await;
    let c = client();
    let slug = node
        .create(&c, &key, json!({"url": "https://example.com/"}))
        .await;
    let mut slowest = Duration::ZERO;
    for i in 0..50 {
        let started = Instant::now();
        let target = if i % 2 == 0 { slug.as_str() } else { "unknown" };
        let status = node.follow(&c, target).await.status();
        assert!(status == StatusCode::FOUND || status == StatusCode::NOT_FOUND);
        slowest = slowest.max(started.elapsed());
    }
    eprintln!("slowest redirect with a silent Redis: {slowest:?}");
    // cache.redis_timeout_ms is 50; a generous bound for a loaded machine.
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    assert_eq!(node.readyz(&c).await["redis"], "down");
    drop(node);
    drop(held);
}

#[tokio::test]
async fn a_redis_that_stops_answering_holds_no_redirect_back_and_is_used_again_after() {
    let Some(redis) = redis_url() else { return };
    // Between the node and Redis: the connections stay open, and while
    // stalled nothing crosses them.
    let proxy = Proxy::start(server_addr(&redis), true).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("stall.db").display());
    let key = add_admin(&db);
    let node = Node::start_with(
        &db,
        Some(&proxy.url_for(&redis)),
        &prefix(),
        &[("KURZ_CACHE__L1_MAX_ENTRIES", "0")],
    )
    .await;
    let c = client();
    node.redis_becomes(&c, "up").await;
    let mut slugs = Vec::new();
    for i in 0..10 {
        let url = format!("https://example.com/{i}");
        slugs.push((node.create(&c, &key, json!({ "url": url })).await, url));
    }
    let follow_all = async || {
        for (slug, url) in &slugs {
            assert!(location_is(&node, &c, slug, url).await);
        }
    };
    wait_until(
        "the links found in L2",
        Duration::from_secs(10),
        async || {
            follow_all().await;
            node.cache_count(&c, "l2", "hit").await >= 1.0
        },
    )
    .await;
    assert_eq!(
        node.metric(&c, "kurz_cache_l1_entries").await,
        None,
        "KURZ_CACHE__L1_MAX_ENTRIES=0 turns L1 off"
    );

    proxy.set_stalled(true);
    let mut slowest = Duration::ZERO;
    for i in 0..100 {
        let (slug, url) = &slugs[i % slugs.len()];
        let started = Instant::now();
        assert!(location_is(&node, &c, slug, url).await, "redirect {i}");
        slowest = slowest.max(started.elapsed());
    }
    eprintln!("slowest redirect with a stalled Redis: {slowest:?}");
    // cache.redis_timeout_ms is 50; without it a lookup would wait for
    // ever on the stalled connection. A generous bound for a loaded
    // machine.
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    node.redis_becomes(&c, "down").await;

    // Redis answers again: the breaker's probe closes it, L2 serves.
    proxy.set_stalled(false);
    node.redis_becomes(&c, "up").await;
    let before = node.cache_count(&c, "l2", "hit").await;
    wait_until("L2 hits again", Duration::from_secs(10), async || {
        follow_all().await;
        node.cache_count(&c, "l2", "hit").await > before
    })
    .await;
}

server_tests!(
    changes_on_one_node_reach_the_other_within_a_second,
    a_key_revoked_on_one_node_is_refused_by_the_other_at_once,
    cached_links_redirect_while_the_database_is_away,
);
