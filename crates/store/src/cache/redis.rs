//! Redis: the shared cache (L2) and the channel every node listens on for
//! invalidations. Everything here may fail without failing a request: each
//! command runs under a time-out of milliseconds and behind the circuit
//! breaker, and a failure is a cache miss. The node starts without Redis,
//! connects in the background and reconnects by itself.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use kurz_core::link::RedirectRecord;

use super::breaker::{Breaker, BreakerState};
use super::codec::{self, Cached};
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

/// What travels on the invalidation channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    Link(String),
    Key(i64),
}

impl Message {
    fn encode(&self) -> String {
        match self {
            Self::Link(slug) => format!("l:{slug}"),
            Self::Key(id) => format!("k:{id}"),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        match text.split_once(':')? {
            ("l", slug) => Some(Self::Link(slug.to_owned())),
            ("k", id) => id.parse().ok().map(Self::Key),
            _ => None,
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
        })
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
    async fn call<T, F, Fut>(&self, command: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.breaker.allow() {
            return None;
        }
        let Some(conn) = self.conn.get().cloned() else {
            self.breaker.failure();
            return None;
        };
        match tokio::time::timeout(self.timeout, command(conn)).await {
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

    /// The cached answer for `slug`; `None` on a miss or any failure.
    pub(crate) async fn get(&self, slug: &str) -> Option<Cached> {
        let key = self.key(slug);
        let bytes: Vec<u8> = self
            .call(|mut c| async move {
                redis::cmd("GET")
                    .arg(key)
                    .query_async::<Option<Vec<u8>>>(&mut c)
                    .await
            })
            .await??;
        codec::decode(&bytes)
    }

    /// Caches `record` (or "no such link") for `slug`, in the background:
    /// a redirect does not wait for it.
    pub(crate) fn put_later(self: &Arc<Self>, slug: &str, record: Option<&RedirectRecord>) {
        let ttl = if record.is_some() {
            self.ttl
        } else {
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

    /// Deletes `slug`'s entry; `false` when Redis could not be told.
    pub(crate) async fn delete(&self, slug: &str) -> bool {
        let key = self.key(slug);
        self.call(|mut c| async move { redis::cmd("DEL").arg(key).query_async::<()>(&mut c).await })
            .await
            .is_some()
    }

    pub(crate) async fn publish(&self, message: &Message) -> bool {
        let (channel, payload) = (self.channel(), message.encode());
        self.call(|mut c| async move {
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
        for m in [Message::Link("aZ3-_k".into()), Message::Key(42)] {
            assert_eq!(Message::decode(&m.encode()), Some(m));
        }
        assert_eq!(Message::decode("x:1"), None);
        assert_eq!(Message::decode("k:nope"), None);
        assert_eq!(Message::decode("nothing"), None);
    }
}
