//! `LinkService` over the in-memory fakes, with a manual clock.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::*;
use crate::account::Role;
use crate::clock::ManualClock;
use crate::error::StoreError;
use crate::fake::{FakeHasher, FakeInvalidator, FakeStore};

struct World {
    store: Arc<FakeStore>,
    hasher: Arc<FakeHasher>,
    invalidator: Arc<FakeInvalidator>,
    clock: Arc<ManualClock>,
    service: LinkService,
}

fn world_with(adjust: impl FnOnce(&mut LinkSettings)) -> World {
    let store = FakeStore::new();
    let hasher = Arc::new(FakeHasher::default());
    let invalidator = Arc::new(FakeInvalidator::default());
    let clock = Arc::new(ManualClock::new(
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000),
    ));
    let mut settings = LinkSettings {
        slug_length: 6,
        default_redirect: RedirectCode::FOUND,
        url_policy: UrlPolicy::default(),
        keywords: KeywordPolicy::default(),
        hosts: HostPolicy::default(),
    };
    adjust(&mut settings);
    let service = LinkService::new(
        LinkPorts {
            links: store.clone(),
            ids: store.clone(),
            hasher: hasher.clone(),
            clock: clock.clone(),
            invalidator: invalidator.clone(),
        },
        settings,
    );
    World {
        store,
        hasher,
        invalidator,
        clock,
        service,
    }
}

fn world() -> World {
    world_with(|_| {})
}

fn alice() -> Principal {
    Principal {
        user_id: 1,
        username: "alice".into(),
        role: Role::User,
        key_id: 1,
        read_only: false,
    }
}

fn url(u: &str) -> CreateLink {
    CreateLink {
        url: u.into(),
        ..CreateLink::default()
    }
}

fn created(c: Created) -> Link {
    match c {
        Created::New(l) => l,
        Created::Existing(l) => panic!("expected a new link, got the existing {}", l.slug),
    }
}

#[tokio::test]
async fn a_generated_code_held_by_an_alias_is_skipped() {
    let w = world();
    let codec = SlugCodec::new(&w.store.secret(), 6);
    let second = codec.encode(2).expect("in range");
    // Someone chose, as an alias, the code ID 2 will get; the alias itself
    // takes ID 1.
    let alias = CreateLink {
        alias: Some(second.clone()),
        ..url("https://example.com/alias")
    };
    let taken = created(w.service.create(None, alias).await.expect("alias"));
    assert_eq!((taken.id, taken.slug.as_str()), (1, second.as_str()));
    let link = created(
        w.service
            .create(None, url("https://example.com/"))
            .await
            .expect("create"),
    );
    // ID 2's code is held: the link gets ID 3 and its code.
    assert_eq!(link.id, 3);
    assert_eq!(link.slug, codec.encode(3).expect("in range"));
    assert_eq!(w.store.inserts.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_code_space_used_up_is_a_clear_error_not_a_fault() {
    let w = world_with(|s| s.slug_length = 4);
    let capacity = SlugCodec::new(&w.store.secret(), 4).capacity();
    w.store.set_next_id(capacity);
    let err = w
        .service
        .create(None, url("https://example.com/"))
        .await
        .expect_err("no code left");
    assert!(
        matches!(err, LinkError::NoFreeCode(NoFreeCode::Exhausted(_))),
        "{err:?}"
    );
    assert!(err.to_string().contains("slug length"), "{err}");
}

#[tokio::test]
async fn codes_that_keep_meeting_blocked_words_give_up_after_a_bound() {
    // Every code contains a blocked character: none can ever be used.
    let all: Vec<String> = "0123456789abcdefghijklmnopqrstuvwxyz"
        .chars()
        .map(String::from)
        .collect();
    let w = world_with(|s| s.keywords = KeywordPolicy::new(&all, &[]));
    let err = w
        .service
        .create(None, url("https://example.com/"))
        .await
        .expect_err("gives up");
    assert!(
        matches!(err, LinkError::NoFreeCode(NoFreeCode::Skipped(n)) if n == MAX_SKIPS),
        "{err:?}"
    );
    assert_eq!(w.store.inserts.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn passwords_are_hashed_only_for_otherwise_valid_requests() {
    let w = world();
    let bad = CreateLink {
        password: Some("sesame".into()),
        max_visits: Some(0),
        ..url("https://example.com/")
    };
    let err = w.service.create(None, bad).await.expect_err("invalid");
    assert!(matches!(
        err,
        LinkError::Invalid {
            field: Field::MaxVisits,
            ..
        }
    ));
    let read_only = Principal {
        read_only: true,
        ..alice()
    };
    let good = CreateLink {
        password: Some("sesame".into()),
        ..url("https://example.com/")
    };
    let err = w
        .service
        .create(Some(&read_only), good.clone())
        .await
        .expect_err("read-only");
    assert!(matches!(err, LinkError::Forbidden));
    assert_eq!(w.hasher.calls.load(Ordering::SeqCst), 0);

    let link = created(w.service.create(None, good).await.expect("create"));
    assert_eq!(link.password_hash.as_deref(), Some("fake$sesame"));
    assert_eq!(w.hasher.calls.load(Ordering::SeqCst), 1);

    w.hasher.busy.store(true, Ordering::SeqCst);
    let busy = CreateLink {
        password: Some("again".into()),
        ..url("https://example.com/")
    };
    let err = w.service.create(None, busy).await.expect_err("busy");
    assert!(matches!(
        err,
        LinkError::Hash(crate::error::HashError::Busy)
    ));
}

#[tokio::test]
async fn expiry_is_judged_by_the_clock() {
    let w = world();
    let now = w.clock.now();
    let past = CreateLink {
        expires_at: Some(now),
        ..url("https://example.com/")
    };
    let err = w.service.create(None, past).await.expect_err("past");
    assert!(matches!(
        err,
        LinkError::Invalid {
            field: Field::ExpiresAt,
            ..
        }
    ));
    let soon = CreateLink {
        expires_at: Some(now + Duration::seconds(1)),
        ..url("https://example.com/")
    };
    let link = created(w.service.create(None, soon).await.expect("future"));
    assert_eq!(w.service.status(&link), LinkStatus::Active);
    w.clock.advance(Duration::seconds(1));
    assert_eq!(w.service.status(&link), LinkStatus::Expired);
}

#[tokio::test]
async fn reuse_finds_only_a_link_that_behaves_as_asked() {
    let w = world();
    let who = alice();
    let first = created(
        w.service
            .create(
                Some(&who),
                CreateLink {
                    tags: vec!["a".into(), "b".into()],
                    max_visits: Some(5),
                    ..url("https://example.com/r")
                },
            )
            .await
            .expect("create"),
    );
    let again = |req: CreateLink| w.service.create(Some(&who), req);
    let same = again(CreateLink {
        reuse: true,
        max_visits: Some(5),
        tags: vec!["b".into()],
        ..url("https://example.com/r")
    })
    .await
    .expect("reuse");
    assert!(matches!(same, Created::Existing(ref l) if l.slug == first.slug));
    // Leaving out `max_visits` asks for a link without a limit, not for
    // this five-visit one.
    for other in [
        CreateLink {
            reuse: true,
            ..url("https://example.com/r")
        },
        CreateLink {
            reuse: true,
            max_visits: Some(1),
            ..url("https://example.com/r")
        },
    ] {
        let made = again(other).await.expect("new");
        assert!(matches!(made, Created::New(ref l) if l.slug != first.slug));
    }
    // Once the link stops redirecting it is not reused.
    w.store.edit(&first.slug, |l| l.disabled = true);
    let after = again(CreateLink {
        reuse: true,
        max_visits: Some(5),
        ..url("https://example.com/r")
    })
    .await
    .expect("new");
    assert!(matches!(after, Created::New(_)));
}

#[tokio::test]
async fn a_store_that_is_away_is_reported_as_such() {
    let w = world();
    w.store.down.store(true, Ordering::SeqCst);
    let err = w
        .service
        .create(None, url("https://example.com/"))
        .await
        .expect_err("down");
    assert!(matches!(err, LinkError::Store(StoreError::Unavailable(_))));
}

#[test]
fn tags_are_trimmed_and_deduplicated() {
    let tags = check_tags(vec![" a ".into(), "a".into(), "b".into()]).expect("valid");
    assert_eq!(tags, vec!["a", "b"]);
    let many: Vec<String> = (0..=MAX_TAGS).map(|i| i.to_string()).collect();
    assert!(check_tags(many).is_err());
    let repeated: Vec<String> = (0..1000).map(|i| (i % MAX_TAGS).to_string()).collect();
    assert_eq!(check_tags(repeated).expect("valid").len(), MAX_TAGS);
}

#[test]
fn bad_fields_name_themselves() {
    let field_of = |e: LinkError| match e {
        LinkError::Invalid { field, .. } => field,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        field_of(check_tags(vec![String::new()]).unwrap_err()),
        Field::Tags
    );
    assert_eq!(
        field_of(check_max_visits(Some(0)).unwrap_err()),
        Field::MaxVisits
    );
    assert_eq!(
        field_of(check_redirect_status(Some(303)).unwrap_err()),
        Field::RedirectStatus
    );
    let now = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
    assert_eq!(
        field_of(check_expiry(Some(OffsetDateTime::UNIX_EPOCH), now).unwrap_err()),
        Field::ExpiresAt
    );
    assert_eq!(
        field_of(check_title(Some("a\nb".into())).unwrap_err()),
        Field::Title
    );
    assert_eq!(field_of(check_password("").unwrap_err()), Field::Password);
}

#[tokio::test]
async fn every_write_tells_the_caches_after_the_store_has_it() {
    let w = world();
    let admin = Principal {
        role: Role::Admin,
        ..alice()
    };
    let alias = CreateLink {
        alias: Some("mine".into()),
        ..url("https://example.com/")
    };
    created(w.service.create(None, alias).await.expect("create"));
    let generated = created(
        w.service
            .create(None, url("https://example.com/"))
            .await
            .expect("create"),
    );
    let change = UpdateLink {
        disabled: Some(true),
        ..UpdateLink::default()
    };
    w.service
        .update(&admin, "mine", change)
        .await
        .expect("update");
    w.service.delete(&admin, "mine").await.expect("delete");
    assert_eq!(
        w.invalidator.links(),
        vec![
            "mine".to_owned(),
            generated.slug.clone(),
            "mine".into(),
            "mine".into()
        ]
    );
    // A failed write tells nobody.
    let err = w.service.delete(&admin, "mine").await.expect_err("gone");
    assert!(matches!(err, LinkError::NotFound));
    assert_eq!(w.invalidator.links().len(), 4);
}

#[tokio::test]
async fn a_taken_alias_is_a_conflict_and_a_blocked_generated_code_is_skipped() {
    let codec_of = |w: &World| SlugCodec::new(&w.store.secret(), 6);
    let probe = world();
    let first = codec_of(&probe).encode(1).expect("in range");
    // The code ID 1 would get holds a blocked word: the link gets ID 2's.
    let w = world_with(|s| s.keywords = KeywordPolicy::new(std::slice::from_ref(&first), &[]));
    let link = created(
        w.service
            .create(None, url("https://example.com/"))
            .await
            .expect("create"),
    );
    assert_eq!(link.id, 2);
    assert_eq!(link.slug, codec_of(&w).encode(2).expect("in range"));

    let alias = || CreateLink {
        alias: Some("taken".into()),
        ..url("https://example.com/")
    };
    created(w.service.create(None, alias()).await.expect("first"));
    let err = w.service.create(None, alias()).await.expect_err("second");
    assert!(matches!(err, LinkError::SlugTaken), "{err:?}");
}

#[tokio::test]
async fn a_read_only_key_changes_nothing_whether_the_link_exists_or_not() {
    let w = world();
    let reader = Principal {
        read_only: true,
        ..alice()
    };
    for slug in ["missing", "also-missing"] {
        let err = w
            .service
            .update(&reader, slug, UpdateLink::default())
            .await
            .expect_err("read-only");
        assert!(matches!(err, LinkError::Forbidden), "{err:?}");
        let err = w
            .service
            .delete(&reader, slug)
            .await
            .expect_err("read-only");
        assert!(matches!(err, LinkError::Forbidden), "{err:?}");
    }
}

#[tokio::test]
async fn only_an_admin_changes_what_the_instance_disabled() {
    let w = world();
    let link = created(
        w.service
            .create(Some(&alice()), url("https://example.com/"))
            .await
            .expect("create"),
    );
    let admin = Principal {
        role: Role::Admin,
        ..alice()
    };
    let disabled = w
        .service
        .disable(&admin, &link.slug, DisabledReason::Abuse)
        .await
        .expect("disable");
    assert!(disabled.disabled);
    assert_eq!(disabled.disabled_reason, Some(DisabledReason::Abuse));
    assert!(matches!(
        w.service
            .disable(&alice(), &link.slug, DisabledReason::Abuse)
            .await,
        Err(LinkError::Forbidden)
    ));
    // Neither enabling nor a disable by hand (which would drop the reason).
    for disabled in [false, true] {
        let change = UpdateLink {
            disabled: Some(disabled),
            ..UpdateLink::default()
        };
        assert!(matches!(
            w.service.update(&alice(), &link.slug, change).await,
            Err(LinkError::Forbidden)
        ));
    }
    let enable = UpdateLink {
        disabled: Some(false),
        ..UpdateLink::default()
    };
    let enabled = w
        .service
        .update(&admin, &link.slug, enable)
        .await
        .expect("enable");
    assert!(!enabled.disabled);
    assert_eq!(enabled.disabled_reason, None);
}

#[tokio::test]
async fn the_review_queue_holds_pending_links_for_admins_only() {
    let w = world_with(|s| s.keywords = KeywordPolicy::new(&[], &["promo".into()]));
    let alias = |a: &str| CreateLink {
        alias: Some(a.into()),
        ..url("https://example.com/")
    };
    w.service
        .create(Some(&alice()), alias("big-promo"))
        .await
        .expect("create");
    w.service
        .create(Some(&alice()), alias("plain"))
        .await
        .expect("create");
    assert!(matches!(
        w.service.review_queue(&alice(), None, None).await,
        Err(LinkError::Forbidden)
    ));
    let admin = Principal {
        role: Role::Admin,
        ..alice()
    };
    let page = w
        .service
        .review_queue(&admin, None, None)
        .await
        .expect("queue");
    let slugs: Vec<&str> = page.items.iter().map(|l| l.slug.as_str()).collect();
    assert_eq!(slugs, ["big-promo"]);
    assert!(page.next.is_none());
}
