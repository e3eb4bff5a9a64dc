//! `ReportService` over the in-memory fakes.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::*;
use crate::account::Role;
use crate::clock::ManualClock;
use crate::fake::{new_link, FakeHasher, FakeInvalidator, FakeStore};
use crate::link::RedirectCode;
use crate::ports::LinkStore;
use crate::service::links::{LinkPorts, LinkSettings};
use crate::slug::KeywordPolicy;
use crate::target::UrlPolicy;

struct World {
    store: Arc<FakeStore>,
    invalidator: Arc<FakeInvalidator>,
    service: ReportService,
}

async fn world() -> World {
    let store = FakeStore::new();
    let invalidator = Arc::new(FakeInvalidator::default());
    let clock = Arc::new(ManualClock::new(
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000),
    ));
    let links = LinkService::new(
        LinkPorts {
            links: store.clone(),
            ids: store.clone(),
            hasher: Arc::new(FakeHasher::default()),
            clock: clock.clone(),
            invalidator: invalidator.clone(),
        },
        LinkSettings {
            slug_length: 6,
            default_redirect: RedirectCode::FOUND,
            url_policy: UrlPolicy::default(),
            keywords: KeywordPolicy::default(),
            hosts: crate::homograph::HostPolicy::default(),
        },
    );
    for (id, slug) in [(1, "bad"), (2, "fine")] {
        store
            .insert(new_link(id, slug, "https://example.com/", clock.now()))
            .await
            .expect("insert");
    }
    let service = ReportService::new(
        ReportPorts {
            reports: store.clone(),
            clock,
        },
        Arc::new(links),
    );
    World {
        store,
        invalidator,
        service,
    }
}

fn admin() -> Principal {
    Principal {
        user_id: 1,
        username: "root".into(),
        role: Role::Admin,
        key_id: 1,
        read_only: false,
    }
}

fn user() -> Principal {
    Principal {
        role: Role::User,
        ..admin()
    }
}

fn filed(slug: &str, reason: &str) -> FileReport {
    FileReport {
        slug: slug.into(),
        reason: reason.into(),
        details: Some("  looks like a bank  ".into()),
    }
}

fn field(e: ReportError) -> Field {
    match e {
        ReportError::Invalid { field, .. } => field,
        other => panic!("expected an invalid field, got {other:?}"),
    }
}

#[tokio::test]
async fn a_report_keeps_the_reporters_network_only() {
    let w = world().await;
    let ip = "192.0.2.77".parse().expect("ip");
    let r = w
        .service
        .file(filed("bad", "phishing"), Some(ip))
        .await
        .expect("filed");
    assert_eq!((r.slug.as_str(), r.reason), ("bad", ReportReason::Phishing));
    assert_eq!(r.details.as_deref(), Some("looks like a bank"));
    assert_eq!(r.status, ReportStatus::Open);
    assert_eq!(
        w.store.reporter_network(r.id).as_deref(),
        Some("192.0.2.0/24")
    );
}

#[tokio::test]
async fn bad_reports_name_their_field_and_unknown_links_are_not_found() {
    let w = world().await;
    let bad = |r: FileReport| w.service.file(r, None);
    assert_eq!(
        field(bad(filed("bad", "ugly")).await.expect_err("reason")),
        Field::Reason
    );
    let long = FileReport {
        details: Some("x".repeat(MAX_DETAILS + 1)),
        ..filed("bad", "spam")
    };
    assert_eq!(field(bad(long).await.expect_err("long")), Field::Details);
    let control = FileReport {
        details: Some("a\u{7}b".into()),
        ..filed("bad", "spam")
    };
    assert_eq!(field(bad(control).await.expect_err("bell")), Field::Details);
    assert_eq!(
        field(bad(filed("", "spam")).await.expect_err("slug")),
        Field::Slug
    );
    assert!(matches!(
        bad(filed("nope", "spam")).await,
        Err(ReportError::NotFound)
    ));
    let at_bound = FileReport {
        details: Some("\u{fc}".repeat(MAX_DETAILS)),
        ..filed("bad", "spam")
    };
    bad(at_bound).await.expect("2,000 characters fit");
}

#[tokio::test]
async fn disabling_closes_every_open_report_of_the_link_and_tells_the_caches() {
    let w = world().await;
    let first = w
        .service
        .file(filed("bad", "phishing"), None)
        .await
        .expect("filed");
    let second = w
        .service
        .file(filed("bad", "spam"), None)
        .await
        .expect("filed");
    let other = w
        .service
        .file(filed("fine", "other"), None)
        .await
        .expect("filed");
    let done = w
        .service
        .resolve(&admin(), first.id, "disable")
        .await
        .expect("resolved");
    assert_eq!(done.resolution, Some(Resolution::Disable));
    assert!(done.resolved_at.is_some());
    let link = w.store.get("bad").expect("stored");
    assert!(link.disabled);
    assert_eq!(link.disabled_reason, Some(DisabledReason::Abuse));
    assert_eq!(w.invalidator.links(), vec!["bad".to_owned()]);
    let open = w
        .service
        .list(&admin(), None, None, None)
        .await
        .expect("list");
    let ids: Vec<i64> = open.items.iter().map(|r| r.id).collect();
    assert_eq!(
        ids,
        vec![other.id],
        "the second report of bad is closed too"
    );
    let resolved = w
        .service
        .list(&admin(), Some("resolved"), None, None)
        .await
        .expect("list");
    assert_eq!(resolved.items.len(), 2);
    assert!(resolved.items.iter().any(|r| r.id == second.id));
}

#[tokio::test]
async fn resolving_again_is_idempotent_and_the_other_action_conflicts() {
    let w = world().await;
    let r = w
        .service
        .file(filed("fine", "spam"), None)
        .await
        .expect("filed");
    let first = w
        .service
        .resolve(&admin(), r.id, "dismiss")
        .await
        .expect("dismissed");
    let again = w
        .service
        .resolve(&admin(), r.id, "dismiss")
        .await
        .expect("again");
    assert_eq!(first, again);
    assert!(matches!(
        w.service.resolve(&admin(), r.id, "disable").await,
        Err(ReportError::AlreadyResolved("dismiss"))
    ));
    let link = w.store.get("fine").expect("stored");
    assert!(!link.disabled, "a dismissal leaves the link alone");
}

#[tokio::test]
async fn only_admins_list_and_resolve() {
    let w = world().await;
    let r = w
        .service
        .file(filed("bad", "spam"), None)
        .await
        .expect("filed");
    assert!(matches!(
        w.service.list(&user(), None, None, None).await,
        Err(ReportError::Forbidden)
    ));
    assert!(matches!(
        w.service.resolve(&user(), r.id, "disable").await,
        Err(ReportError::Forbidden)
    ));
    let read_only = Principal {
        read_only: true,
        ..admin()
    };
    assert!(matches!(
        w.service.resolve(&read_only, r.id, "disable").await,
        Err(ReportError::Forbidden)
    ));
    assert_eq!(
        field(
            w.service
                .resolve(&admin(), r.id, "burn")
                .await
                .expect_err("action")
        ),
        Field::Action
    );
    assert_eq!(
        field(
            w.service
                .list(&admin(), Some("closed"), None, None)
                .await
                .expect_err("status")
        ),
        Field::Status
    );
    assert!(matches!(
        w.service.resolve(&admin(), 999, "dismiss").await,
        Err(ReportError::NotFound)
    ));
    assert!(!w.store.get("bad").expect("stored").disabled);
}
