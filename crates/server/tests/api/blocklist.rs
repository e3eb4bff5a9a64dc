//! Blocklists (ADR 0020): the `--blocklist` file refuses targets, is
//! reloaded on SIGHUP and on change, and a rescan disables the links it
//! now blocks; `kurz scan`; `kurz blocklist import` of the feed formats.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::cli::{add_admin, free_port, kurz, KURZ};
use crate::helpers::{client, expect_error, spawn_with, Backend};

/// The sample feeds checked in beside this file.
fn feed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/api/feeds")
        .join(name)
}

async fn blocked_targets_are_refused_on_create_and_patch(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("blocklist.txt");
    std::fs::write(
        &file,
        "# ours\r\n0.0.0.0 Evil.Example. other.example\r\n45.33.32.156\r\nnot a line\r\n",
    )
    .expect("write");
    let app = spawn_with(backend, |c| {
        c.blocklist = Some(file.clone());
        c.links.blocked_domains = vec!["configured.example".into()];
    })
    .await;
    for url in [
        "https://evil.example/",
        "https://deep.sub.EVIL.example./x",
        "https://other.example/",
        "https://www.configured.example/",
        "http://45.33.32.156:8080/payload",
    ] {
        let r = app
            .post("/api/v1/links", &app.admin_key, json!({ "url": url }))
            .send()
            .await
            .expect("send");
        expect_error(r, StatusCode::BAD_REQUEST, 40014, Some("url")).await;
    }
    let link = app
        .create_link(json!({"url": "https://notevil.example/"}))
        .await;
    let slug = link["slug"].as_str().expect("slug");
    let r = app
        .patch(
            &format!("/api/v1/links/{slug}"),
            &app.admin_key,
            json!({"url": "https://login.evil.example/"}),
        )
        .send()
        .await
        .expect("send");
    expect_error(r, StatusCode::BAD_REQUEST, 40014, Some("url")).await;
    assert_eq!(app.follow(slug).await.status(), StatusCode::FOUND);
}

/// Links made before their host was listed are disabled when the server
/// starts with the list.
async fn a_start_with_the_list_disables_existing_links(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("blocklist.txt");
    std::fs::write(&file, "# nothing yet\n").expect("write");
    let app = spawn_with(backend, |c| c.blocklist = Some(file.clone())).await;
    let bad = app.shorten("https://shop.later.example/x").await;
    let good = app.shorten("https://fine.example/").await;
    assert_eq!(app.follow(&bad).await.status(), StatusCode::FOUND);
    std::fs::write(&file, "later.example\n").expect("write");
    let app = app.restart().await;
    wait_for_status(&app.url(&format!("/{bad}")), StatusCode::GONE).await;
    assert_eq!(app.follow(&good).await.status(), StatusCode::FOUND);
    assert_eq!(
        app.link(&bad).await["status"],
        "disabled",
        "shown as disabled"
    );
}

backend_tests!(
    blocked_targets_are_refused_on_create_and_patch,
    a_start_with_the_list_disables_existing_links,
    an_edit_and_sighup_block_a_domain_and_disable_its_links,
    kurz_scan_disables_links_to_blocked_hosts,
);

/// Polls `url` until it answers `status` (10 s at most).
async fn wait_for_status(url: &str, status: StatusCode) {
    let c = client();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = c.get(url).send().await.expect("send").status();
        if got == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url} still answers {got}, not {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `text` stands `count` times in the log (10 s at most).
async fn wait_for_log(log: &Path, text: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = std::fs::read_to_string(log)
            .expect("log")
            .matches(text)
            .count();
        if seen >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{text:?} logged {seen} times, not {count}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A `kurz serve` process with a blocklist file; its log goes to `log`.
struct Server {
    child: Child,
    base: String,
    key: String,
}

impl Server {
    async fn start(db: &str, blocklist: &Path, log: &Path) -> Self {
        let key = add_admin(db);
        let port = free_port();
        let log = std::fs::File::create(log).expect("log file");
        let mut command = kurz(db);
        command
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log);
        let child = crate::cli::serve(
            command,
            port,
            &[OsStr::new("--blocklist"), blocklist.as_os_str()],
        )
        .await;
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            key,
        }
    }

    /// A server on a new SQLite database in `dir`, whose blocklist file
    /// starts as `list`; with the file's and the log's paths.
    async fn on_sqlite(dir: &Path, list: &str) -> (Self, PathBuf, PathBuf) {
        let db = format!("sqlite://{}", dir.join("kurz.db").display());
        let file = dir.join("blocklist.txt");
        std::fs::write(&file, list).expect("write");
        let log = dir.join("kurz.log");
        (Self::start(&db, &file, &log).await, file, log)
    }

    async fn create(&self, url: &str) -> reqwest::Response {
        client()
            .post(format!("{}/api/v1/links", self.base))
            .bearer_auth(&self.key)
            .json(&json!({ "url": url }))
            .send()
            .await
            .expect("send")
    }

    async fn shorten(&self, url: &str) -> String {
        let r = self.create(url).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{url}");
        let link: Value = r.json().await.expect("json");
        link["slug"].as_str().expect("slug").to_owned()
    }

    fn hang_up(&self) {
        let sent = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("kill -HUP");
        assert!(sent.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Rewrites `file` in place with `text` of the same length and puts its
/// modification time back, so only a signal can tell the server.
fn edit_unseen(file: &Path, text: &str) {
    let before = std::fs::read(file).expect("read");
    assert_eq!(before.len(), text.len(), "same length, same size");
    let stamp = file.with_extension("stamp");
    assert!(Command::new("cp")
        .arg("-p")
        .arg(file)
        .arg(&stamp)
        .status()
        .expect("cp")
        .success());
    std::fs::OpenOptions::new()
        .write(true)
        .open(file)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .expect("rewrite in place");
    assert!(Command::new("touch")
        .arg("-r")
        .arg(&stamp)
        .arg(file)
        .status()
        .expect("touch")
        .success());
}

async fn an_edit_and_sighup_block_a_domain_and_disable_its_links(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = backend.fresh_database(&dir).await;
    let file = dir.path().join("blocklist.txt");
    std::fs::write(&file, "old.example\nxxx.example\n").expect("write");
    let server = Server::start(&db, &file, &dir.path().join("kurz.log")).await;
    let c = client();
    let doomed = server.shorten("https://www.new.example/a").await;
    let doomed_too = server.shorten("https://new.example/b").await;
    let kept = server.shorten("https://renew.example/").await;
    for slug in [&doomed, &doomed_too, &kept] {
        let r = c
            .get(format!("{}/{slug}", server.base))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::FOUND, "cached as live: {slug}");
    }

    edit_unseen(&file, "old.example\nnew.example\n");
    server.hang_up();
    wait_for_status(&format!("{}/{doomed}", server.base), StatusCode::GONE).await;
    wait_for_status(&format!("{}/{doomed_too}", server.base), StatusCode::GONE).await;
    let r = c
        .get(format!("{}/{kept}", server.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::FOUND);
    let r = server.create("https://login.new.example/").await;
    expect_error(r, StatusCode::BAD_REQUEST, 40014, Some("url")).await;
    let r = server.create("https://old.example/").await;
    expect_error(r, StatusCode::BAD_REQUEST, 40014, Some("url")).await;
    assert_eq!(
        server.create("https://xxx.example/").await.status(),
        StatusCode::CREATED,
        "no longer listed"
    );
    let log = std::fs::read_to_string(dir.path().join("kurz.log")).expect("log");
    assert!(log.contains("blocklist reloaded"), "{log}");
    assert!(log.contains("SIGHUP"), "{log}");
}

#[tokio::test]
async fn a_changed_file_is_reloaded_without_a_signal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, file, _) = Server::on_sqlite(dir.path(), "old.example\n").await;
    let slug = server.shorten("https://changed.example/x").await;
    // Written elsewhere and renamed over, as `kurz blocklist import` does.
    let next = dir.path().join("next.txt");
    std::fs::write(&next, "old.example\nchanged.example\n").expect("write");
    std::fs::rename(&next, &file).expect("rename");
    wait_for_status(&format!("{}/{slug}", server.base), StatusCode::GONE).await;
    let r = server.create("https://changed.example/y").await;
    expect_error(r, StatusCode::BAD_REQUEST, 40014, Some("url")).await;
}

#[tokio::test]
async fn a_broken_file_on_reload_keeps_the_old_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, file, log) = Server::on_sqlite(dir.path(), "old.example\n").await;
    // Not UTF-8: the whole file is unreadable, not one bad line.
    std::fs::write(&file, b"new.example\n\xff\xfe\n").expect("write");
    server.hang_up();
    wait_for_log(&log, "blocklist reload failed", 1).await;
    let r = server.create("https://old.example/").await;
    expect_error(r, StatusCode::BAD_REQUEST, 40014, Some("url")).await;
    assert_eq!(
        server.create("https://new.example/").await.status(),
        StatusCode::CREATED
    );
    // Removed altogether: still the old list.
    std::fs::remove_file(&file).expect("remove");
    server.hang_up();
    wait_for_log(&log, "blocklist reload failed", 2).await;
    let r = server.create("https://www.old.example/").await;
    expect_error(r, StatusCode::BAD_REQUEST, 40014, Some("url")).await;
}

#[tokio::test]
async fn a_missing_blocklist_stops_the_start_with_its_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("missing.db").display());
    let missing = dir.path().join("no-such-blocklist.txt");
    let out = kurz(&db)
        .args(["serve", "--listen", "127.0.0.1:0", "--blocklist"])
        .arg(&missing)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-blocklist.txt"), "{err}");

    // The environment names it too.
    let out = Command::new(KURZ)
        .env("KURZ_DATABASE", &db)
        .env("KURZ_BLOCKLIST", &missing)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-blocklist.txt"));
}

async fn kurz_scan_disables_links_to_blocked_hosts(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = backend.fresh_database(&dir).await;
    let file = dir.path().join("blocklist.txt");
    std::fs::write(&file, "scanned.example\n").expect("write");
    let mut slugs = Vec::new();
    for url in [
        "https://a.scanned.example/",
        "https://scanned.example/x",
        "https://unscanned.example/",
    ] {
        let (short, _) = succeed(kurz(&db).args(["shorten", url]));
        let slug = short.trim().rsplit('/').next().expect("slug").to_owned();
        slugs.push(slug);
    }
    let scan = || succeed(kurz(&db).arg("scan").arg("--blocklist").arg(&file)).0;
    assert!(scan().starts_with("disabled 2 of 3 links"));
    assert!(
        scan().starts_with("disabled 0 of 1 links"),
        "disabled ones are skipped"
    );

    let port = free_port();
    let mut server = crate::cli::start(&db, port).await;
    let c = client();
    for (slug, want) in slugs
        .iter()
        .zip([StatusCode::GONE, StatusCode::GONE, StatusCode::FOUND])
    {
        let r = c
            .get(format!("http://127.0.0.1:{port}/{slug}"))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), want, "{slug}");
    }
    server.kill().expect("kill");
    server.wait().expect("wait");
}

/// `kurz blocklist import` of a sample feed: standard output and error.
fn import(format: &str, file: &Path) -> (String, String) {
    succeed(
        Command::new(KURZ)
            .env_remove("KURZ_CONFIG")
            .args(["blocklist", "import", "--format", format])
            .arg(file),
    )
}

/// Runs a command that must succeed; its standard output and error.
#[track_caller]
fn succeed(command: &mut Command) -> (String, String) {
    let out = command.output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    (String::from_utf8(out.stdout).expect("utf-8"), err)
}

#[test]
fn each_feed_format_gives_its_hosts_and_skips_shared_ones() {
    // Format, sample, the hosts printed, what standard error must say.
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "urlhaus",
            "urlhaus.csv",
            "dropper.example\npayload.malware.example\n198.51.100.23\n",
            &[
                "skipped 2 URL(s) on shared hosts",
                "raw.githubusercontent.com (1)",
                "cdn.discordapp.com (1)",
            ],
        ),
        (
            "phishtank",
            "phishtank.csv",
            "evil-user.github.io\nlogin.bank-secure.example\nxn--bcher-kva.example\n",
            &["docs.google.com (1)"],
        ),
        (
            "phishtank",
            "phishtank.json",
            "login.bank-secure.example\nwallet-verify.example\n",
            &["bit.ly (1)"],
        ),
        (
            "domains",
            "domains.txt",
            "ads.example\nspam.example\ntracker.example\nxn--bcher-fake-9db.example\n",
            &["sites.google.com (1)", "skipped 1 record(s)"],
        ),
    ];
    for (format, sample, want, said) in cases {
        let (out, err) = import(format, &feed(sample));
        assert_eq!(out, *want, "{sample}");
        for part in *said {
            assert!(err.contains(part), "{sample}: {err}");
        }
    }
}

#[test]
fn imports_merge_into_the_blocklist_atomically_and_read_standard_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let list = dir.path().join("blocklist.txt");
    std::fs::write(&list, "zzz.example\nspam.example\n").expect("write");
    for (format, file) in [
        ("domains", feed("domains.txt")),
        ("urlhaus", feed("urlhaus.csv")),
    ] {
        let status = Command::new(KURZ)
            .env_remove("KURZ_CONFIG")
            .args(["blocklist", "import", "--format", format, "--output"])
            .arg(&list)
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run");
        assert!(status.success());
    }
    let written = std::fs::read_to_string(&list).expect("read");
    let entries: Vec<&str> = written.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        entries,
        [
            "ads.example",
            "dropper.example",
            "payload.malware.example",
            "spam.example",
            "tracker.example",
            "xn--bcher-fake-9db.example",
            "zzz.example",
            "198.51.100.23",
        ]
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");

    // `-` reads standard input.
    let mut child = Command::new(KURZ)
        .env_remove("KURZ_CONFIG")
        .args(["blocklist", "import", "--format", "domains", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    std::io::Write::write_all(
        &mut child.stdin.take().expect("stdin"),
        b"0.0.0.0 Piped.Example\n",
    )
    .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "piped.example\n");
}
