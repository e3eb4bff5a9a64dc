//! `AccountService`'s rules over the in-memory fakes; the SQL behind them
//! is tested against the real databases in the server's API tests.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::*;
use crate::clock::ManualClock;
use crate::error::HashError;
use crate::fake::{FakeHasher, FakeInvalidator, FakeStore};

struct World {
    store: Arc<FakeStore>,
    hasher: Arc<FakeHasher>,
    invalidator: Arc<FakeInvalidator>,
    clock: Arc<ManualClock>,
    service: AccountService,
    admin: Principal,
    bob: Principal,
}

fn principal(user: &User) -> Principal {
    Principal {
        user_id: user.id,
        username: user.username.clone(),
        role: user.role,
        key_id: 0,
        read_only: false,
    }
}

async fn world() -> World {
    let store = FakeStore::new();
    let hasher = Arc::new(FakeHasher::default());
    let invalidator = Arc::new(FakeInvalidator::default());
    let clock = Arc::new(ManualClock::new(
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000),
    ));
    let service = AccountService::new(AccountPorts {
        store: store.clone(),
        sessions: store.clone(),
        authenticator: store.clone(),
        hasher: hasher.clone(),
        clock: clock.clone(),
        invalidator: invalidator.clone(),
    });
    let admin = service
        .create_user("admin", "admin-password".into(), Role::Admin)
        .await
        .expect("admin");
    let bob = service
        .create_user("bob", "bob-password".into(), Role::User)
        .await
        .expect("bob");
    World {
        store,
        hasher,
        invalidator,
        clock,
        service,
        admin: principal(&admin),
        bob: principal(&bob),
    }
}

#[tokio::test]
async fn a_login_needs_the_right_password_of_an_enabled_user() {
    let w = world().await;
    let user = w
        .service
        .verify_login("bob", "bob-password".into())
        .await
        .expect("login");
    assert_eq!(user.map(|u| u.id), Some(w.bob.user_id));
    let wrong = w.service.verify_login("bob", "not-it-at-all".into()).await;
    assert!(matches!(wrong, Ok(None)));

    w.service
        .set_disabled(&w.admin, w.bob.user_id, true)
        .await
        .expect("disable");
    let disabled = w.service.verify_login("bob", "bob-password".into()).await;
    assert!(matches!(disabled, Ok(None)));
}

#[tokio::test]
async fn an_unknown_name_costs_one_password_check_too() {
    let w = world().await;
    let before = w.hasher.calls.load(Ordering::SeqCst);
    for name in ["nobody", "not a valid name"] {
        let found = w.service.verify_login(name, "whatever-pw".into()).await;
        assert!(matches!(found, Ok(None)));
    }
    assert_eq!(w.hasher.calls.load(Ordering::SeqCst) - before, 2);

    w.hasher.busy.store(true, Ordering::SeqCst);
    let busy = w.service.verify_login("nobody", "whatever-pw".into()).await;
    assert!(matches!(busy, Err(AccountError::Hash(HashError::Busy))));
}

#[tokio::test]
async fn a_session_signs_in_until_it_expires_or_ends() {
    let w = world().await;
    let expires = w
        .service
        .start_session(w.bob.user_id, "t1".into(), Duration::minutes(30))
        .await
        .expect("start");
    assert_eq!(expires, w.clock.now() + Duration::minutes(30));
    let who = w.service.session("t1").await.expect("read").expect("live");
    assert_eq!(
        (who.user_id, who.key_id, who.read_only),
        (w.bob.user_id, 0, false)
    );

    w.clock.advance(Duration::minutes(30));
    assert!(w.service.session("t1").await.expect("read").is_none());

    w.service
        .start_session(w.bob.user_id, "t2".into(), Duration::minutes(30))
        .await
        .expect("start");
    assert!(w.service.end_session("t2").await.expect("end"));
    assert!(w.service.session("t2").await.expect("read").is_none());
    assert!(!w.service.end_session("t2").await.expect("end again"));
}

#[tokio::test]
async fn only_admins_list_users_in_keyset_pages() {
    let w = world().await;
    for name in ["carol", "dave", "erin"] {
        w.service
            .create_user(name, "long-enough".into(), Role::User)
            .await
            .expect("user");
    }
    let first = w.service.list_users(&w.admin, None, 2).await.expect("page");
    let names: Vec<_> = first.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["admin", "bob"]);
    let next = w
        .service
        .list_users(&w.admin, first.last().map(|u| u.id), 10)
        .await
        .expect("page");
    let names: Vec<_> = next.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["carol", "dave", "erin"]);

    let denied = w.service.list_users(&w.bob, None, 10).await;
    assert!(matches!(denied, Err(AccountError::Forbidden)));
    for limit in [0, MAX_USERS_PAGE + 1] {
        let bad = w.service.list_users(&w.admin, None, limit).await;
        assert!(matches!(
            bad,
            Err(AccountError::Invalid {
                field: Field::Limit,
                ..
            })
        ));
    }
}

#[tokio::test]
async fn admins_change_roles_but_never_demote_themselves() {
    let w = world().await;
    let key = w
        .service
        .add_key(w.bob.user_id, None, false, "bob-key".into())
        .await
        .expect("key");
    w.service
        .set_role(&w.admin, w.bob.user_id, Role::Admin)
        .await
        .expect("promote");
    let bob = w.service.user_by_id(w.bob.user_id).await.expect("read");
    assert_eq!(bob.map(|u| u.role), Some(Role::Admin));
    // A cached key of bob's carries the old role.
    assert_eq!(w.invalidator.keys(), [key.id]);

    let demote_self = w
        .service
        .set_role(&w.admin, w.admin.user_id, Role::User)
        .await;
    assert!(matches!(demote_self, Err(AccountError::Forbidden)));
    let by_user = w
        .service
        .set_role(&w.bob, w.admin.user_id, Role::User)
        .await;
    assert!(matches!(by_user, Err(AccountError::Forbidden)));
    let nobody = w.service.set_role(&w.admin, 999, Role::User).await;
    assert!(matches!(nobody, Err(AccountError::NotFound)));
    let read_only = Principal {
        read_only: true,
        ..w.admin.clone()
    };
    let denied = w
        .service
        .set_role(&read_only, w.bob.user_id, Role::User)
        .await;
    assert!(matches!(denied, Err(AccountError::Forbidden)));
}

#[tokio::test]
async fn disabling_ends_sessions_and_forgets_the_users_keys_everywhere() {
    let w = world().await;
    let key = w
        .service
        .add_key(w.bob.user_id, None, false, "bob-key".into())
        .await
        .expect("key");
    for token in ["s1", "s2"] {
        w.service
            .start_session(w.bob.user_id, token.into(), Duration::hours(1))
            .await
            .expect("start");
    }
    w.service
        .start_session(w.admin.user_id, "admin-s".into(), Duration::hours(1))
        .await
        .expect("start");

    w.service
        .set_disabled(&w.admin, w.bob.user_id, true)
        .await
        .expect("disable");
    assert_eq!(w.store.session_count(), 1);
    assert!(w.service.session("admin-s").await.expect("read").is_some());
    assert_eq!(w.invalidator.keys(), [key.id]);
    assert!(w
        .service
        .authenticate("bob-key")
        .await
        .expect("auth")
        .is_none());
    let user = w.service.user_by_id(w.bob.user_id).await.expect("read");
    assert!(user.is_some_and(|u| u.disabled));

    w.service
        .set_disabled(&w.admin, w.bob.user_id, false)
        .await
        .expect("enable");
    assert!(w
        .service
        .authenticate("bob-key")
        .await
        .expect("auth")
        .is_some());
}

#[tokio::test]
async fn no_one_disables_themself_and_users_disable_no_one() {
    let w = world().await;
    let own = w
        .service
        .set_disabled(&w.admin, w.admin.user_id, true)
        .await;
    assert!(matches!(own, Err(AccountError::Forbidden)));
    let by_user = w.service.set_disabled(&w.bob, w.admin.user_id, true).await;
    assert!(matches!(by_user, Err(AccountError::Forbidden)));
    let nobody = w.service.set_disabled(&w.admin, 999, true).await;
    assert!(matches!(nobody, Err(AccountError::NotFound)));
    // The operator has no row of its own to lock out.
    w.service
        .set_disabled(&Principal::operator(), w.admin.user_id, true)
        .await
        .expect("the operator disables an admin");
}

#[tokio::test]
async fn a_user_changes_their_password_with_the_current_one() {
    let w = world().await;
    w.service
        .start_session(w.bob.user_id, "s1".into(), Duration::hours(1))
        .await
        .expect("start");
    for current in [None, Some("not-the-password".to_owned())] {
        let refused = w
            .service
            .change_password(&w.bob, w.bob.user_id, current, "new-password".into())
            .await;
        assert!(matches!(refused, Err(AccountError::WrongPassword)));
    }
    assert!(w.service.session("s1").await.expect("read").is_some());
    let short = w
        .service
        .change_password(
            &w.bob,
            w.bob.user_id,
            Some("bob-password".into()),
            "short".into(),
        )
        .await;
    assert!(matches!(
        short,
        Err(AccountError::Invalid {
            field: Field::Password,
            ..
        })
    ));

    w.service
        .change_password(
            &w.bob,
            w.bob.user_id,
            Some("bob-password".into()),
            "new-password".into(),
        )
        .await
        .expect("change");
    assert!(w.service.session("s1").await.expect("read").is_none());
    let old = w.service.verify_login("bob", "bob-password".into()).await;
    assert!(matches!(old, Ok(None)));
    let new = w.service.verify_login("bob", "new-password".into()).await;
    assert!(matches!(new, Ok(Some(_))));
}

#[tokio::test]
async fn admins_set_others_passwords_and_users_do_not() {
    let w = world().await;
    w.service
        .change_password(&w.admin, w.bob.user_id, None, "set-by-admin".into())
        .await
        .expect("admin sets it");
    let new = w.service.verify_login("bob", "set-by-admin".into()).await;
    assert!(matches!(new, Ok(Some(_))));

    let by_user = w
        .service
        .change_password(&w.bob, w.admin.user_id, None, "hijacked-pw".into())
        .await;
    assert!(matches!(by_user, Err(AccountError::Forbidden)));
    // An admin's own password needs the current one like anyone's.
    let own = w
        .service
        .change_password(&w.admin, w.admin.user_id, None, "another-pw".into())
        .await;
    assert!(matches!(own, Err(AccountError::WrongPassword)));
    let nobody = w
        .service
        .change_password(&w.admin, 999, None, "whatever-pw".into())
        .await;
    assert!(matches!(nobody, Err(AccountError::NotFound)));
}

#[tokio::test]
async fn the_purge_deletes_expired_sessions_only() {
    let w = world().await;
    let count = SESSION_PURGE_BATCH as usize + 5;
    for i in 0..count {
        w.service
            .start_session(w.bob.user_id, format!("old-{i}"), Duration::minutes(1))
            .await
            .expect("start");
    }
    w.service
        .start_session(w.bob.user_id, "fresh".into(), Duration::hours(2))
        .await
        .expect("start");
    w.clock.advance(Duration::minutes(2));
    assert_eq!(
        w.service.purge_sessions().await.expect("purge"),
        count as u64
    );
    assert_eq!(w.store.session_count(), 1);
    assert!(w.service.session("fresh").await.expect("read").is_some());
    assert_eq!(w.service.purge_sessions().await.expect("purge"), 0);
}
