//! Following a link: the use case behind `GET /{slug}`, its password form
//! and its preview. It decides everything a redirect is: where to, with
//! which status and cache policy, whether a visit counts; the HTTP edge
//! only maps the [`Outcome`] to an answer, so a second API surface cannot
//! drift from these rules.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::analytics::{agent, ClickRef};
use crate::clock::Clock;
use crate::error::{HashError, StoreError};
use crate::link::{self, DisabledReason, LinkStatus, RedirectCode, RedirectRecord};
use crate::ports::{ClickSink, LinkLookup, LinkStore, PasswordHasher, VisitStore};
use crate::slug::MAX_ALIAS_LEN;

/// The instance settings redirects follow.
#[derive(Debug, Clone, Copy)]
pub struct RedirectSettings {
    /// For links that do not set their own status.
    pub default_status: RedirectCode,
    /// `max-age` of redirects browsers may cache.
    pub cache_max_age: u32,
}

/// How a redirect may be cached by the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachePolicy {
    /// `private, max-age=N`.
    MaxAge(u32),
    /// Links that count each visit against a limit, or sit behind a
    /// password, must reach the server every time.
    NoStore,
}

/// A redirect to answer: where, with which status, and how browsers may
/// cache it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub location: Box<str>,
    pub status: u16,
    pub cache: CachePolicy,
}

/// What a visit to a slug leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Redirect(Redirect),
    NotFound,
    /// Expired, disabled, pending review or at its visit limit; with the
    /// reason when the instance disabled it (its page says so).
    Gone(Option<DisabledReason>),
    /// The link answers a password form first.
    PasswordRequired,
    /// `HEAD` of a visit-limited link: it exists and redirects, but where
    /// to is seen only by a visit that counts (ADR 0009).
    Withheld,
}

/// What a password submitted for a slug leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlock {
    /// Always 303: the browser follows with a GET, whatever the link's
    /// own status.
    Redirect(Redirect),
    WrongPassword,
    /// The link has a password and the request brought none it could read.
    PasswordMissing,
    /// The caller's gate refused the attempt (too many of them); retry
    /// after this long. Nothing was hashed.
    Throttled(Duration),
    NotFound,
    Gone(Option<DisabledReason>),
}

#[derive(Debug, thiserror::Error)]
pub enum UnlockError {
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One request for a slug.
#[derive(Debug, Clone, Copy)]
pub struct Visit<'a> {
    /// `HEAD` asks without visiting: no click, no visit taken.
    pub counted: bool,
    /// The visitor's query string, forwarded when the link says so.
    pub query: Option<&'a str>,
    pub visitor: Visitor<'a>,
}

/// Who visits: what a click records of them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Visitor<'a> {
    pub referrer: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// The client's address (after trusted proxies); never stored.
    pub ip: Option<IpAddr>,
}

/// Why a preview does not show its target (ADR 0009).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    Password,
    VisitLimit,
}

/// What `/{slug}+` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub target: Result<Box<str>, Hidden>,
    pub created_at: time::OffsetDateTime,
    /// `None` when the store could not say: the rest of the page comes
    /// from the cache, and a count is not worth failing it for.
    pub visits: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Previewed {
    Found(Preview),
    NotFound,
    Gone(Option<DisabledReason>),
}

/// Following links: `GET`/`HEAD /{slug}`, the password form, the preview.
#[derive(Debug, Clone)]
pub struct Redirector {
    lookup: Arc<dyn LinkLookup>,
    links: Arc<dyn LinkStore>,
    visits: Arc<dyn VisitStore>,
    clicks: Arc<dyn ClickSink>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    settings: RedirectSettings,
}

/// The ports a [`Redirector`] works through.
#[derive(Debug, Clone)]
pub struct RedirectPorts {
    pub lookup: Arc<dyn LinkLookup>,
    pub links: Arc<dyn LinkStore>,
    pub visits: Arc<dyn VisitStore>,
    pub clicks: Arc<dyn ClickSink>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
}

impl Redirector {
    pub fn new(ports: RedirectPorts, settings: RedirectSettings) -> Self {
        Self {
            lookup: ports.lookup,
            links: ports.links,
            visits: ports.visits,
            clicks: ports.clicks,
            hasher: ports.hasher,
            clock: ports.clock,
            settings,
        }
    }

    /// `GET` or `HEAD /{slug}`.
    pub async fn follow(&self, slug: &str, visit: Visit<'_>) -> Result<Outcome, StoreError> {
        let (record, at) = match self.active(slug).await? {
            Ok(found) => found,
            Err(outcome) => return Ok(outcome),
        };
        if record.has_password {
            return Ok(Outcome::PasswordRequired);
        }
        if !visit.counted && record.max_visits.is_some() {
            return Ok(Outcome::Withheld);
        }
        // Visit limits count people: a link-preview fetcher or a script
        // neither uses up a limited link nor learns where it goes
        // (ADR 0017). Its click is counted, as a bot's.
        if visit.counted && record.max_visits.is_some() && agent::is_bot(visit.visitor.user_agent) {
            self.click(&record, &visit.visitor, at);
            return Ok(Outcome::Withheld);
        }
        if visit.counted && !self.count(&record, &visit.visitor, at).await? {
            return Ok(Outcome::Gone(None));
        }
        let status = record
            .redirect_status
            .and_then(RedirectCode::new)
            .unwrap_or(self.settings.default_status)
            .get();
        Ok(Outcome::Redirect(self.redirect(
            record,
            status,
            visit.query,
        )))
    }

    /// `POST /{slug}` with a password. The right one counts the visit and
    /// redirects; a link without a password just redirects, whatever was
    /// sent. `gate` is asked, with the link's ID, right before a password is
    /// checked (and only then): the edge's limit on guessing.
    pub async fn unlock<G, F>(
        &self,
        slug: &str,
        password: Option<String>,
        visit: Visit<'_>,
        gate: G,
    ) -> Result<Unlock, UnlockError>
    where
        G: FnOnce(i64) -> F + Send,
        F: std::future::Future<Output = Result<(), Duration>> + Send,
    {
        let (record, at) = match self.active(slug).await? {
            Ok(found) => found,
            Err(Outcome::NotFound) => return Ok(Unlock::NotFound),
            Err(Outcome::Gone(why)) => return Ok(Unlock::Gone(why)),
            Err(_) => return Ok(Unlock::Gone(None)),
        };
        if record.has_password {
            let Some(password) = password else {
                return Ok(Unlock::PasswordMissing);
            };
            if let Err(wait) = gate(record.id).await {
                return Ok(Unlock::Throttled(wait));
            }
            // The lookup never carries the hash; only this check reads it.
            // None: the password was removed since the lookup (the link is
            // open now).
            if let Some(hash) = self.links.password_hash(record.id).await? {
                if !self.hasher.verify(hash, password).await? {
                    return Ok(Unlock::WrongPassword);
                }
            }
        }
        // Whoever knows the password visits on a person's behalf: the
        // visit counts against a limit, whatever the user agent says.
        if !self.count(&record, &visit.visitor, at).await? {
            return Ok(Unlock::Gone(None));
        }
        Ok(Unlock::Redirect(self.redirect(record, 303, visit.query)))
    }

    /// `GET /{slug}+`: where a link goes, without going or counting.
    pub async fn preview(&self, slug: &str) -> Result<Previewed, StoreError> {
        let (record, _) = match self.active(slug).await? {
            Ok(found) => found,
            Err(Outcome::NotFound) => return Ok(Previewed::NotFound),
            Err(Outcome::Gone(why)) => return Ok(Previewed::Gone(why)),
            Err(_) => return Ok(Previewed::Gone(None)),
        };
        let target = if record.has_password {
            Err(Hidden::Password)
        } else if record.max_visits.is_some() {
            Err(Hidden::VisitLimit)
        } else {
            Ok(record.url)
        };
        // The count is not in the redirect record (no redirect reads it,
        // ADR 0033): this rare page asks the store for it.
        let visits = match self.links.by_slug(slug).await {
            Ok(link) => Some(link.map_or(0, |l| l.visits)),
            Err(_) => None,
        };
        Ok(Previewed::Found(Preview {
            target,
            created_at: record.created_at,
            visits,
        }))
    }

    /// The record of a slug that may redirect, with the time it was judged
    /// at (a counted visit's click carries it: one clock read a redirect),
    /// or the outcome that says why not.
    async fn active(
        &self,
        slug: &str,
    ) -> Result<Result<(RedirectRecord, OffsetDateTime), Outcome>, StoreError> {
        // Text that can never be a slug costs no lookup.
        if !could_be_slug(slug) {
            return Ok(Err(Outcome::NotFound));
        }
        let found = match self.lookup.lookup_now(slug) {
            Some(found) => found,
            None => self.lookup.lookup(slug).await?,
        };
        let Some(record) = found else {
            return Ok(Err(Outcome::NotFound));
        };
        let now = self.clock.now();
        Ok(match record.status(now) {
            LinkStatus::Active => Ok((record, now)),
            LinkStatus::Disabled => Err(Outcome::Gone(record.disabled_reason)),
            LinkStatus::Pending | LinkStatus::Expired => Err(Outcome::Gone(None)),
        })
    }

    /// Counts one visit. A link with a visit limit takes it atomically in
    /// the store first (`false`: someone else took the last one); the
    /// click itself goes to the analytics queue and never waits.
    async fn count(
        &self,
        record: &RedirectRecord,
        visitor: &Visitor<'_>,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        if record.max_visits.is_some() && !self.visits.take_visit(record.id).await? {
            return Ok(false);
        }
        self.click(record, visitor, at);
        Ok(true)
    }

    fn click(&self, record: &RedirectRecord, visitor: &Visitor<'_>, at: OffsetDateTime) {
        self.clicks.record(ClickRef {
            link_id: record.id,
            at,
            referrer: visitor.referrer,
            user_agent: visitor.user_agent,
            ip: visitor.ip,
        });
    }

    /// The redirect of `record`: moves its target into `Location`, so a
    /// cached record costs no second copy.
    fn redirect(&self, record: RedirectRecord, status: u16, query: Option<&str>) -> Redirect {
        let cache = if record.max_visits.is_some() || record.has_password {
            CachePolicy::NoStore
        } else {
            CachePolicy::MaxAge(self.settings.cache_max_age)
        };
        let location = match query.filter(|q| record.forward_query && !q.is_empty()) {
            Some(q) => link::with_forwarded_query(&record.url, q).into(),
            None => record.url,
        };
        Redirect {
            location,
            status,
            cache,
        }
    }
}

/// Generated codes and aliases share the alias alphabet and length bound.
pub fn could_be_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ALIAS_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use time::{Duration, OffsetDateTime};

    use super::*;
    use crate::clock::ManualClock;
    use crate::fake::{new_link, FakeClicks, FakeHasher, FakeStore};
    use crate::link::NewLink;
    use crate::ports::IdSource;

    struct World {
        store: Arc<FakeStore>,
        clicks: Arc<FakeClicks>,
        hasher: Arc<FakeHasher>,
        clock: Arc<ManualClock>,
        redirector: Redirector,
    }

    fn world() -> World {
        let store = FakeStore::new();
        let clicks = Arc::new(FakeClicks::default());
        let hasher = Arc::new(FakeHasher::default());
        let clock = Arc::new(ManualClock::new(
            OffsetDateTime::UNIX_EPOCH + Duration::days(20_000),
        ));
        let redirector = Redirector::new(
            RedirectPorts {
                lookup: store.clone(),
                links: store.clone(),
                visits: store.clone(),
                clicks: clicks.clone(),
                hasher: hasher.clone(),
                clock: clock.clone(),
            },
            RedirectSettings {
                default_status: RedirectCode::FOUND,
                cache_max_age: 90,
            },
        );
        World {
            store,
            clicks,
            hasher,
            clock,
            redirector,
        }
    }

    impl World {
        async fn add(&self, slug: &str, adjust: impl FnOnce(&mut NewLink)) -> i64 {
            let id = i64::try_from(self.store.next_id().await.expect("an ID")).expect("small");
            let mut link = new_link(id, slug, "https://example.com/a?x=1#top", self.clock.now());
            adjust(&mut link);
            self.store.insert(link).await.expect("insert");
            id
        }

        async fn get(&self, slug: &str) -> Outcome {
            let visit = Visit {
                counted: true,
                query: None,
                visitor: BROWSER,
            };
            self.redirector.follow(slug, visit).await.expect("follow")
        }
    }

    const BROWSER: Visitor<'static> = Visitor {
        referrer: None,
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"),
        ip: None,
    };

    /// A password form posted from a browser.
    fn posted() -> Visit<'static> {
        Visit {
            counted: true,
            query: None,
            visitor: BROWSER,
        }
    }

    /// A gate that lets every attempt through.
    fn open(_: i64) -> std::future::Ready<Result<(), std::time::Duration>> {
        std::future::ready(Ok(()))
    }

    fn redirect(outcome: Outcome) -> Redirect {
        match outcome {
            Outcome::Redirect(r) => r,
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_plain_link_redirects_with_the_default_status_and_counts_a_click() {
        let w = world();
        let id = w.add("plain", |_| {}).await;
        let r = redirect(w.get("plain").await);
        assert_eq!(&*r.location, "https://example.com/a?x=1#top");
        assert_eq!(r.status, 302);
        assert_eq!(r.cache, CachePolicy::MaxAge(90));
        assert_eq!(w.clicks.recorded(), vec![id]);
    }

    #[tokio::test]
    async fn head_asks_without_counting() {
        let w = world();
        w.add("plain", |_| {}).await;
        w.add("once", |l| l.max_visits = Some(1)).await;
        let head = Visit {
            counted: false,
            query: None,
            visitor: BROWSER,
        };
        let outcome = w.redirector.follow("plain", head).await.expect("follow");
        assert!(matches!(outcome, Outcome::Redirect(_)));
        // A visit-limited link's target is seen only by a visit that counts.
        for _ in 0..2 {
            let outcome = w.redirector.follow("once", head).await.expect("follow");
            assert_eq!(outcome, Outcome::Withheld);
        }
        assert!(w.clicks.recorded().is_empty());
        assert_eq!(w.store.get("once").expect("stored").visits, 0);
    }

    #[tokio::test]
    async fn a_links_own_status_and_forwarded_query_are_used() {
        let w = world();
        w.add("own", |l| {
            l.redirect_status = Some(308);
            l.forward_query = true;
        })
        .await;
        let visit = Visit {
            counted: true,
            query: Some("utm=\u{fc}"),
            visitor: BROWSER,
        };
        let r = redirect(w.redirector.follow("own", visit).await.expect("follow"));
        assert_eq!(r.status, 308);
        assert_eq!(&*r.location, "https://example.com/a?x=1&utm=%C3%BC#top");
    }

    #[tokio::test]
    async fn unknown_and_impossible_slugs_are_not_found_and_the_latter_cost_no_lookup() {
        let w = world();
        assert_eq!(w.get("nope").await, Outcome::NotFound);
        assert_eq!(w.store.lookups.load(Ordering::SeqCst), 1);
        for text in ["", "a.b", "a/b", &"x".repeat(65)] {
            assert_eq!(w.get(text).await, Outcome::NotFound, "{text}");
        }
        assert_eq!(w.store.lookups.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn expired_disabled_and_pending_links_are_gone() {
        let w = world();
        let soon = w.clock.now() + Duration::seconds(10);
        w.add("expiring", |l| l.expires_at = Some(soon)).await;
        w.add("pending", |l| l.pending = true).await;
        w.add("disabled", |_| {}).await;
        w.store.edit("disabled", |l| l.disabled = true);
        assert!(matches!(w.get("expiring").await, Outcome::Redirect(_)));
        w.clock.advance(Duration::seconds(10));
        for slug in ["expiring", "pending", "disabled"] {
            assert_eq!(w.get(slug).await, Outcome::Gone(None), "{slug}");
        }
    }

    #[tokio::test]
    async fn a_link_disabled_for_abuse_says_so_on_every_path() {
        let w = world();
        w.add("bad", |_| {}).await;
        w.store.edit("bad", |l| {
            l.disabled = true;
            l.disabled_reason = Some(DisabledReason::Abuse);
        });
        let abuse = Some(DisabledReason::Abuse);
        assert_eq!(w.get("bad").await, Outcome::Gone(abuse));
        assert_eq!(
            w.redirector.preview("bad").await.expect("preview"),
            Previewed::Gone(abuse)
        );
        let unlock = w.redirector.unlock("bad", None, posted(), open).await;
        assert!(matches!(
            unlock,
            Ok(Unlock::Gone(Some(DisabledReason::Abuse)))
        ));
        assert!(w.clicks.recorded().is_empty());
    }

    #[tokio::test]
    async fn a_visit_limited_link_takes_its_visits_in_the_store_and_is_not_cached() {
        let w = world();
        w.add("twice", |l| l.max_visits = Some(2)).await;
        for _ in 0..2 {
            let r = redirect(w.get("twice").await);
            assert_eq!(r.cache, CachePolicy::NoStore);
        }
        assert_eq!(w.get("twice").await, Outcome::Gone(None));
        let id = w.store.get("twice").expect("stored").id;
        assert_eq!(w.store.get("twice").expect("stored").human_visits, 2);
        assert_eq!(
            w.clicks.recorded(),
            vec![id, id],
            "the refused third is no click"
        );
    }

    #[tokio::test]
    async fn a_protected_link_asks_for_its_password_and_the_right_one_redirects() {
        let w = world();
        w.add("locked", |l| l.password_hash = Some("fake$sesame".into()))
            .await;
        assert_eq!(w.get("locked").await, Outcome::PasswordRequired);
        let wrong = w
            .redirector
            .unlock("locked", Some("guess".into()), posted(), open)
            .await
            .expect("unlock");
        assert_eq!(wrong, Unlock::WrongPassword);
        let missing = w
            .redirector
            .unlock("locked", None, posted(), open)
            .await
            .expect("unlock");
        assert_eq!(missing, Unlock::PasswordMissing);
        assert!(w.clicks.recorded().is_empty());
        let right = w
            .redirector
            .unlock("locked", Some("sesame".into()), posted(), open)
            .await
            .expect("unlock");
        let Unlock::Redirect(r) = right else {
            panic!("expected a redirect, got {right:?}");
        };
        assert_eq!((r.status, r.cache), (303, CachePolicy::NoStore));
        assert_eq!(w.clicks.recorded().len(), 1);

        w.hasher.busy.store(true, Ordering::SeqCst);
        let busy = w
            .redirector
            .unlock("locked", Some("sesame".into()), posted(), open)
            .await;
        assert!(matches!(busy, Err(UnlockError::Hash(HashError::Busy))));
        assert_eq!(
            w.redirector
                .unlock("nope", Some("x".into()), posted(), open)
                .await
                .expect("unlock"),
            Unlock::NotFound
        );
    }

    #[tokio::test]
    async fn the_gate_is_asked_only_before_a_password_check() {
        let w = world();
        w.add("locked", |l| l.password_hash = Some("fake$sesame".into()))
            .await;
        w.add("open", |_| {}).await;
        let shut = |_: i64| std::future::ready(Err(std::time::Duration::from_secs(7)));
        let throttled = w
            .redirector
            .unlock("locked", Some("sesame".into()), posted(), shut)
            .await
            .expect("unlock");
        assert_eq!(
            throttled,
            Unlock::Throttled(std::time::Duration::from_secs(7))
        );
        assert_eq!(w.hasher.calls.load(Ordering::SeqCst), 0, "nothing hashed");
        // No password to check: the gate is not asked, the link redirects.
        let open_link = w
            .redirector
            .unlock("open", None, posted(), shut)
            .await
            .expect("unlock");
        assert!(matches!(open_link, Unlock::Redirect(ref r) if r.status == 303));
        for slug in ["nope", "locked"] {
            let asked = std::sync::atomic::AtomicBool::new(false);
            let outcome = w
                .redirector
                .unlock(slug, None, posted(), |_| {
                    asked.store(true, Ordering::SeqCst);
                    std::future::ready(Ok(()))
                })
                .await
                .expect("unlock");
            assert!(!asked.load(Ordering::SeqCst), "{slug}: {outcome:?}");
        }
        // A link whose password was removed redirects without one.
        w.store.edit("locked", |l| l.password_hash = None);
        let after = w
            .redirector
            .unlock("locked", Some("anything".into()), posted(), open)
            .await
            .expect("unlock");
        assert!(matches!(after, Unlock::Redirect(_)));
    }

    #[tokio::test]
    async fn the_last_visit_of_a_protected_one_time_link_is_taken_once() {
        let w = world();
        w.add("once", |l| {
            l.password_hash = Some("fake$sesame".into());
            l.max_visits = Some(1);
        })
        .await;
        let first = w
            .redirector
            .unlock("once", Some("sesame".into()), posted(), open)
            .await;
        assert!(matches!(first, Ok(Unlock::Redirect(_))));
        let second = w
            .redirector
            .unlock("once", Some("sesame".into()), posted(), open)
            .await;
        assert!(matches!(second, Ok(Unlock::Gone(None))));
    }

    #[tokio::test]
    async fn previews_show_targets_except_where_seeing_it_is_what_is_guarded() {
        let w = world();
        w.add("open", |_| {}).await;
        w.add("locked", |l| l.password_hash = Some("fake$x".into()))
            .await;
        w.add("once", |l| l.max_visits = Some(1)).await;
        w.add("pending", |l| l.pending = true).await;
        let target = |slug: &'static str| {
            let r = &w.redirector;
            async move {
                match r.preview(slug).await.expect("preview") {
                    Previewed::Found(p) => p.target,
                    other => panic!("{slug}: {other:?}"),
                }
            }
        };
        assert_eq!(
            target("open").await.as_deref(),
            Ok("https://example.com/a?x=1#top")
        );
        assert_eq!(target("locked").await, Err(Hidden::Password));
        assert_eq!(target("once").await, Err(Hidden::VisitLimit));
        assert_eq!(
            w.redirector.preview("pending").await.expect("preview"),
            Previewed::Gone(None)
        );
        assert_eq!(
            w.redirector.preview("nope").await.expect("preview"),
            Previewed::NotFound
        );
        assert!(w.clicks.recorded().is_empty());
    }

    #[tokio::test]
    async fn bots_neither_use_up_nor_see_a_limited_link_but_are_counted() {
        let w = world();
        let id = w.add("once", |l| l.max_visits = Some(1)).await;
        for ua in [Some("Slackbot-LinkExpanding 1.0"), Some("curl/8.5.0"), None] {
            let visit = Visit {
                counted: true,
                query: None,
                visitor: Visitor {
                    user_agent: ua,
                    ..BROWSER
                },
            };
            let outcome = w.redirector.follow("once", visit).await.expect("follow");
            assert_eq!(outcome, Outcome::Withheld, "{ua:?}");
        }
        assert_eq!(w.clicks.recorded(), vec![id, id, id]);
        // The one visit is still there for a person.
        assert!(matches!(w.get("once").await, Outcome::Redirect(_)));
        assert_eq!(w.get("once").await, Outcome::Gone(None));
        let clicks = w.clicks.clicks();
        assert_eq!(clicks.len(), 4);
        assert_eq!(clicks[3].user_agent.as_deref(), BROWSER.user_agent);
    }

    #[tokio::test]
    async fn a_store_that_is_away_is_an_error_never_a_not_found() {
        let w = world();
        w.add("plain", |_| {}).await;
        w.store.down.store(true, Ordering::SeqCst);
        let visit = Visit {
            counted: true,
            query: None,
            visitor: BROWSER,
        };
        assert!(matches!(
            w.redirector.follow("plain", visit).await,
            Err(StoreError::Unavailable(_))
        ));
    }
}
