//! Redis: the shared cache (L2) and the channel every node listens on for
//! invalidations. Everything here may fail without failing a request: each
//! command runs under a time-out of milliseconds and behind the circuit
//! breaker, and a failure is a cache miss. The node starts without Redis,
//! connects in the background and reconnects by itself.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use kurz_core::link::RedirectRecord;

use super::breaker::{Breaker, BreakerState};
use super::codec::{self, Cached};
use super::gather::{self, Fetch, Gather};
use super::l1::jittered_secs;

/// Failures in a row that open the breaker, and how long it stays open.
const BREAKER_THRESHOLD: u32 = 3;
const BREAKER_COOL_DOWN: Duration = Duration::from_secs(1);
/// How long one (re)connection attempt may take, and the most time
/// between attempts.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(2);
/// How often an open breaker is probed when no lookup does it.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Where Redis is and how kurz uses it.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub url: String,
    /// Prepended to every key and to the channel name, so several
    /// instances (or tests) can share one Redis.
    pub prefix: String,
    /// The longest one command may take before it counts as failed.
    pub timeout: Duration,
    /// Lifetime of a link in L2, before jitter.
    pub ttl: Duration,
    /// Lifetime of a "no such link" entry in L2, before jitter.
    pub negative_ttl: Duration,
}

/// Invalidations Redis could not be told of, kept to tell it again once it
/// answers; beyond this many, they are folded into one "forget everything".
const MAX_PENDING: usize = 100_000;
/// Most "no such link" entries one node writes to Redis a second: a flood of
/// made-up slugs must not fill Redis (each is also cached in L1).
const NEGATIVE_SETS_PER_SEC: u32 = 1_000;

/// What travels on the invalidation channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Message {
    Link(String),
    Key(i64),
    /// Some invalidations were lost: every node drops its L1 and key cache.
    All,
}

impl Message {
    fn encode(&self) -> String {
        match self {
            Self::Link(slug) => format!("l:{slug}"),
            Self::Key(id) => format!("k:{id}"),
            Self::All => "a:".to_owned(),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        match text.split_once(':')? {
            ("l", slug) => Some(Self::Link(slug.to_owned())),
            ("k", id) => id.parse().ok().map(Self::Key),
            ("a", "") => Some(Self::All),
            _ => None,
        }
    }
}

/// A per-second budget, without a lock.
#[derive(Debug, Default)]
struct PerSecond {
    /// The second (since `Redis::started`) in the high half, the count in
    /// the low half.
    window: AtomicU64,
}

impl PerSecond {
    fn take(&self, second: u32, limit: u32) -> bool {
        let mut current = self.window.load(Ordering::Relaxed);
        loop {
            let (at, used) = ((current >> 32) as u32, current as u32);
            let next = if at == second {
                if used >= limit {
                    return false;
                }
                current + 1
            } else {
                (u64::from(second) << 32) | 1
            };
            match self.window.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }
}

#[derive(Debug)]
pub struct Redis {
    client: redis::Client,
    /// Set once the first connection succeeds; the manager reconnects by
    /// itself after that.
    conn: OnceCell<ConnectionManager>,
    breaker: Breaker,
    timeout: Duration,
    prefix: String,
    ttl: Duration,
    negative_ttl: Duration,
    /// Invalidations not yet delivered; at most `MAX_PENDING` (and
    /// `Message::All` standing for the ones beyond).
    pending: Mutex<HashSet<Message>>,
    negative_sets: PerSecond,
    started: Instant,
    /// Lookups on their way to Redis together.
    reads: Arc<Gather>,
}

impl Fetch for Redis {
    async fn fetch(&self, keys: Vec<String>, deadline: Instant) -> Option<Vec<gather::Value>> {
        self.send_by(deadline, |mut c| async move {
            redis::cmd("MGET")
                .arg(keys)
                .query_async::<Vec<gather::Value>>(&mut c)
                .await
        })
        .await
    }
}

impl Redis {
    /// Checks the URL; connecting happens in the background
    /// (`connect_in_background`).
    pub fn new(config: &RedisConfig) -> Result<Self, redis::RedisError> {
        Ok(Self {
            client: redis::Client::open(config.url.as_str())?,
            conn: OnceCell::new(),
            // Open until the first connection: lookups go to the store.
            breaker: Breaker::opened(BREAKER_THRESHOLD, BREAKER_COOL_DOWN),
            timeout: config.timeout,
            prefix: config.prefix.clone(),
            ttl: config.ttl,
            negative_ttl: config.negative_ttl,
            pending: Mutex::default(),
            negative_sets: PerSecond::default(),
            started: Instant::now(),
            reads: Arc::new(Gather::new(config.timeout)),
        })
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, slug: &str) -> String {
        format!("{}l:{slug}", self.prefix)
    }

    fn channel(&self) -> String {
        format!("{}invalidate", self.prefix)
    }

    /// One attempt to connect, within a second; `true` when
    /// connected (now or before).
    pub async fn connect(&self) -> bool {
        if self.conn.initialized() {
            return true;
        }
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(self.timeout))
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_max_delay(RECONNECT_MAX);
        let attempt = tokio::time::timeout(
            CONNECT_TIMEOUT,
            self.client.get_connection_manager_with_config(config),
        )
        .await;
        match attempt {
            Ok(Ok(manager)) => {
                if self.conn.set(manager).is_ok() {
                    tracing::info!("connected to Redis");
                }
                self.breaker.success();
                true
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "Redis is not reachable");
                false
            }
            Err(_) => {
                tracing::debug!("Redis did not answer the connection in time");
                false
            }
        }
    }

    /// Keeps trying to connect until it works; then, for the life of the
    /// process, probes an open breaker every second with a `PING`, so L2
    /// comes back after Redis does, with or without traffic.
    pub(crate) fn connect_in_background(self: &Arc<Self>) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(100);
            while !this.connect().await {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RECONNECT_MAX);
            }
            let mut tick = tokio::time::interval(PROBE_EVERY);
            loop {
                tick.tick().await;
                if this.breaker.state() != BreakerState::Closed {
                    this.call(
                        |mut c| async move { redis::cmd("PING").query_async::<()>(&mut c).await },
                    )
                    .await;
                }
                this.redeliver().await;
            }
        });
    }

    /// Whether L2 is in use now (for `/readyz`).
    pub fn up(&self) -> bool {
        self.conn.initialized() && self.breaker.state() != BreakerState::Open
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Runs one command under the breaker and the time-out; `None` on any
    /// failure (which the breaker counts).
    pub(crate) async fn call<T, F, Fut>(&self, command: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.breaker.allow() {
            return None;
        }
        self.send(command).await
    }

    /// Runs one command under the time-out whatever the breaker says (an
    /// invalidation is always tried: lookups may skip Redis, writes may
    /// not skip telling it); the outcome still counts for the breaker.
    async fn send<T, F, Fut>(&self, command: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        self.send_by(Instant::now() + self.timeout, command).await
    }

    /// [`Self::send`], answered by `deadline`.
    async fn send_by<T, F, Fut>(&self, deadline: Instant, command: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let Some(conn) = self.conn.get().cloned() else {
            self.breaker.failure();
            return None;
        };
        match tokio::time::timeout_at(deadline, command(conn)).await {
            Ok(Ok(value)) => {
                self.breaker.success();
                Some(value)
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "a Redis command failed");
                self.breaker.failure();
                None
            }
            Err(_) => {
                self.breaker.failure();
                None
            }
        }
    }

    /// The cached answer for `slug`; `None` on a miss or any failure. The
    /// lookups asking at the same moment go to Redis together (`gather`).
    pub(crate) async fn get(self: &Arc<Self>, slug: &str) -> Option<Cached> {
        if !self.breaker.allow() {
            return None;
        }
        let joined = self.reads.join(self.key(slug));
        if let Some(sender) = joined.sender {
            let this = Arc::clone(self);
            tokio::spawn(async move { sender.run(&*this).await });
        }
        let bytes = joined.answer.await.ok()??;
        codec::decode(&bytes)
    }

    /// Caches `record` (or "no such link") for `slug`, in the background:
    /// a redirect does not wait for it.
    pub(crate) fn put_later(self: &Arc<Self>, slug: &str, record: Option<&RedirectRecord>) {
        let ttl = if record.is_some() {
            self.ttl
        } else {
            let second = u32::try_from(self.started.elapsed().as_secs()).unwrap_or(u32::MAX);
            if !self.negative_sets.take(second, NEGATIVE_SETS_PER_SEC) {
                return;
            }
            self.negative_ttl
        };
        let mut value = Vec::with_capacity(64);
        codec::encode(record, &mut value);
        let (this, key) = (Arc::clone(self), self.key(slug));
        tokio::spawn(async move {
            this.call(|mut c| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("EX")
                    .arg(jittered_secs(ttl))
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
        });
    }

    /// Tells Redis of `message`: for a link, deletes its L2 entry, then
    /// publishes it to every node. Both are tried whatever the breaker
    /// says; what fails is kept and told again once Redis answers.
    /// `false` when Redis could not be told now.
    pub(crate) async fn announce(&self, message: &Message) -> bool {
        let deleted = match message {
            Message::Link(slug) => self.delete(slug).await,
            Message::All => self.delete_all_links().await,
            Message::Key(_) => true,
        };
        let told = self.publish(message).await && deleted;
        if !told {
            self.keep(message.clone());
        }
        told
    }

    /// The second delete of a link's L2 entry, kept for later if it fails.
    pub(crate) async fn delete_again(&self, slug: &str) {
        if !self.delete(slug).await {
            self.keep(Message::Link(slug.to_owned()));
        }
    }

    fn keep(&self, message: Message) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.len() < MAX_PENDING || pending.contains(&message) {
            pending.insert(message);
        } else {
            pending.insert(Message::All);
        }
    }

    /// How many invalidations wait for Redis.
    pub fn pending(&self) -> usize {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Tells Redis what it missed, trying for at most `within`; how many
    /// invalidations still wait.
    pub async fn deliver_pending(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        while self.pending() > 0 && Instant::now() < deadline {
            self.redeliver().await;
            if self.pending() > 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        self.pending()
    }

    /// Tells Redis what it missed; stops at the first failure (the rest
    /// waits for the next round).
    async fn redeliver(&self) {
        let waiting: Vec<Message> = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if pending.is_empty() {
                return;
            }
            pending.drain().collect()
        };
        let count = waiting.len();
        let mut failed = false;
        for message in waiting {
            if failed {
                self.keep(message);
            } else if !self.announce(&message).await {
                failed = true;
            }
        }
        if !failed {
            tracing::info!(count, "Redis told of the invalidations it missed");
        }
    }

    /// Deletes every link entry under this prefix (after invalidations
    /// were lost: which entries are stale is unknown), a batch at a time.
    async fn delete_all_links(&self) -> bool {
        let pattern = format!("{}l:*", self.prefix);
        let mut cursor = 0u64;
        loop {
            let pattern = pattern.clone();
            let Some((next, keys)) = self
                .send(|mut c| async move {
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async::<(u64, Vec<String>)>(&mut c)
                        .await
                })
                .await
            else {
                return false;
            };
            if !keys.is_empty()
                && self
                    .send(|mut c| async move {
                        redis::cmd("UNLINK")
                            .arg(keys)
                            .query_async::<()>(&mut c)
                            .await
                    })
                    .await
                    .is_none()
            {
                return false;
            }
            if next == 0 {
                return true;
            }
            cursor = next;
        }
    }

    async fn delete(&self, slug: &str) -> bool {
        let key = self.key(slug);
        self.send(|mut c| async move { redis::cmd("DEL").arg(key).query_async::<()>(&mut c).await })
            .await
            .is_some()
    }

    async fn publish(&self, message: &Message) -> bool {
        let (channel, payload) = (self.channel(), message.encode());
        self.send(|mut c| async move {
            redis::cmd("PUBLISH")
                .arg(channel)
                .arg(payload)
                .query_async::<()>(&mut c)
                .await
        })
        .await
        .is_some()
    }

    /// Listens to the invalidation channel for the life of the process,
    /// resubscribing after every disconnection. `on_message` gets each
    /// message; `on_subscribed` runs after every successful subscription,
    /// the first included: what was missed while not subscribed is unknown,
    /// so the caller drops what it cached meanwhile.
    pub(crate) fn listen(
        self: &Arc<Self>,
        on_message: impl Fn(Message) + Send + Sync + 'static,
        on_subscribed: impl Fn() + Send + Sync + 'static,
    ) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(100);
            loop {
                match this.subscribe().await {
                    Ok(mut stream) => {
                        wait = Duration::from_millis(100);
                        on_subscribed();
                        while let Some(msg) = stream.next().await {
                            let text = String::from_utf8_lossy(msg.get_payload_bytes());
                            if let Some(message) = Message::decode(&text) {
                                on_message(message);
                            }
                        }
                        tracing::warn!("lost the Redis invalidation channel; resubscribing");
                    }
                    Err(e) => tracing::debug!(error = %e, "cannot subscribe to Redis yet"),
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RECONNECT_MAX);
            }
        });
    }

    async fn subscribe(&self) -> redis::RedisResult<redis::aio::PubSubStream> {
        let connect = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(self.channel()).await?;
            Ok(pubsub.into_on_message())
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(result) => result,
            Err(_) => Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "the subscription timed out",
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_strangers_are_ignored() {
        for m in [
            Message::Link("aZ3-_k".into()),
            Message::Key(42),
            Message::All,
        ] {
            assert_eq!(Message::decode(&m.encode()), Some(m));
        }
        assert_eq!(Message::decode("x:1"), None);
        assert_eq!(Message::decode("k:nope"), None);
        assert_eq!(Message::decode("nothing"), None);
        assert_eq!(Message::decode("a:x"), None);
    }

    #[test]
    fn the_per_second_budget_refuses_past_its_limit_and_refills_next_second() {
        let budget = PerSecond::default();
        assert!((0..3).all(|_| budget.take(7, 3)));
        assert!(!budget.take(7, 3));
        assert!(budget.take(8, 3));
    }

    #[tokio::test]
    async fn undelivered_invalidations_are_kept_and_folded_when_too_many() {
        let redis = Redis::new(&RedisConfig {
            url: "redis://127.0.0.1:1".into(),
            prefix: "t:".into(),
            timeout: Duration::from_millis(50),
            ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(5),
        })
        .expect("url");
        assert!(
            !redis.announce(&Message::Link("a".into())).await,
            "not connected"
        );
        assert!(!redis.announce(&Message::Link("a".into())).await);
        assert_eq!(redis.pending(), 1, "one slug, kept once");
        for i in 0..MAX_PENDING + 10 {
            redis.keep(Message::Key(i64::try_from(i).expect("small")));
        }
        assert_eq!(redis.pending(), MAX_PENDING + 1);
        assert!(redis.pending.lock().expect("lock").contains(&Message::All));
    }

    fn test_config(url: &str, timeout: Duration) -> RedisConfig {
        RedisConfig {
            url: url.to_owned(),
            prefix: format!("kurz_u_{:016x}:", rand::random::<u64>()),
            timeout,
            ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(60),
        }
    }

    /// Lookups gathered into `MGET`s against a real Redis: each reads its
    /// own entry, "absent" entries and missing keys apart, and what is
    /// not an entry is a miss.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_lookups_each_read_their_own_entry() {
        let Ok(url) = std::env::var("KURZ_TEST_REDIS_URL") else {
            eprintln!("note: KURZ_TEST_REDIS_URL not set; a Redis test did not run");
            return;
        };
        let redis = Arc::new(Redis::new(&test_config(&url, Duration::from_secs(2))).expect("url"));
        assert!(
            redis.connect().await,
            "Redis at KURZ_TEST_REDIS_URL answers"
        );
        let mut conn = redis.conn.get().cloned().expect("connected");
        let mut pipe = redis::pipe();
        for i in 0..300 {
            let mut value = Vec::new();
            match i % 3 {
                0 => codec::encode(Some(&codec::plain_record(i)), &mut value),
                1 => codec::encode(None, &mut value),
                _ => continue,
            }
            pipe.cmd("SET")
                .arg(redis.key(&format!("s{i}")))
                .arg(value)
                .arg("EX")
                .arg(60)
                .ignore();
        }
        pipe.cmd("SET")
            .arg(redis.key("garbage"))
            .arg("not an entry")
            .arg("EX")
            .arg(60)
            .ignore();
        pipe.query_async::<()>(&mut conn).await.expect("set");

        let lookups: Vec<_> = (0..300)
            .map(|i| {
                let redis = Arc::clone(&redis);
                tokio::spawn(async move { (i, redis.get(&format!("s{i}")).await) })
            })
            .collect();
        for lookup in lookups {
            let (i, found) = lookup.await.expect("lookup");
            match (i % 3, found) {
                (0, Some(Cached::Present(r))) => assert_eq!(r, codec::plain_record(i)),
                (1, Some(Cached::Absent)) | (2, None) => {}
                (_, other) => panic!("s{i}: {other:?}"),
            }
        }
        assert!(redis.get("garbage").await.is_none());
        assert_eq!(redis.breaker_state(), BreakerState::Closed);
        let keys: Vec<String> = (0..300)
            .map(|i| redis.key(&format!("s{i}")))
            .chain([redis.key("garbage")])
            .collect();
        redis::cmd("DEL")
            .arg(keys)
            .query_async::<()>(&mut conn)
            .await
            .expect("clean up");
    }

    /// A `redis-server` of this test's own (a pause would stall every
    /// other test's Redis), stopped when dropped.
    struct OwnRedis(std::process::Child, u16);

    impl OwnRedis {
        fn start() -> Self {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let child = std::process::Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server (installed with Redis) starts");
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(std::time::Instant::now() < deadline, "redis-server started");
                std::thread::sleep(Duration::from_millis(20));
            }
            Self(child, port)
        }
    }

    impl Drop for OwnRedis {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// A Redis that holds its answers (`CLIENT PAUSE`): every lookup,
    /// those that joined while a batch was out too, reads a miss within
    /// the time-out, and the breaker opens after three failed batches.
    /// (That a lookup which joined while a batch was out is answered by
    /// its own deadline is shown to the millisecond with a paused clock
    /// in `gather`'s tests.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paused_redis_holds_no_lookup_past_the_time_out() {
        if std::env::var("KURZ_TEST_REDIS_URL").is_err() {
            eprintln!("note: KURZ_TEST_REDIS_URL not set; a Redis test did not run");
            return;
        }
        let own = OwnRedis::start();
        let url = format!("redis://127.0.0.1:{}", own.1);
        let timeout = Duration::from_millis(200);
        let redis = Arc::new(Redis::new(&test_config(&url, timeout)).expect("url"));
        assert!(redis.connect().await, "our redis-server answers");
        let mut admin = redis::Client::open(url.as_str())
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("a second connection");
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(5000)
            .arg("ALL")
            .query_async::<()>(&mut admin)
            .await
            .expect("pause");
        let started = tokio::time::Instant::now();
        let lookups: Vec<_> = (0..40)
            .map(|i| {
                let redis = Arc::clone(&redis);
                tokio::spawn(async move {
                    // Half join while the first batch is out.
                    if i % 2 == 1 {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    let asked = tokio::time::Instant::now();
                    (redis.get(&format!("s{i}")).await, asked.elapsed())
                })
            })
            .collect();
        for lookup in lookups {
            let (found, took) = lookup.await.expect("lookup");
            assert!(found.is_none());
            // The time-out, and room for a loaded machine's scheduling
            // (Redis holds its answers for 5 s).
            assert!(took < timeout + Duration::from_millis(800), "{took:?}");
        }
        assert!(started.elapsed() < Duration::from_secs(3));
        // A batch's failure counts once (two or three batches so far,
        // as the scheduling fell); the third opens the breaker, and
        // lookups then skip Redis without waiting.
        for _ in 0..3 {
            if redis.breaker_state() == BreakerState::Open {
                break;
            }
            assert!(redis.get("s0").await.is_none());
        }
        assert_eq!(redis.breaker_state(), BreakerState::Open);
        let asked = tokio::time::Instant::now();
        assert!(redis.get("s0").await.is_none());
        assert!(asked.elapsed() < timeout / 2, "skipped, not timed out");
    }

    /// Against the Redis of `KURZ_TEST_REDIS_URL` (skipped, with a note,
    /// when it is not set; fails when it is set and Redis does not answer).
    #[tokio::test]
    async fn a_clear_everything_deletes_the_link_entries_of_its_prefix_only() {
        let Ok(url) = std::env::var("KURZ_TEST_REDIS_URL") else {
            eprintln!("note: KURZ_TEST_REDIS_URL not set; a Redis test did not run");
            return;
        };
        let prefix = format!("kurz_u_{:016x}:", rand::random::<u64>());
        let config = |prefix: &str| RedisConfig {
            url: url.clone(),
            prefix: prefix.to_owned(),
            timeout: Duration::from_secs(2),
            ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(60),
        };
        let redis = Redis::new(&config(&prefix)).expect("url");
        assert!(
            redis.connect().await,
            "Redis at KURZ_TEST_REDIS_URL answers"
        );
        let mut conn = redis.conn.get().cloned().expect("connected");
        let other = format!("{prefix}x");
        let ours = (0..2500).map(|i| format!("{prefix}l:s{i}"));
        for key in ours.chain([format!("{other}l:s1"), format!("{prefix}k:1")]) {
            redis::cmd("SET")
                .arg(&key)
                .arg("v")
                .arg("EX")
                .arg(60)
                .query_async::<()>(&mut conn)
                .await
                .expect("set");
        }
        assert!(redis.announce(&Message::All).await);
        let left = |pattern: String| {
            let mut conn = conn.clone();
            async move {
                redis::cmd("KEYS")
                    .arg(pattern)
                    .query_async::<Vec<String>>(&mut conn)
                    .await
                    .expect("keys")
            }
        };
        assert!(left(format!("{prefix}l:*")).await.is_empty());
        assert_eq!(
            left(format!("{prefix}k:*")).await.len(),
            1,
            "not a link entry"
        );
        assert_eq!(left(format!("{other}l:*")).await.len(), 1, "another prefix");
        redis::cmd("DEL")
            .arg(format!("{prefix}k:1"))
            .arg(format!("{other}l:s1"))
            .query_async::<()>(&mut conn)
            .await
            .expect("clean up");
    }
}
