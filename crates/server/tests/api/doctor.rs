//! `kurz doctor`: a healthy setup passes; each broken piece is one `FAIL`
//! line in words, and the exit code is 1; nothing is changed on the way.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use sqlx::Connection;

use crate::cache::redis_url;
use crate::cli::{free_port, kurz};
use crate::helpers::Backend;

/// What one `kurz doctor` run said.
struct Diagnosis {
    passed: bool,
    stdout: String,
    stderr: String,
}

impl Diagnosis {
    fn failures(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with("FAIL"))
            .collect()
    }

    #[track_caller]
    fn says(&self, text: &str) {
        assert!(
            self.stdout.contains(text),
            "expected {text:?} in:\n{}\n{}",
            self.stdout,
            self.stderr
        );
    }
}

/// Runs `kurz doctor` on `db`, listening on a free port, with `extra` flags
/// and environment.
fn doctor(db: &str, extra: &[&str], env: &[(&str, &str)]) -> Diagnosis {
    let mut command: Command = kurz(db);
    command.arg("doctor");
    if !extra.contains(&"--listen") {
        command.args(["--listen", &format!("127.0.0.1:{}", free_port())]);
    }
    command.args(extra).envs(env.iter().copied());
    let out = command.output().expect("run");
    let d = Diagnosis {
        passed: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!d.stderr.contains("panicked"), "{}", d.stderr);
    assert_eq!(
        out.status.code(),
        Some(if d.failures().is_empty() { 0 } else { 1 }),
        "exit code 1 exactly when something failed:\n{}",
        d.stdout
    );
    d
}

pub(crate) fn migrate(db: &str) {
    let out = kurz(db).arg("migrate").output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A SQLite database with every migration applied.
fn healthy_sqlite(dir: &Path) -> String {
    let db = format!("sqlite://{}", dir.join("kurz.db").display());
    migrate(&db);
    db
}

/// Runs one statement on the database at `db`.
pub(crate) async fn execute(db: &str, sql: &str) {
    match backend_of(db) {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(db).await.expect("connect");
            sqlx::query(sql).execute(&mut c).await.expect(sql);
        }
        Backend::MySql => {
            let mut c = sqlx::MySqlConnection::connect(db).await.expect("connect");
            sqlx::query(sql).execute(&mut c).await.expect(sql);
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(db).await.expect("connect");
            sqlx::query(sql).execute(&mut c).await.expect(sql);
        }
    }
}

/// One integer from the database at `db`.
pub(crate) async fn number(db: &str, sql: &str) -> i64 {
    match backend_of(db) {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(db).await.expect("connect");
            sqlx::query_scalar(sql).fetch_one(&mut c).await.expect(sql)
        }
        Backend::MySql => {
            let mut c = sqlx::MySqlConnection::connect(db).await.expect("connect");
            sqlx::query_scalar(sql).fetch_one(&mut c).await.expect(sql)
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(db).await.expect("connect");
            sqlx::query_scalar(sql).fetch_one(&mut c).await.expect(sql)
        }
    }
}

fn backend_of(url: &str) -> Backend {
    if url.starts_with("sqlite:") {
        Backend::Sqlite
    } else if url.starts_with("postgres") {
        Backend::Postgres
    } else {
        Backend::MySql
    }
}

async fn doctor_passes_on_a_healthy_setup(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = backend.fresh_database(&dir).await;
    migrate(&db);
    let geoip = dir.path().join("countries.mmdb");
    std::fs::write(
        &geoip,
        crate::mmdb::countries(&[(Ipv4Addr::new(192, 0, 2, 0), 24, "DE")]),
    )
    .expect("write");
    let geoip = geoip.display().to_string();
    let mut flags = vec!["--geoip-db", &geoip];
    let redis = redis_url();
    if let Some(url) = &redis {
        flags.extend(["--redis", url]);
    }

    let d = doctor(&db, &flags, &[]);

    assert!(d.passed, "{}\n{}", d.stdout, d.stderr);
    assert!(d.failures().is_empty(), "{}", d.stdout);
    d.says("ok    configuration:");
    d.says("ok    listen address:");
    d.says("ok    database:");
    d.says("ok    migrations: all");
    d.says("ok    GeoIP:");
    if redis.is_some() {
        d.says("ok    Redis:");
    }
    if backend != Backend::Sqlite {
        d.says("ok    clock:");
    }
    d.says("no problems found");
}

/// SQL that counts the rows of kurz's migrations table, 0 when it is not
/// there.
fn migrations_table(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "select count(*) from sqlite_master where type = 'table' and name = '_sqlx_migrations'"
        }
        Backend::MySql => {
            "select count(*) from information_schema.tables \
             where table_schema = database() and table_name = '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "select count(*) from information_schema.tables \
             where table_schema = current_schema() and table_name = '_sqlx_migrations'"
        }
    }
}

async fn doctor_reports_migrations_without_applying_them(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = backend.fresh_database(&dir).await;

    // A new database: nothing is created or migrated by looking.
    let d = doctor(&db, &[], &[]);
    assert!(d.passed, "{}", d.stdout);
    if backend == Backend::Sqlite {
        d.says("warn  database: there is no database at");
        let file = db.trim_start_matches("sqlite://");
        assert!(!Path::new(file).exists(), "doctor created {file}");
    } else {
        d.says("warn  migrations: the database is empty");
        assert_eq!(number(&db, migrations_table(backend)).await, 0);
    }

    // One migration behind: reported, still not applied.
    migrate(&db);
    let latest = number(&db, "select max(version) from _sqlx_migrations").await;
    let applied = number(&db, "select count(*) from _sqlx_migrations").await;
    execute(
        &db,
        &format!("delete from _sqlx_migrations where version = {latest}"),
    )
    .await;
    let d = doctor(&db, &[], &[]);
    assert!(d.passed, "{}", d.stdout);
    d.says(&format!("warn  migrations: 1 not applied yet ({latest} "));
    assert_eq!(
        number(&db, "select count(*) from _sqlx_migrations").await,
        applied - 1
    );

    // A migration from a newer kurz: this one would refuse to start.
    let (yes, blob) = match backend {
        Backend::Sqlite => ("1", "x'00'"),
        Backend::MySql => ("true", "x'00'"),
        Backend::Postgres => ("true", "'\\x00'::bytea"),
    };
    execute(
        &db,
        &format!(
            "insert into _sqlx_migrations (version, description, success, checksum, \
             execution_time) values ({latest}, 'put back', {yes}, {blob}, 0), \
             (99999999, 'from the future', {yes}, {blob}, 0)"
        ),
    )
    .await;
    let d = doctor(&db, &[], &[]);
    assert!(!d.passed);
    d.says("migration 99999999 that this kurz does not know");
    // The row put back has other SQL's checksum: an edited migration.
    d.says(&format!(
        "FAIL  migrations: migration {latest} ran with other SQL"
    ));
}

#[tokio::test]
async fn doctor_says_when_the_database_does_not_answer_and_hides_its_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = doctor("postgres://kurz:hunter2@127.0.0.1:1/kurz", &[], &[]);
    assert!(!d.passed);
    d.says("FAIL  database: nothing answered at postgres://kurz:***@127.0.0.1:1/kurz");
    assert_eq!(d.failures().len(), 1, "{}", d.stdout);
    assert!(!d.stdout.contains("hunter2") && !d.stderr.contains("hunter2"));

    // A SQLite file in a directory that does not exist cannot be created.
    let nowhere = dir.path().join("no/such/dir/kurz.db");
    let d = doctor(&format!("sqlite://{}", nowhere.display()), &[], &[]);
    assert!(!d.passed);
    d.says("FAIL  database: the directory");
}

#[tokio::test]
async fn doctor_fails_on_a_missing_or_unreadable_geoip_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = healthy_sqlite(dir.path());
    let missing = dir.path().join("GeoLite2-Country.mmdb");
    let d = doctor(&db, &["--geoip-db", &missing.display().to_string()], &[]);
    assert!(!d.passed);
    d.says("FAIL  configuration:");
    d.says("geoip_db");

    let junk = dir.path().join("junk.mmdb");
    std::fs::write(&junk, "not a MaxMind database").expect("write");
    let d = doctor(&db, &["--geoip-db", &junk.display().to_string()], &[]);
    assert!(!d.passed);
    assert_eq!(d.failures().len(), 1, "{}", d.stdout);
    d.says("FAIL  GeoIP:");
    d.says("is not a MaxMind database");
}

#[tokio::test]
async fn doctor_reads_the_blocklist_and_points_at_its_bad_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = healthy_sqlite(dir.path());
    let file = dir.path().join("blocklist.txt");
    std::fs::write(
        &file,
        "evil.example\nhttp://not/a/domain\n0.0.0.0 a.example\n",
    )
    .expect("write");
    let d = doctor(&db, &["--blocklist", &file.display().to_string()], &[]);
    assert!(d.passed, "{}", d.stdout);
    d.says("blocklist: ");
    d.says("has 2 entries, and 1 line(s)");
    d.says("[2]");

    let missing = dir.path().join("no-blocklist.txt");
    let d = doctor(&db, &["--blocklist", &missing.display().to_string()], &[]);
    assert!(!d.passed);
    assert_eq!(d.failures().len(), 1, "{}", d.stdout);
    d.says("FAIL  blocklist: reading the blocklist");
}

#[tokio::test]
async fn doctor_fails_when_redis_does_not_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = healthy_sqlite(dir.path());
    let d = doctor(&db, &["--redis", "redis://127.0.0.1:1"], &[]);
    assert!(!d.passed);
    assert_eq!(d.failures().len(), 1, "{}", d.stdout);
    d.says("FAIL  Redis: redis://127.0.0.1:1");
    // The same through the environment.
    let d = doctor(&db, &[], &[("KURZ_REDIS", "redis://127.0.0.1:1")]);
    assert!(!d.passed);
    d.says("FAIL  Redis:");
}

#[tokio::test]
async fn doctor_reports_a_bad_configuration_in_words() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = healthy_sqlite(dir.path());
    let d = doctor(&db, &[], &[("KURZ_LINKS__SLUG_LENGTH", "0")]);
    assert!(!d.passed);
    assert_eq!(d.failures().len(), 1, "{}", d.stdout);
    d.says("FAIL  configuration:");
    d.says("links.slug_length: must be between 4 and 10");

    let file = dir.path().join("kurz.toml");
    std::fs::write(&file, "[links]\nslug_lenght = 7\n").expect("write");
    let d = doctor(&db, &["--config", &file.display().to_string()], &[]);
    assert!(!d.passed);
    d.says("FAIL  configuration:");
    d.says("slug_lenght");
}

#[tokio::test]
async fn doctor_warns_when_the_listen_address_is_taken() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = healthy_sqlite(dir.path());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("addr").to_string();
    let d = doctor(&db, &["--listen", &address], &[]);
    assert!(d.passed, "a warning alone passes: {}", d.stdout);
    d.says(&format!(
        "warn  listen address: something already listens on {address}"
    ));
    let d = doctor(&db, &["--listen", "not an address"], &[]);
    assert!(!d.passed);
    d.says("FAIL  listen address:");
    let d = doctor(&db, &["--metrics-listen", &address], &[]);
    assert!(d.passed, "{}", d.stdout);
    d.says(&format!(
        "warn  metrics address: something already listens on {address}"
    ));
}

backend_tests!(
    doctor_passes_on_a_healthy_setup,
    doctor_reports_migrations_without_applying_them
);
