//! Web-UI sessions and user administration, through the core's
//! `AccountService` on each real database: sessions that expire and end,
//! password changes, disabled users (whose API keys then answer 401),
//! roles, and the rules about whom an admin may change.

use std::time::{Duration as StdDuration, Instant};

use kurz_core::account::{Principal, Role};
use kurz_core::error::AccountError;
use kurz_core::service::AccountService;
use kurz_server::secret::{generate_key, hash_key};
use kurz_server::startup;
use reqwest::StatusCode;
use time::Duration;

use crate::cache::{prefix, redis_url};
use crate::helpers::{expect_error, spawn_app, spawn_with, Backend, TestApp, ADMIN};

const SESSION_TTL: Duration = Duration::hours(12);

/// Signs `name` in (as the web UI will: a random token, stored hashed) and
/// returns the token's hash.
async fn sign_in(accounts: &AccountService, name: &str) -> String {
    let user = accounts
        .user_by_name(name)
        .await
        .expect("lookup")
        .expect("user exists");
    let token_hash = hash_key(&generate_key());
    accounts
        .start_session(user.id, token_hash.clone(), SESSION_TTL)
        .await
        .expect("start a session");
    token_hash
}

/// The principal of a fresh session of `name`.
async fn principal(accounts: &AccountService, name: &str) -> Principal {
    let token = sign_in(accounts, name).await;
    accounts
        .session(&token)
        .await
        .expect("read the session")
        .expect("a live session")
}

async fn is_live(app: &TestApp, token_hash: &str) -> bool {
    app.accounts
        .session(token_hash)
        .await
        .expect("read the session")
        .is_some()
}

async fn user_id(app: &TestApp, name: &str) -> i64 {
    app.accounts
        .user_by_name(name)
        .await
        .expect("lookup")
        .expect("user exists")
        .id
}

async fn sessions_live_until_they_expire_and_logout_ends_them(backend: Backend) {
    let app = spawn_app(backend).await;
    app.user("bob").await;
    let bob = user_id(&app, "bob").await;
    let token = hash_key(&generate_key());
    let expires = app
        .accounts
        .start_session(bob, token.clone(), Duration::minutes(30))
        .await
        .expect("start");
    let now = kurz_core::clock::Clock::now(&*app.clock);
    assert_eq!(expires, now + Duration::minutes(30));

    let who = app.accounts.session(&token).await.expect("read");
    let who = who.expect("a live session");
    assert_eq!(
        (
            who.user_id,
            who.username.as_str(),
            who.role,
            who.key_id,
            who.read_only
        ),
        (bob, "bob", Role::User, 0, false)
    );
    app.clock.advance(Duration::minutes(29));
    assert!(is_live(&app, &token).await);
    app.clock.advance(Duration::minutes(1));
    assert!(!is_live(&app, &token).await, "expired at its time");

    let token = sign_in(&app.accounts, "bob").await;
    assert!(is_live(&app, &token).await);
    assert!(app.accounts.end_session(&token).await.expect("logout"));
    assert!(!is_live(&app, &token).await);
    assert!(!app.accounts.end_session(&token).await.expect("again"));
    assert!(!is_live(&app, &hash_key("never issued")).await);
}

async fn a_password_change_ends_every_session_of_that_user(backend: Backend) {
    let app = spawn_app(backend).await;
    app.user("bob").await;
    let bob_id = user_id(&app, "bob").await;
    let (phone, laptop) = (
        sign_in(&app.accounts, "bob").await,
        sign_in(&app.accounts, "bob").await,
    );
    let admin_token = sign_in(&app.accounts, ADMIN).await;
    let bob = principal(&app.accounts, "bob").await;

    let wrong = app
        .accounts
        .change_password(
            &bob,
            bob_id,
            Some("not-my-password".into()),
            "new-password".into(),
        )
        .await;
    assert!(
        matches!(wrong, Err(AccountError::WrongPassword)),
        "{wrong:?}"
    );
    assert!(is_live(&app, &phone).await, "a refused change ends nothing");

    app.accounts
        .change_password(
            &bob,
            bob_id,
            Some("user-password".into()),
            "new-password".into(),
        )
        .await
        .expect("change");
    assert!(!is_live(&app, &phone).await);
    assert!(!is_live(&app, &laptop).await);
    assert!(is_live(&app, &admin_token).await, "other users stay in");
    let old = app
        .accounts
        .verify_login("bob", "user-password".into())
        .await;
    assert!(matches!(old, Ok(None)));
    let new = app
        .accounts
        .verify_login("bob", "new-password".into())
        .await;
    assert_eq!(new.expect("login").map(|u| u.id), Some(bob_id));

    // An admin sets it without the current one, and bob's new session
    // ends with it.
    let again = sign_in(&app.accounts, "bob").await;
    let admin = principal(&app.accounts, ADMIN).await;
    app.accounts
        .change_password(&admin, bob_id, None, "set-by-admin".into())
        .await
        .expect("admin sets it");
    assert!(!is_live(&app, &again).await);
    let set = app
        .accounts
        .verify_login("bob", "set-by-admin".into())
        .await;
    assert!(matches!(set, Ok(Some(_))));
}

async fn disabling_a_user_ends_their_sessions_and_their_key_answers_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let bob_key = app.user("bob").await;
    let bob_id = user_id(&app, "bob").await;
    let session = sign_in(&app.accounts, "bob").await;
    let admin = principal(&app.accounts, ADMIN).await;
    let list = |key: &str| app.get("/api/v1/links", key).send();
    assert_eq!(list(&bob_key).await.expect("send").status(), StatusCode::OK);

    app.accounts
        .set_disabled(&admin, bob_id, true)
        .await
        .expect("disable");
    assert!(!is_live(&app, &session).await);
    let bob = app.accounts.user_by_id(bob_id).await.expect("read");
    assert!(bob.is_some_and(|u| u.disabled));
    // A key the server has not cached is refused by the store at once.
    let fresh_key = crate::helpers::key_for(&app.accounts, "bob", false).await;
    expect_error(
        list(&fresh_key).await.expect("send"),
        StatusCode::UNAUTHORIZED,
        40101,
        None,
    )
    .await;
    let refused = app.accounts.authenticate(&hash_key(&bob_key)).await;
    assert!(matches!(refused, Ok(None)));
    // No new session signs a disabled user in either.
    let token = sign_in(&app.accounts, "bob").await;
    assert!(!is_live(&app, &token).await);
    // A move to another database keeps them disabled.
    let mut dump = Vec::new();
    app.db.export(&mut dump).await.expect("export");
    let dir = tempfile::tempdir().expect("tempdir");
    let moved = kurz_store::open(
        &kurz_store::DbOptions::new(Backend::Sqlite.fresh_database(&dir).await),
        std::sync::Arc::new(kurz_core::clock::SystemClock),
    )
    .expect("open");
    moved.import(&mut dump.as_slice()).await.expect("import");
    let users = moved.accounts();
    for (name, disabled) in [("bob", true), (ADMIN, false)] {
        let user = users.user_by_name(name).await.expect("read");
        assert_eq!(user.map(|u| u.disabled), Some(disabled), "{name}");
    }
    moved.close().await;

    app.accounts
        .set_disabled(&admin, bob_id, false)
        .await
        .expect("enable");
    assert!(is_live(&app, &token).await, "enabled again");
    let back = app.accounts.authenticate(&hash_key(&fresh_key)).await;
    assert!(matches!(back, Ok(Some(_))));
}

/// The server caches a key's answer; a change made elsewhere (another
/// node, the command line) reaches it through Redis within a second.
async fn a_disabled_or_demoted_users_cached_key_stops_working_on_a_running_node(backend: Backend) {
    let Some(redis) = redis_url() else { return };
    let prefix = prefix();
    let app = spawn_with(backend, |c| {
        c.redis = Some(redis.clone());
        c.cache.redis_prefix = prefix.clone();
    })
    .await;
    // Another node: no in-process cache, telling the app through Redis.
    let mut other = app.config.clone();
    other.cache.l1_max_entries = 0;
    let caches = startup::caches(&other, &app.db).expect("caches");
    assert!(
        caches.redis().expect("redis").connect().await,
        "Redis answers"
    );
    let services = startup::services(&other, &app.db, &caches, app.clock.clone(), "http://x");
    let accounts = services.accounts;
    let admin = principal(&accounts, ADMIN).await;

    let carol_key = app.user("carol").await;
    let carol = user_id(&app, "carol").await;
    accounts
        .set_role(&admin, carol, Role::Admin)
        .await
        .expect("promote");
    // The app caches carol's key as an admin's.
    for _ in 0..3 {
        assert_eq!(reports_status(&app, &carol_key).await, StatusCode::OK);
    }
    accounts
        .set_role(&admin, carol, Role::User)
        .await
        .expect("demote");
    within(StdDuration::from_secs(2), "the demotion", || async {
        reports_status(&app, &carol_key).await == StatusCode::FORBIDDEN
    })
    .await;

    let bob_key = app.user("bob").await;
    let bob = user_id(&app, "bob").await;
    for _ in 0..3 {
        assert_eq!(reports_status(&app, &bob_key).await, StatusCode::FORBIDDEN);
    }
    accounts
        .set_disabled(&admin, bob, true)
        .await
        .expect("disable");
    within(StdDuration::from_secs(2), "the disabling", || async {
        reports_status(&app, &bob_key).await == StatusCode::UNAUTHORIZED
    })
    .await;
}

/// `GET /api/v1/reports`: 200 for an admin, 403 for a user, 401 for no
/// one.
async fn reports_status(app: &TestApp, key: &str) -> StatusCode {
    app.get("/api/v1/reports", key)
        .send()
        .await
        .expect("send")
        .status()
}

async fn within<F, Fut>(limit: StdDuration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < limit,
            "{what} did not reach the node within {limit:?}"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}

async fn roles_change_and_no_admin_demotes_or_disables_themself(backend: Backend) {
    let app = spawn_app(backend).await;
    let bob_key = app.user("bob").await;
    let bob_id = user_id(&app, "bob").await;
    let admin_id = user_id(&app, ADMIN).await;
    let admin = principal(&app.accounts, ADMIN).await;
    let bob_session = sign_in(&app.accounts, "bob").await;

    let bob = principal(&app.accounts, "bob").await;
    for denied in [
        app.accounts.set_role(&bob, bob_id, Role::Admin).await,
        app.accounts.set_disabled(&bob, admin_id, true).await,
        app.accounts.list_users(&bob, None, 10).await.map(|_| ()),
        app.accounts
            .change_password(&bob, admin_id, None, "taken-over".into())
            .await,
    ] {
        assert!(matches!(denied, Err(AccountError::Forbidden)), "{denied:?}");
    }

    app.accounts
        .set_role(&admin, bob_id, Role::Admin)
        .await
        .expect("promote");
    // A session reads the role afresh.
    let who = app.accounts.session(&bob_session).await.expect("read");
    assert_eq!(who.map(|p| p.role), Some(Role::Admin));
    // bob's key, never cached by the server, now acts as an admin's.
    let r = app
        .get("/api/v1/reports", &bob_key)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);

    for own in [
        app.accounts.set_role(&admin, admin_id, Role::User).await,
        app.accounts.set_disabled(&admin, admin_id, true).await,
    ] {
        assert!(matches!(own, Err(AccountError::Forbidden)), "{own:?}");
    }
    // Keeping one's own admin role is no change.
    app.accounts
        .set_role(&admin, admin_id, Role::Admin)
        .await
        .expect("a no-op");
    let missing = app.accounts.set_role(&admin, 999_999, Role::User).await;
    assert!(
        matches!(missing, Err(AccountError::NotFound)),
        "{missing:?}"
    );

    // Another admin may demote this one.
    let bob = principal(&app.accounts, "bob").await;
    app.accounts
        .set_role(&bob, admin_id, Role::User)
        .await
        .expect("demoted by another admin");
    let demoted = app.accounts.user_by_id(admin_id).await.expect("read");
    assert_eq!(demoted.map(|u| u.role), Some(Role::User));

    // Users in keyset pages, disabled ones too.
    for name in ["carol", "dave"] {
        app.user(name).await;
    }
    app.accounts
        .set_disabled(&bob, user_id(&app, "carol").await, true)
        .await
        .expect("disable");
    let first = app.accounts.list_users(&bob, None, 2).await.expect("page");
    let names: Vec<_> = first.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, [ADMIN, "bob"]);
    let rest = app
        .accounts
        .list_users(&bob, first.last().map(|u| u.id), 10)
        .await
        .expect("page");
    let rest: Vec<_> = rest
        .iter()
        .map(|u| (u.username.as_str(), u.disabled))
        .collect();
    assert_eq!(rest, [("carol", true), ("dave", false)]);
}

async fn logins_fail_alike_for_a_wrong_password_an_unknown_name_and_a_disabled_user(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    app.user("bob").await;
    app.user("carol").await;
    let carol = user_id(&app, "carol").await;
    let admin = principal(&app.accounts, ADMIN).await;
    app.accounts
        .set_disabled(&admin, carol, true)
        .await
        .expect("disable");

    let ok = app
        .accounts
        .verify_login("bob", "user-password".into())
        .await;
    assert_eq!(ok.expect("login").map(|u| u.username), Some("bob".into()));
    for (name, password) in [
        ("bob", "wrong-password"),
        ("nobody", "user-password"),
        ("not a name", "user-password"),
        ("carol", "user-password"),
    ] {
        let found = app.accounts.verify_login(name, password.into()).await;
        assert!(matches!(found, Ok(None)), "{name}: {found:?}");
    }
}

async fn the_purge_deletes_expired_sessions_only(backend: Backend) {
    let app = spawn_app(backend).await;
    app.user("bob").await;
    let bob = user_id(&app, "bob").await;
    let mut old = Vec::new();
    for _ in 0..5 {
        let token = hash_key(&generate_key());
        app.accounts
            .start_session(bob, token.clone(), Duration::minutes(5))
            .await
            .expect("start");
        old.push(token);
    }
    let fresh = sign_in(&app.accounts, "bob").await;
    assert_eq!(app.accounts.purge_sessions().await.expect("purge"), 0);

    app.clock.advance(Duration::minutes(10));
    assert_eq!(app.accounts.purge_sessions().await.expect("purge"), 5);
    assert!(is_live(&app, &fresh).await);
    assert_eq!(app.accounts.purge_sessions().await.expect("purge"), 0);
    // A purged token is gone, not merely expired: ending it finds nothing.
    assert!(!app.accounts.end_session(&old[0]).await.expect("end"));
}

backend_tests!(
    sessions_live_until_they_expire_and_logout_ends_them,
    a_password_change_ends_every_session_of_that_user,
    disabling_a_user_ends_their_sessions_and_their_key_answers_401,
    a_disabled_or_demoted_users_cached_key_stops_working_on_a_running_node,
    roles_change_and_no_admin_demotes_or_disables_themself,
    logins_fail_alike_for_a_wrong_password_an_unknown_name_and_a_disabled_user,
    the_purge_deletes_expired_sessions_only,
);
