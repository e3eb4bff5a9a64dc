//! Moving an instance to another backend with `export` and `import`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_error, spawn_app, spawn_on, test_config, Backend};

async fn export_then_import_keeps_every_slug(target: Backend) {
    let src = spawn_app(Backend::Sqlite).await;
    let bob_key = src.user("bob").await;
    let mut expected = Vec::new();
    for i in 0..5 {
        let slug = src.shorten(&format!("https://example.com/{i}")).await;
        expected.push((slug, format!("https://example.com/{i}")));
    }
    let r = src
        .post(
            "/api/v1/links",
            &bob_key,
            json!({"url": "https://example.com/bob", "tags": ["t"], "alias": "bobs"}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::CREATED);
    expected.push(("bobs".into(), "https://example.com/bob".into()));
    let limited = src
        .create_link(json!({"url": "https://example.com/limited", "max_visits": 3}))
        .await;
    let limited = limited["slug"].as_str().expect("slug").to_owned();
    assert_eq!(src.follow(&limited).await.status(), StatusCode::FOUND);
    // The click reaches `visits` with the worker's next flush, not at once.
    src.wait_for_visits(&limited, 1).await;
    src.create_link(json!({"url": "https://example.com/pw", "alias": "locked", "password": "pw"}))
        .await;
    src.create_link(json!({"url": "https://example.com/x", "alias": "was-deleted"}))
        .await;
    let r = src
        .delete("/api/v1/links/was-deleted", &src.admin_key)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    let mut dump = Vec::new();
    let stats = src.db.export(&mut dump).await.expect("export");
    assert_eq!((stats.users, stats.links), (2, 9));

    let dir = tempfile::tempdir().expect("tempdir");
    let url = target.fresh_database(&dir).await;
    let clock = std::sync::Arc::new(kurz_core::clock::SystemClock);
    let dst_db = kurz_store::open(&kurz_store::DbOptions::new(url.clone()), clock).expect("open");
    let imported = dst_db.import(&mut dump.as_slice()).await.expect("import");
    assert_eq!(imported, stats);
    let again = dst_db.import(&mut dump.as_slice()).await;
    assert!(matches!(
        again,
        Err(kurz_store::transfer::TransferError::NotEmpty)
    ));
    dst_db.close().await;

    let dst = spawn_on(test_config(url), dir).await;
    for (slug, target_url) in &expected {
        let r = dst.follow(slug).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{slug}");
        assert_eq!(r.headers()["location"], target_url.as_str(), "{slug}");
    }
    assert_eq!(dst.link(&limited).await["visits"], 1);
    assert_eq!(
        dst.follow("locked").await.status(),
        StatusCode::OK,
        "still asks for its password"
    );
    expect_error(
        dst.follow("was-deleted").await,
        StatusCode::NOT_FOUND,
        40401,
        None,
    )
    .await;
    let r = dst
        .post(
            "/api/v1/links",
            &dst.admin_key,
            json!({"url": "https://example.com/", "alias": "was-deleted"}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::CONFLICT, 40901, Some("alias")).await;

    // Keys moved as hashes: bob's old key still works and sees his link.
    let mine = dst.list_as(&bob_key, "").await;
    let items = mine["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["slug"], "bobs");
    assert_eq!(items[0]["tags"], json!(["t"]));

    // The counter moved too: new links never reuse an old slug.
    let fresh = dst.shorten("https://example.com/new").await;
    assert!(!expected.iter().any(|(s, _)| *s == fresh));
    assert_ne!(fresh, limited);
}

/// An import that fails half-way (after users, keys and links went in)
/// leaves the target as it was, so it can simply be run again.
async fn a_failed_import_leaves_the_target_as_it_was(target: Backend) {
    let src = spawn_app(Backend::Sqlite).await;
    src.user("bob").await;
    for i in 0..3 {
        src.shorten(&format!("https://example.com/{i}")).await;
    }
    let mut dump = Vec::new();
    src.db.export(&mut dump).await.expect("export");
    let text = String::from_utf8(dump.clone()).expect("utf-8");
    let last_link = text
        .lines()
        .rev()
        .find(|l| l.contains(r#""type":"link""#))
        .expect("a link line");
    // The same link again: the unique slug index refuses it, after every
    // other record of the file went in.
    let broken = format!("{text}{last_link}\n");

    let dir = tempfile::tempdir().expect("tempdir");
    let url = target.fresh_database(&dir).await;
    let clock = std::sync::Arc::new(kurz_core::clock::SystemClock);
    let dst_db = kurz_store::open(&kurz_store::DbOptions::new(url.clone()), clock).expect("open");
    let failed = dst_db.import(&mut broken.as_bytes()).await;
    assert!(failed.is_err(), "a duplicate slug fails the import");
    let bad_json = format!("{text}{{not json\n");
    let failed = dst_db.import(&mut bad_json.as_bytes()).await;
    assert!(matches!(
        failed,
        Err(kurz_store::transfer::TransferError::Format { .. })
    ));
    // Nothing of either attempt stayed: the same import now succeeds.
    let stats = dst_db
        .import(&mut dump.as_slice())
        .await
        .expect("the retry finds an empty database");
    assert_eq!((stats.users, stats.keys, stats.links), (2, 2, 3));
    dst_db.close().await;
}

backend_tests!(
    export_then_import_keeps_every_slug,
    a_failed_import_leaves_the_target_as_it_was
);
