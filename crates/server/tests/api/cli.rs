//! The `kurz` binary itself: the CLI, graceful shutdown and crash safety.

use std::ffi::OsStr;
use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{client, Backend};

pub(crate) const KURZ: &str = env!("CARGO_BIN_EXE_kurz");

pub(crate) fn kurz(db: &str) -> Command {
    let mut c = Command::new(KURZ);
    c.env_remove("KURZ_CONFIG")
        .env("RUST_LOG", "warn")
        .arg("--database")
        .arg(db);
    c
}

pub(crate) fn add_admin(db: &str) -> String {
    let mut child = kurz(db)
        .args(["user", "add", "root", "--role", "admin"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a good password\n")
        .expect("write");
    assert!(child.wait().expect("wait").success());
    let out = kurz(db)
        .args(["key", "create", "--user", "root", "--quiet"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "--quiet prints only the key: {text:?}");
    lines[0].to_owned()
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub(crate) async fn start(db: &str, port: u16) -> Child {
    serve(kurz(db), port, &[]).await
}

/// Runs `command` as `kurz serve` on `port`, without rate limits and with
/// `more` flags, and waits until it answers.
pub(crate) async fn serve(mut command: Command, port: u16, more: &[&OsStr]) -> Child {
    let mut child = command
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--rate-limits",
            "off",
        ])
        .args(more)
        .spawn()
        .expect("spawn");
    let c = client();
    for _ in 0..100 {
        if c.get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok()
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("kurz did not start");
}

#[tokio::test]
async fn the_cli_adds_users_makes_keys_and_shortens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    assert!(kurz(&db).arg("migrate").status().expect("run").success());
    let key = add_admin(&db);
    assert!(key.starts_with("kurz_"));

    let out = kurz(&db)
        .args([
            "--base-url",
            "https://sho.rt",
            "shorten",
            "https://example.com/cli",
            "--alias",
            "from-cli",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).expect("utf-8").trim(),
        "https://sho.rt/from-cli"
    );

    // Environment variables configure every subcommand; flags beat them.
    let env_only = Command::new(KURZ)
        .env("KURZ_DATABASE", &db)
        .env("KURZ_BASE_URL", "https://env.example")
        .args(["shorten", "https://example.com/env"])
        .output()
        .expect("run");
    assert!(
        env_only.status.success(),
        "{}",
        String::from_utf8_lossy(&env_only.stderr)
    );
    assert!(String::from_utf8_lossy(&env_only.stdout).starts_with("https://env.example/"));
    let flag_wins = Command::new(KURZ)
        .env("KURZ_DATABASE", &db)
        .env("KURZ_BASE_URL", "https://env.example")
        .args([
            "--base-url",
            "https://flag.example",
            "shorten",
            "https://example.com/flag",
        ])
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&flag_wins.stdout).starts_with("https://flag.example/"));

    let out = kurz(&db)
        .args(["shorten", "ftp://example.com/"])
        .output()
        .expect("run");
    assert!(!out.status.success());

    let port = free_port();
    let mut server = start(&db, port).await;
    let c = client();
    let r = c
        .get(format!("http://127.0.0.1:{port}/from-cli"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.headers()["location"], "https://example.com/cli");
    let r = c
        .get(format!("http://127.0.0.1:{port}/api/v1/links"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    server.kill().expect("kill");
    server.wait().expect("wait");
}

#[tokio::test]
async fn acknowledged_creates_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("crash.db").display());
    let key = add_admin(&db);
    let port = free_port();
    let mut server = start(&db, port).await;
    let c = client();
    let mut slugs = Vec::new();
    for i in 0..50 {
        let r = c
            .post(format!("http://127.0.0.1:{port}/api/v1/links"))
            .bearer_auth(&key)
            .json(&json!({"url": format!("https://example.com/{i}")}))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::CREATED);
        let link: Value = r.json().await.expect("json");
        slugs.push((link["slug"].as_str().expect("slug").to_owned(), i));
    }
    server.kill().expect("SIGKILL");
    server.wait().expect("wait");

    let port = free_port();
    let mut server = start(&db, port).await;
    for (slug, i) in &slugs {
        let r = c
            .get(format!("http://127.0.0.1:{port}/{slug}"))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::FOUND, "{slug}");
        assert_eq!(
            r.headers()["location"],
            format!("https://example.com/{i}").as_str()
        );
    }
    // New links after the restart never repeat an old slug.
    let r = c
        .post(format!("http://127.0.0.1:{port}/api/v1/links"))
        .bearer_auth(&key)
        .json(&json!({"url": "https://example.com/after"}))
        .send()
        .await
        .expect("send");
    let link: Value = r.json().await.expect("json");
    assert!(!slugs
        .iter()
        .any(|(s, _)| s == link["slug"].as_str().expect("slug")));
    server.kill().expect("kill");
    server.wait().expect("wait");
}

#[tokio::test]
async fn clicks_survive_a_graceful_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("term.db").display());
    let key = add_admin(&db);
    let port = free_port();
    let server = start(&db, port).await;
    let c = client();
    let r = c
        .post(format!("http://127.0.0.1:{port}/api/v1/links"))
        .bearer_auth(&key)
        .json(&json!({"url": "https://example.com/"}))
        .send()
        .await
        .expect("send");
    let slug = r.json::<Value>().await.expect("json")["slug"]
        .as_str()
        .expect("slug")
        .to_owned();
    for _ in 0..25 {
        let r = c
            .get(format!("http://127.0.0.1:{port}/{slug}"))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::FOUND);
    }
    let term = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(term.success());
    let out = server.wait_with_output().expect("wait");
    assert!(out.status.success(), "a graceful stop exits 0");

    let port = free_port();
    let mut server = start(&db, port).await;
    let r = c
        .get(format!("http://127.0.0.1:{port}/api/v1/links/{slug}"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("send");
    assert_eq!(r.json::<Value>().await.expect("json")["visits"], 25);
    server.kill().expect("kill");
    server.wait().expect("wait");
}

#[tokio::test]
async fn export_and_import_move_an_instance_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let from = format!("sqlite://{}", dir.path().join("from.db").display());
    let to = format!("sqlite://{}", dir.path().join("to.db").display());
    let dump = dir.path().join("dump.jsonl");
    add_admin(&from);
    let out = kurz(&from)
        .args(["shorten", "https://example.com/moved", "--alias", "moved"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let status = kurz(&from)
        .args(["export", "--output"])
        .arg(&dump)
        .status()
        .expect("run");
    assert!(status.success());
    let text = std::fs::read_to_string(&dump).expect("dump");
    let header: Value = serde_json::from_str(text.lines().next().expect("a header")).expect("json");
    assert_eq!(header["type"], "header");
    assert_eq!(header["format"], "kurz-export");
    assert_eq!(header["version"], 1);

    let status = kurz(&to)
        .args(["import", "--input"])
        .arg(&dump)
        .status()
        .expect("run");
    assert!(status.success());
    // A second import into the same database is refused.
    let status = kurz(&to)
        .args(["import", "--input"])
        .arg(&dump)
        .status()
        .expect("run");
    assert!(!status.success());

    let port = free_port();
    let mut server = start(&to, port).await;
    let r = client()
        .get(format!("http://127.0.0.1:{port}/moved"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.headers()["location"], "https://example.com/moved");
    server.kill().expect("kill");
    server.wait().expect("wait");
}

/// Many processes starting at once on a new database: each takes the
/// migration lock in turn, and none trips over tables another just made.
async fn processes_starting_together_migrate_one_at_a_time(backend: Backend) {
    for round in 0..5 {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = backend.fresh_database(&dir).await;
        // Each process blocks on reading the same FIFO, so all eight reach
        // their migrations at the same moment (the race needs them close
        // together; spawning one by one spreads them out).
        let go = dir.path().join("go");
        assert!(Command::new("mkfifo")
            .arg(&go)
            .status()
            .expect("mkfifo")
            .success());
        let children: Vec<_> = (0..8)
            .map(|_| {
                Command::new("bash")
                    .args([
                        "-c",
                        r#"cat "$1" > /dev/null; exec "$2" --database "$3" migrate"#,
                        "wait-for-go",
                    ])
                    .arg(&go)
                    .arg(KURZ)
                    .arg(&db)
                    .env_remove("KURZ_CONFIG")
                    .env("RUST_LOG", "warn")
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Opening the FIFO for writing releases every reader at once;
        // closing it ends their `cat`.
        drop(
            std::fs::OpenOptions::new()
                .write(true)
                .open(&go)
                .expect("go"),
        );
        for child in children {
            let out = child.wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // And the store they made works.
        let key = add_admin(&db);
        assert!(key.starts_with("kurz_"));
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn serve_raises_its_open_file_limit_to_the_hard_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("fd.db").display());
    let port = free_port();
    // What systemd gives services by default: a soft limit far below the
    // hard one.
    let mut child = Command::new("bash")
        .args([
            "-c",
            &format!(
                "ulimit -Sn 512 && exec {KURZ} --database {db} serve --listen 127.0.0.1:{port}"
            ),
        ])
        .env_remove("KURZ_CONFIG")
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("spawn");
    let c = client();
    let mut up = false;
    for _ in 0..100 {
        if c.get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).expect("limits");
    let _ = child.kill();
    let _ = child.wait();
    assert!(up, "kurz did not start");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers.len(), 2, "{line}");
    assert_eq!(numbers[0], numbers[1], "soft limit raised to hard: {line}");
    assert_ne!(numbers[0], "512", "{line}");
}

backend_tests!(processes_starting_together_migrate_one_at_a_time);
