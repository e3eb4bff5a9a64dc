//! `kurz backup`: an online SQLite copy taken while links are being created,
//! and the plain answers it gives where it cannot help.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::cli::{add_admin, free_port, kurz, start};
use crate::helpers::{client, Backend};

/// One acknowledged create: its slug, its target and when the 201 came.
type Ack = (String, String, Instant);

/// Creates links one after another until `stop`, recording each 201.
async fn create_until(port: u16, key: String, worker: usize, stop: Arc<AtomicBool>) -> Vec<Ack> {
    let c = client();
    let mut acks = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let url = format!("https://example.com/{worker}/{i}");
        i += 1;
        let r = c
            .post(format!("http://127.0.0.1:{port}/api/v1/links"))
            .bearer_auth(&key)
            .json(&json!({ "url": url }))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::CREATED);
        let link: Value = r.json().await.expect("json");
        let slug = link["slug"].as_str().expect("slug").to_owned();
        acks.push((slug, url, Instant::now()));
    }
    acks
}

/// The links of a backup file, slug to target, after checking the file
/// passes SQLite's integrity check.
async fn links_in(file: &Path) -> HashMap<String, String> {
    let mut conn = SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .connect()
        .await
        .expect("the backup opens as a SQLite database");
    let (check,): (String,) = sqlx::query_as("pragma integrity_check")
        .fetch_one(&mut conn)
        .await
        .expect("integrity_check");
    assert_eq!(check, "ok");
    let rows: Vec<(String, String)> =
        sqlx::query_as("select slug, url from links where deleted_at is null")
            .fetch_all(&mut conn)
            .await
            .expect("links");
    conn.close().await.expect("close");
    rows.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_holds_every_link_acknowledged_before_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("live.db").display());
    let key = add_admin(&db);
    let port = free_port();
    let mut server = start(&db, port).await;

    let stop = Arc::new(AtomicBool::new(false));
    let creators: Vec<_> = (0..4)
        .map(|w| tokio::spawn(create_until(port, key.clone(), w, stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let output = dir.path().join("backup.db");
    let started = Instant::now();
    let mut command = kurz(&db);
    command.arg("backup").arg("--output").arg(&output);
    let run = tokio::task::spawn_blocking(move || command.output().expect("run"))
        .await
        .expect("join");
    // Creates go on after the backup too: it never held them up for long.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acks = Vec::new();
    for c in creators {
        acks.extend(c.await.expect("creator"));
    }
    server.kill().expect("kill");
    server.wait().expect("wait");

    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(said.contains("backup.db"), "says what it wrote: {said}");
    assert!(said.contains("bytes"), "says how big: {said}");

    let before: Vec<&Ack> = acks.iter().filter(|(_, _, at)| *at < started).collect();
    assert!(before.len() >= 20, "the load ran: {} creates", before.len());
    assert!(
        acks.iter().any(|(_, _, at)| *at > started),
        "creates went on while and after the backup ran"
    );
    let saved = links_in(&output).await;
    for (slug, url, _) in &before {
        assert_eq!(saved.get(slug), Some(url), "{slug} is in the backup");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read_dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".partial-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no partial copy is left: {leftovers:?}"
    );
}

#[tokio::test]
async fn a_backup_never_overwrites_a_file_nor_makes_up_a_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("kurz.db").display());
    add_admin(&db);
    let existing = dir.path().join("precious.db");
    std::fs::write(&existing, "keep me").expect("write");

    let out = kurz(&db)
        .args(["backup", "--output"])
        .arg(&existing)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("already exists"), "{said}");
    assert_eq!(std::fs::read_to_string(&existing).expect("read"), "keep me");

    // A database that is not there is not created just to be copied.
    let missing = dir.path().join("missing.db");
    let out = kurz(&format!("sqlite://{}", missing.display()))
        .args(["backup", "--output"])
        .arg(dir.path().join("copy.db"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no database at"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!missing.exists());
    assert!(!dir.path().join("copy.db").exists());

    // Into a directory that does not exist: a plain refusal.
    let out = kurz(&db)
        .args(["backup", "--output"])
        .arg(dir.path().join("no/such/dir/copy.db"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not exist"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn backups_of_server_databases_point_to_their_own_tools(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = backend.fresh_database(&dir).await;
    let output = dir.path().join("backup.db");
    let out = kurz(&db)
        .args(["backup", "--output"])
        .arg(&output)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    let tool = match backend {
        Backend::MySql => "mariadb-dump --single-transaction",
        _ => "pg_dump",
    };
    assert!(said.contains(tool), "{said}");
    assert!(said.contains("kurz export"), "{said}");
    assert!(!output.exists());
}

server_tests!(backups_of_server_databases_point_to_their_own_tools);
