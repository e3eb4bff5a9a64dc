//! A database an earlier kurz made keeps what it holds through the
//! migrations that came after it.

use std::path::Path;
use std::str::FromStr;

use serde_json::Value;
use sqlx::migrate::Migrator;
use sqlx::Connection;

use crate::cli::kurz;
use crate::doctor::{execute, migrate, number};
use crate::helpers::Backend;

/// Applies `backend`'s migrations up to version `last`, as the kurz that
/// shipped them did.
async fn migrate_up_to(db: &str, backend: Backend, last: i64, dir: &Path) {
    let tree = match backend {
        Backend::Sqlite => "sqlite",
        Backend::MySql => "mysql",
        Backend::Postgres => "postgres",
    };
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(tree);
    let earlier = dir.join("earlier");
    std::fs::create_dir(&earlier).expect("mkdir");
    for entry in std::fs::read_dir(&source).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        let version: i64 = name[..4].parse().expect("a numbered migration");
        if version <= last {
            std::fs::copy(&path, earlier.join(name)).expect("copy");
        }
    }
    let migrator = Migrator::new(earlier.as_path()).await.expect("migrator");
    match backend {
        Backend::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(db)
                .expect("url")
                .create_if_missing(true);
            let mut c = sqlx::SqliteConnection::connect_with(&options)
                .await
                .expect("connect");
            migrator.run(&mut c).await.expect("earlier migrations");
        }
        Backend::MySql => {
            let mut c = sqlx::MySqlConnection::connect(db).await.expect("connect");
            migrator.run(&mut c).await.expect("earlier migrations");
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(db).await.expect("connect");
            migrator.run(&mut c).await.expect("earlier migrations");
        }
    }
}

/// Visits counted in `links.visits` (migrations 1 to 5) move to the
/// counters of migration 6 (ADR 0033), and what reads them still sees them;
/// the column stays, unchanged, for older nodes of a rolling upgrade.
async fn visits_counted_before_the_counters_table_are_kept(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = backend.fresh_database(&dir).await;
    migrate_up_to(&db, backend, 5, dir.path()).await;
    execute(
        &db,
        "insert into links (id, slug, url, url_hash, created_at, updated_at, tags, visits) values \
         (1, 'counted', 'https://example.com/a', 0, 0, 0, '[]', 42), \
         (2, 'unvisited', 'https://example.com/b', 0, 0, 0, '[]', 0)",
    )
    .await;

    migrate(&db);
    assert_eq!(
        number(&db, "select visits from link_counts where link_id = 1").await,
        42
    );
    assert_eq!(
        number(&db, "select count(*) from link_counts").await,
        1,
        "a link never visited needs no counter"
    );
    assert_eq!(
        number(&db, "select visits from links where id = 1").await,
        42,
        "an older node still reads what it read"
    );
    assert_eq!(
        number(
            &db,
            "select visits from link_counts_moved where link_id = 1"
        )
        .await,
        42,
        "what moved is kept for the release that drops the column"
    );

    let out = kurz(&db).arg("export").output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let visits: Vec<(String, i64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["type"] == "link")
        .map(|r| {
            let slug = r["slug"].as_str().expect("slug").to_owned();
            (slug, r["visits"].as_i64().expect("visits"))
        })
        .collect();
    assert_eq!(
        visits,
        [("counted".to_owned(), 42), ("unvisited".to_owned(), 0)]
    );
}

backend_tests!(visits_counted_before_the_counters_table_are_kept);
