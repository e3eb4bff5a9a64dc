//! In-memory fakes of the ports, for unit tests of the use cases (here, and
//! elsewhere with the `fakes` feature). Each keeps its state behind one
//! mutex and counts the calls a test may want to check. They stand in for
//! pure logic tests only: the real adapters are tested against real
//! databases.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::{ApiKey, NewApiKey, NewSession, NewUser, Principal, Role, User};
use crate::analytics::{Click, ClickRef};
use crate::error::{AccountError, HashError, InsertError, StoreError};
use crate::link::{Link, LinkChanges, ListQuery, NewLink, RedirectRecord};
use crate::ports::{
    AccountStore, Authenticator, ClickSink, Health, IdSource, Invalidator, LinkLookup, LinkScan,
    LinkStore, PasswordHasher, ReportStore, ScannedLink, SessionStore, VisitStore,
};
use crate::report::{NewReport, Report, ReportQuery, ReportStatus, Resolution, Resolve};
use crate::slug::SlugSecret;

#[derive(Debug, Default)]
struct State {
    /// Live and deleted links by slug; a deleted link keeps its slug.
    links: HashMap<String, (Link, bool)>,
    users: Vec<(User, String)>,
    keys: Vec<(ApiKey, String, bool)>,
    sessions: Vec<NewSession>,
    /// Reports with the network they came from.
    reports: Vec<(Report, Option<String>)>,
}

/// A plain link to `url` (no owner, options or password), for tests that
/// set up a store; change its fields for the case at hand.
pub fn new_link(id: i64, slug: &str, url: &str, created_at: OffsetDateTime) -> NewLink {
    NewLink {
        id,
        slug: slug.into(),
        url: crate::target::TargetUrl::parse(url, &crate::target::UrlPolicy::default())
            .unwrap_or_else(|e| panic!("a test's URL {url} is invalid: {e}")),
        owner_id: None,
        created_at,
        expires_at: None,
        max_visits: None,
        tags: Vec::new(),
        title: None,
        redirect_status: None,
        forward_query: false,
        crawlable: false,
        password_hash: None,
        pending: false,
        visits: 0,
        human_visits: 0,
    }
}

/// Every store port over one in-memory state.
#[derive(Debug)]
pub struct FakeStore {
    state: Mutex<State>,
    next_id: AtomicU64,
    secret: SlugSecret,
    /// `lookup` calls so far.
    pub lookups: AtomicUsize,
    /// `insert` calls so far.
    pub inserts: AtomicUsize,
    /// While set, every call fails as if the store were away.
    pub down: AtomicBool,
    /// While set, `lookup` reads its answer and then waits (a slow query
    /// overtaken by a write).
    pub hold: AtomicBool,
}

impl Default for FakeStore {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            next_id: AtomicU64::new(1),
            secret: SlugSecret::from_bytes([7; SlugSecret::LEN]),
            lookups: AtomicUsize::new(0),
            inserts: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            hold: AtomicBool::new(false),
        }
    }
}

impl FakeStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The ID the next `next_id` hands out.
    pub fn set_next_id(&self, id: u64) {
        self.next_id.store(id, Ordering::SeqCst);
    }

    pub fn secret(&self) -> SlugSecret {
        self.secret.clone()
    }

    /// Changes a stored link in place, as another node would.
    pub fn edit(&self, slug: &str, change: impl FnOnce(&mut Link)) {
        if let Some((link, _)) = self.state().links.get_mut(slug) {
            change(link);
        }
    }

    /// A stored link, deleted or not.
    pub fn get(&self, slug: &str) -> Option<Link> {
        self.state().links.get(slug).map(|(l, _)| l.clone())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_up(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("the fake store is down".into()))
        } else {
            Ok(())
        }
    }

    fn live(&self, slug: &str) -> Option<Link> {
        match self.state().links.get(slug) {
            Some((link, false)) => Some(link.clone()),
            _ => None,
        }
    }
}

#[async_trait]
impl LinkLookup for FakeStore {
    async fn lookup(&self, slug: &str) -> Result<Option<RedirectRecord>, StoreError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.check_up()?;
        let found = self.live(slug).map(|l| l.redirect_record());
        while self.hold.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        Ok(found)
    }
}

#[async_trait]
impl LinkScan for FakeStore {
    async fn enabled_after(&self, after: i64, limit: u32) -> Result<Vec<ScannedLink>, StoreError> {
        self.check_up()?;
        let mut found: Vec<ScannedLink> = self
            .state()
            .links
            .values()
            .filter(|(l, deleted)| !deleted && !l.disabled && l.id > after)
            .map(|(l, _)| ScannedLink {
                id: l.id,
                slug: l.slug.clone(),
                url: l.url.clone(),
            })
            .collect();
        found.sort_by_key(|l| l.id);
        found.truncate(limit as usize);
        Ok(found)
    }
}

#[async_trait]
impl LinkStore for FakeStore {
    async fn insert(&self, new: NewLink) -> Result<Link, InsertError> {
        self.inserts.fetch_add(1, Ordering::SeqCst);
        self.check_up()?;
        let mut state = self.state();
        if state.links.contains_key(&new.slug) {
            return Err(InsertError::SlugTaken);
        }
        if state.links.values().any(|(l, _)| l.id == new.id) {
            return Err(InsertError::Store(StoreError::Other(
                "a link ID was handed out twice".into(),
            )));
        }
        let link = Link {
            id: new.id,
            slug: new.slug.clone(),
            url: new.url.into_string(),
            owner_id: new.owner_id,
            owner: None,
            created_at: new.created_at,
            updated_at: new.created_at,
            expires_at: new.expires_at,
            max_visits: new.max_visits,
            visits: new.visits,
            human_visits: new.human_visits,
            tags: new.tags,
            title: new.title,
            redirect_status: new.redirect_status,
            forward_query: new.forward_query,
            crawlable: new.crawlable,
            password_hash: new.password_hash,
            disabled: false,
            disabled_reason: None,
            pending: new.pending,
        };
        state.links.insert(new.slug, (link.clone(), false));
        Ok(link)
    }

    async fn by_slug(&self, slug: &str) -> Result<Option<Link>, StoreError> {
        self.check_up()?;
        Ok(self.live(slug))
    }

    async fn by_owner_and_url(
        &self,
        owner_id: Option<i64>,
        url: &str,
    ) -> Result<Vec<Link>, StoreError> {
        self.check_up()?;
        let mut found: Vec<Link> = self
            .state()
            .links
            .values()
            .filter(|(l, deleted)| !deleted && l.owner_id == owner_id && l.url == url)
            .map(|(l, _)| l.clone())
            .collect();
        found.sort_by_key(|l| std::cmp::Reverse((l.created_at, l.id)));
        Ok(found)
    }

    /// Owner and limit only: a test that needs paging or filters belongs
    /// with the real stores, so this says so instead of ignoring them.
    async fn list(&self, query: &ListQuery) -> Result<Vec<Link>, StoreError> {
        self.check_up()?;
        if query.after.is_some() || query.q.is_some() || query.tag.is_some() {
            return Err(StoreError::Other(
                "the fake store lists by owner only (no cursor, search or tag)".into(),
            ));
        }
        let mut found: Vec<Link> = self
            .state()
            .links
            .values()
            .filter(|(l, deleted)| !deleted && query.owner_id.is_none_or(|o| l.owner_id == Some(o)))
            .filter(|(l, _)| !query.pending_only || l.pending)
            .map(|(l, _)| l.clone())
            .collect();
        found.sort_by_key(|l| std::cmp::Reverse((l.created_at, l.id)));
        found.truncate(query.limit as usize);
        Ok(found)
    }

    async fn update(
        &self,
        id: i64,
        changes: &LinkChanges,
        at: OffsetDateTime,
    ) -> Result<Option<Link>, StoreError> {
        self.check_up()?;
        let mut state = self.state();
        let Some((link, _)) = state.links.values_mut().find(|(l, d)| l.id == id && !d) else {
            return Ok(None);
        };
        link.updated_at = at;
        if let Some(url) = &changes.url {
            link.url = url.as_str().to_owned();
        }
        if let Some(v) = changes.expires_at {
            link.expires_at = v;
        }
        if let Some(v) = changes.max_visits {
            link.max_visits = v;
        }
        if let Some(v) = &changes.password_hash {
            link.password_hash.clone_from(v);
        }
        if let Some(v) = &changes.tags {
            link.tags.clone_from(v);
        }
        if let Some(v) = &changes.title {
            link.title.clone_from(v);
        }
        if let Some(v) = changes.redirect_status {
            link.redirect_status = v;
        }
        if let Some(v) = changes.forward_query {
            link.forward_query = v;
        }
        if let Some(v) = changes.crawlable {
            link.crawlable = v;
        }
        if let Some(v) = changes.disabled {
            link.disabled = v;
        }
        if let Some(v) = changes.disabled_reason {
            link.disabled_reason = v;
        }
        if let Some(v) = changes.pending {
            link.pending = v;
        }
        Ok(Some(link.clone()))
    }

    async fn delete(&self, id: i64, at: OffsetDateTime) -> Result<bool, StoreError> {
        self.check_up()?;
        let mut state = self.state();
        match state.links.values_mut().find(|(l, d)| l.id == id && !d) {
            Some((link, deleted)) => {
                *deleted = true;
                link.updated_at = at;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn password_hash(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.check_up()?;
        Ok(self
            .state()
            .links
            .values()
            .find(|(l, d)| l.id == id && !d)
            .and_then(|(l, _)| l.password_hash.clone()))
    }
}

impl FakeStore {
    /// The network stored with a report.
    pub fn reporter_network(&self, id: i64) -> Option<String> {
        self.state()
            .reports
            .iter()
            .find(|(r, _)| r.id == id)
            .and_then(|(_, n)| n.clone())
    }
}

#[async_trait]
impl ReportStore for FakeStore {
    async fn insert_report(&self, new: NewReport) -> Result<Report, StoreError> {
        self.check_up()?;
        let mut state = self.state();
        let report = Report {
            id: i64::try_from(state.reports.len()).unwrap_or(i64::MAX) + 1,
            link_id: new.link_id,
            slug: new.slug,
            reason: new.reason,
            details: new.details,
            status: ReportStatus::Open,
            created_at: new.created_at,
            resolution: None,
            resolved_at: None,
        };
        state.reports.push((report.clone(), new.reporter_network));
        Ok(report)
    }

    async fn report(&self, id: i64) -> Result<Option<Report>, StoreError> {
        self.check_up()?;
        Ok(self
            .state()
            .reports
            .iter()
            .find(|(r, _)| r.id == id)
            .map(|(r, _)| r.clone()))
    }

    /// Status and limit only, as the fake's link list.
    async fn list_reports(&self, query: &ReportQuery) -> Result<Vec<Report>, StoreError> {
        self.check_up()?;
        if query.after.is_some() {
            return Err(StoreError::Other("the fake store pages no reports".into()));
        }
        let mut found: Vec<Report> = self
            .state()
            .reports
            .iter()
            .filter(|(r, _)| r.status == query.status)
            .map(|(r, _)| r.clone())
            .collect();
        found.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
        found.truncate(query.limit as usize);
        Ok(found)
    }

    async fn resolve_reports(
        &self,
        which: Resolve,
        resolution: Resolution,
        at: OffsetDateTime,
        _by: Option<i64>,
    ) -> Result<u64, StoreError> {
        self.check_up()?;
        let mut changed = 0;
        for (r, _) in &mut self.state().reports {
            let named = match which {
                Resolve::One(id) => r.id == id,
                Resolve::OfLink(link) => r.link_id == link,
            };
            if named && r.status == ReportStatus::Open {
                r.status = ReportStatus::Resolved;
                r.resolution = Some(resolution);
                r.resolved_at = Some(at);
                changed += 1;
            }
        }
        Ok(changed)
    }
}

#[async_trait]
impl IdSource for FakeStore {
    async fn next_id(&self) -> Result<u64, StoreError> {
        self.check_up()?;
        Ok(self.next_id.fetch_add(1, Ordering::SeqCst))
    }

    async fn slug_secret(&self) -> Result<SlugSecret, StoreError> {
        self.check_up()?;
        Ok(self.secret.clone())
    }
}

#[async_trait]
impl VisitStore for FakeStore {
    async fn take_visit(&self, id: i64) -> Result<bool, StoreError> {
        self.check_up()?;
        let mut state = self.state();
        let Some((link, _)) = state.links.values_mut().find(|(l, d)| l.id == id && !d) else {
            return Ok(false);
        };
        if link.max_visits.is_some_and(|m| link.human_visits >= m) {
            return Ok(false);
        }
        link.human_visits += 1;
        Ok(true)
    }
}

#[async_trait]
impl AccountStore for FakeStore {
    async fn create_user(&self, user: NewUser) -> Result<User, AccountError> {
        self.check_up()?;
        let mut state = self.state();
        if state.users.iter().any(|(u, _)| u.username == user.username) {
            return Err(AccountError::UsernameTaken);
        }
        let stored = User {
            id: state.users.len() as i64 + 1,
            username: user.username,
            role: user.role,
            created_at: user.created_at,
            disabled: false,
        };
        state.users.push((stored.clone(), user.password_hash));
        Ok(stored)
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.check_up()?;
        Ok(self
            .state()
            .users
            .iter()
            .find(|(u, _)| u.id == id)
            .map(|(u, _)| u.clone()))
    }

    async fn login_record(&self, username: &str) -> Result<Option<(User, String)>, StoreError> {
        self.check_up()?;
        Ok(self
            .state()
            .users
            .iter()
            .find(|(u, _)| u.username == username)
            .cloned())
    }

    async fn list_users(&self, after: Option<i64>, limit: u32) -> Result<Vec<User>, StoreError> {
        self.check_up()?;
        let mut found: Vec<User> = self
            .state()
            .users
            .iter()
            .filter(|(u, _)| after.is_none_or(|a| u.id > a))
            .map(|(u, _)| u.clone())
            .collect();
        found.sort_by_key(|u| u.id);
        found.truncate(limit as usize);
        Ok(found)
    }

    async fn set_role(&self, user_id: i64, role: Role) -> Result<bool, StoreError> {
        self.check_up()?;
        Ok(self.edit_user(user_id, |u, _| u.role = role))
    }

    async fn set_disabled(
        &self,
        user_id: i64,
        disabled: bool,
        _at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.check_up()?;
        Ok(self.edit_user(user_id, |u, _| u.disabled = disabled))
    }

    async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        _at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.check_up()?;
        Ok(self.edit_user(user_id, |_, hash| password_hash.clone_into(hash)))
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.check_up()?;
        Ok(self
            .state()
            .users
            .iter()
            .find(|(u, _)| u.username == username)
            .map(|(u, _)| u.clone()))
    }

    async fn create_key(&self, key: NewApiKey) -> Result<ApiKey, StoreError> {
        self.check_up()?;
        let mut state = self.state();
        let stored = ApiKey {
            id: state.keys.len() as i64 + 1,
            user_id: key.user_id,
            name: key.name,
            read_only: key.read_only,
            created_at: key.created_at,
        };
        state.keys.push((stored.clone(), key.key_hash, false));
        Ok(stored)
    }

    async fn keys_of(&self, user_id: i64) -> Result<Vec<ApiKey>, StoreError> {
        self.check_up()?;
        Ok(self
            .state()
            .keys
            .iter()
            .filter(|(k, _, revoked)| k.user_id == user_id && !revoked)
            .map(|(k, _, _)| k.clone())
            .collect())
    }

    async fn revoke_key(
        &self,
        user_id: i64,
        key_id: i64,
        _at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.check_up()?;
        let mut state = self.state();
        match state
            .keys
            .iter_mut()
            .find(|(k, _, revoked)| k.id == key_id && k.user_id == user_id && !revoked)
        {
            Some((_, _, revoked)) => {
                *revoked = true;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

impl FakeStore {
    /// Changes a user in place; `false` when there is no such user.
    fn edit_user(&self, id: i64, change: impl FnOnce(&mut User, &mut String)) -> bool {
        match self.state().users.iter_mut().find(|(u, _)| u.id == id) {
            Some((user, hash)) => {
                change(user, hash);
                true
            }
            None => false,
        }
    }

    /// Sessions stored, expired ones included.
    pub fn session_count(&self) -> usize {
        self.state().sessions.len()
    }
}

#[async_trait]
impl SessionStore for FakeStore {
    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        self.check_up()?;
        let mut state = self.state();
        if state
            .sessions
            .iter()
            .any(|s| s.token_hash == session.token_hash)
        {
            return Err(StoreError::Other("a session token was made twice".into()));
        }
        state.sessions.push(session);
        Ok(())
    }

    async fn session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Principal>, StoreError> {
        self.check_up()?;
        let state = self.state();
        let Some(session) = state
            .sessions
            .iter()
            .find(|s| s.token_hash == token_hash && s.expires_at > now)
        else {
            return Ok(None);
        };
        Ok(state
            .users
            .iter()
            .find(|(u, _)| u.id == session.user_id && !u.disabled)
            .map(|(u, _)| Principal {
                user_id: u.id,
                username: u.username.clone(),
                role: u.role,
                key_id: 0,
                read_only: false,
            }))
    }

    async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        self.check_up()?;
        let mut state = self.state();
        let before = state.sessions.len();
        state.sessions.retain(|s| s.token_hash != token_hash);
        Ok(state.sessions.len() < before)
    }

    async fn delete_sessions_of(&self, user_id: i64) -> Result<u64, StoreError> {
        self.check_up()?;
        let mut state = self.state();
        let before = state.sessions.len();
        state.sessions.retain(|s| s.user_id != user_id);
        Ok((before - state.sessions.len()) as u64)
    }

    async fn purge_sessions(&self, before: OffsetDateTime, max: u32) -> Result<u64, StoreError> {
        self.check_up()?;
        let mut state = self.state();
        let mut left = max;
        state.sessions.retain(|s| {
            if left > 0 && s.expires_at < before {
                left -= 1;
                false
            } else {
                true
            }
        });
        Ok(u64::from(max - left))
    }
}

#[async_trait]
impl Authenticator for FakeStore {
    async fn authenticate(&self, key_hash: &str) -> Result<Option<Principal>, StoreError> {
        self.check_up()?;
        let state = self.state();
        let Some((key, _, _)) = state
            .keys
            .iter()
            .find(|(_, hash, revoked)| hash == key_hash && !revoked)
        else {
            return Ok(None);
        };
        Ok(state
            .users
            .iter()
            .find(|(u, _)| u.id == key.user_id && !u.disabled)
            .map(|(u, _)| Principal {
                user_id: u.id,
                username: u.username.clone(),
                role: u.role,
                key_id: key.id,
                read_only: key.read_only,
            }))
    }
}

#[async_trait]
impl Health for FakeStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.check_up()
    }
}

/// Hashes as `fake$<password>`: tests of the use cases need the port's
/// behaviour (right, wrong, busy), not argon2.
#[derive(Debug, Default)]
pub struct FakeHasher {
    /// While set, every call answers [`HashError::Busy`].
    pub busy: AtomicBool,
    /// Calls so far.
    pub calls: AtomicUsize,
}

#[async_trait]
impl PasswordHasher for FakeHasher {
    async fn hash(&self, password: String) -> Result<String, HashError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.busy.load(Ordering::SeqCst) {
            return Err(HashError::Busy);
        }
        Ok(format!("fake${password}"))
    }

    async fn verify(&self, hash: String, password: String) -> Result<bool, HashError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.busy.load(Ordering::SeqCst) {
            return Err(HashError::Busy);
        }
        Ok(hash.strip_prefix("fake$") == Some(password.as_str()))
    }
}

/// Remembers every click.
#[derive(Debug, Default)]
pub struct FakeClicks {
    clicks: Mutex<Vec<Click>>,
}

impl FakeClicks {
    /// The link of each click, in order.
    pub fn recorded(&self) -> Vec<i64> {
        self.clicks().iter().map(|c| c.link_id).collect()
    }

    pub fn clicks(&self) -> Vec<Click> {
        self.clicks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ClickSink for FakeClicks {
    fn record(&self, click: ClickRef<'_>) {
        self.clicks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(click.to_click());
    }
}

/// Remembers what caches were told.
#[derive(Debug, Default)]
pub struct FakeInvalidator {
    links: Mutex<Vec<String>>,
    keys: Mutex<Vec<i64>>,
}

impl FakeInvalidator {
    pub fn links(&self) -> Vec<String> {
        self.links
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn keys(&self) -> Vec<i64> {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl Invalidator for FakeInvalidator {
    async fn link_changed(&self, slug: &str) {
        self.links
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(slug.to_owned());
    }

    async fn key_revoked(&self, key_id: i64) {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(key_id);
    }
}
