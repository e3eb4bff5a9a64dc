//! `kurz doctor`: looks at everything a start depends on and says, one line
//! each, what is fine (`ok`), what will hurt (`warn`) and what stops kurz
//! from working (`FAIL`), with what to do about it.
//!
//! It changes nothing: no migration runs, no SQLite file is created, no
//! listener stays bound. It gives each outside service a few seconds, so a
//! dead host gets an answer quickly rather than the pool's full patience.

use std::io::{ErrorKind, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kurz_core::clock::SystemClock;
use kurz_store::inspect::{ping_redis, MigrationReport, ProbeError};
use kurz_store::{Database, DbKind};

use crate::analytics::Geo;
use crate::config::Config;
use crate::startup::redacted;

/// How long any one outside service gets to answer.
const PATIENCE: Duration = Duration::from_secs(5);
/// Clock difference with the database server past which expiry times and
/// click times start to disagree visibly.
const MAX_SKEW_MILLIS: i64 = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Warn,
    Fail,
}

/// The findings so far; each is printed as it is made, since a check may
/// wait seconds for an answer.
#[derive(Debug)]
pub struct Report<W> {
    out: W,
    /// Findings that stop kurz from working.
    pub problems: usize,
    pub warnings: usize,
}

impl<W: Write> Report<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            problems: 0,
            warnings: 0,
        }
    }

    fn note(&mut self, status: Status, text: &str) {
        let label = match status {
            Status::Ok => "ok",
            Status::Warn => {
                self.warnings += 1;
                "warn"
            }
            Status::Fail => {
                self.problems += 1;
                "FAIL"
            }
        };
        // A closed standard output must not turn into a different exit
        // code than the findings call for.
        let _ = writeln!(self.out, "{label:<4}  {text}");
    }

    fn ok(&mut self, text: &str) {
        self.note(Status::Ok, text);
    }

    fn warn(&mut self, text: &str) {
        self.note(Status::Warn, text);
    }

    fn fail(&mut self, text: &str) {
        self.note(Status::Fail, text);
    }
}

/// Runs every check. `config` is the configuration as `kurz serve` would
/// load it, or why it did not load.
pub async fn examine<W: Write>(config: Result<Config, String>, report: &mut Report<W>) {
    let config = match config {
        Ok(c) => c,
        Err(why) => {
            report.fail(&format!(
                "configuration: {why}. Correct that value in the configuration file \
                 (--config / KURZ_CONFIG), its KURZ_* environment variable or its flag; \
                 the other checks need a configuration that loads"
            ));
            return;
        }
    };
    report.ok("configuration: loads, and every value is valid");
    check_listen(&config, report);
    check_database(&config, report).await;
    if let Some(url) = &config.redis {
        check_redis(url, report).await;
    }
    if let Some(path) = &config.geoip_db {
        match Geo::open(path) {
            Ok(_) => report.ok(&format!(
                "GeoIP: {} opens as a MaxMind database",
                path.display()
            )),
            Err(e) => report.fail(&format!(
                "GeoIP: {} is not a MaxMind database kurz can read ({e}). Point --geoip-db / \
                 KURZ_GEOIP_DB at a country database in .mmdb format (GeoLite2-Country.mmdb, \
                 or DB-IP's free country database), or leave it unset",
                path.display()
            )),
        }
    }
    if let Some(path) = &config.blocklist {
        check_blocklist(path, report);
    }
}

fn check_blocklist<W: Write>(path: &std::path::Path, report: &mut Report<W>) {
    match crate::blocklist::read_and_report(path) {
        Ok((list, r)) if r.bad_lines > 0 => report.warn(&format!(
            "blocklist: {} has {} entries, and {} line(s) that are neither a domain nor an \
             address were skipped (first at line(s) {:?}); correct or remove them",
            path.display(),
            list.len(),
            r.bad_lines,
            r.first_bad
        )),
        Ok((list, _)) => report.ok(&format!(
            "blocklist: {} has {} entries",
            path.display(),
            list.len()
        )),
        Err(e) => report.fail(&format!(
            "blocklist: {e}. Point --blocklist / KURZ_BLOCKLIST at a readable text file of \
             domains (one a line, or hosts format), or leave it unset"
        )),
    }
}

fn check_listen<W: Write>(config: &Config, report: &mut Report<W>) {
    check_address(
        "listen address",
        &config.listen,
        "--listen / KURZ_LISTEN",
        report,
    );
    if let Some(address) = &config.metrics_listen {
        let flag = "--metrics-listen / KURZ_METRICS_LISTEN";
        check_address("metrics address", address, flag, report);
    }
}

/// Whether kurz could listen on `address`; `flag` says where it is set.
fn check_address<W: Write>(what: &str, address: &str, flag: &str, report: &mut Report<W>) {
    // Bound and let go at once: the answer holds only for this moment, but
    // it is the moment the operator asked about.
    match std::net::TcpListener::bind(address) {
        Ok(_) => report.ok(&format!("{what}: {address} is free")),
        Err(e) if e.kind() == ErrorKind::AddrInUse => report.warn(&format!(
            "{what}: something already listens on {address} (a kurz already running?). \
             A second kurz there will not start: stop the other, or choose another {flag}"
        )),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => report.fail(&format!(
            "{what}: this user may not listen on {address} ({e}). Ports below 1024 need \
             root or CAP_NET_BIND_SERVICE; choose a port from 1024 up, e.g. 8080, and put \
             a proxy in front"
        )),
        Err(e) => report.fail(&format!(
            "{what}: cannot listen on {address:?} ({e}). Give {flag} as address:port of \
             this machine, e.g. 127.0.0.1:8080 or 0.0.0.0:8080"
        )),
    }
}

async fn check_database<W: Write>(config: &Config, report: &mut Report<W>) {
    let shown = redacted(&config.database);
    let mut options = config.db_options();
    options.acquire_timeout = options.acquire_timeout.min(PATIENCE);
    options.query_timeout = options.query_timeout.min(PATIENCE);
    let file = match options.sqlite_file() {
        Ok(file) => file,
        Err(e) => {
            report.fail(&format!(
                "database: {e}. Correct --database / KURZ_DATABASE, e.g. sqlite://kurz.db"
            ));
            return;
        }
    };
    if let Some(file) = file.filter(|f| !f.exists()) {
        report_missing_file(&file, report);
        return;
    }
    let db = match kurz_store::open(&options, Arc::new(SystemClock)) {
        Ok(db) => db,
        Err(e) => {
            report.fail(&format!(
                "database: {e}. Correct --database / KURZ_DATABASE"
            ));
            return;
        }
    };
    if reachable(&db, "database", &shown, report).await {
        check_migrations(&db, report).await;
        check_clock(&db, report).await;
    }
    db.close().await;
    for url in &config.database_replicas {
        let replica = kurz_store::DbOptions {
            url: url.clone(),
            replicas: Vec::new(),
            ..options.clone()
        };
        let shown = redacted(url);
        match kurz_store::open(&replica, Arc::new(SystemClock)) {
            Ok(db) => {
                reachable(&db, "read replica", &shown, report).await;
                db.close().await;
            }
            Err(e) => report.fail(&format!(
                "read replica {shown}: {e}. Correct --database-replica / \
                 KURZ_DATABASE_REPLICAS"
            )),
        }
    }
}

/// A SQLite file that is not there yet: fine if kurz may create it.
fn report_missing_file<W: Write>(file: &Path, report: &mut Report<W>) {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        report.warn(&format!(
            "database: there is no database at {} yet; the first start creates an empty \
             one. If your links should be there, correct --database / KURZ_DATABASE",
            file.display()
        ));
    } else {
        report.fail(&format!(
            "database: the directory {} does not exist, so kurz cannot create {} there. \
             Create the directory, or correct --database / KURZ_DATABASE",
            dir.display(),
            file.display()
        ));
    }
}

/// Reports whether `db` answers; `what` names it in the line.
async fn reachable<W: Write>(
    db: &Database,
    what: &str,
    shown: &str,
    report: &mut Report<W>,
) -> bool {
    match db.check_connection(PATIENCE).await {
        Ok(()) => {
            report.ok(&format!("{what}: {shown} answers"));
            true
        }
        Err(ProbeError::NoAnswer) => {
            report.fail(&format!(
                "{what}: nothing answered at {shown} within {} s. Is the database server \
                 running, and are the host and port in the URL right?",
                PATIENCE.as_secs()
            ));
            false
        }
        Err(ProbeError::Refused(why)) => {
            let hint = if db.kind() == DbKind::Sqlite {
                "Check that the URL names a kurz SQLite file this user may read and write"
            } else {
                "Check the user name, password and database name in the URL"
            };
            report.fail(&format!("{what}: {shown} refused: {why}. {hint}"));
            false
        }
        Err(e) => {
            report.fail(&format!(
                "{what}: cannot use {shown}: {}. Check the URL and that the database can be \
                 reached from this machine",
                chain(&e)
            ));
            false
        }
    }
}

async fn check_migrations<W: Write>(db: &Database, report: &mut Report<W>) {
    let m = match db.migrations(PATIENCE).await {
        Ok(m) => m,
        Err(e) => {
            report.fail(&format!(
                "migrations: cannot read which ones ran ({}). Check that the database user \
                 may read the table _sqlx_migrations",
                chain(&e)
            ));
            return;
        }
    };
    let mut fine = true;
    if !m.failed.is_empty() {
        fine = false;
        report.fail(&format!(
            "migrations: {} started and did not finish; kurz will not start on this \
             database. Restore the backup taken before the upgrade, then start again",
            versions(&m.failed)
        ));
    }
    if !m.changed.is_empty() {
        fine = false;
        report.fail(&format!(
            "migrations: {} ran with other SQL than this kurz has (a migration was edited \
             after it ran); kurz will not start on this database. Run the kurz release that \
             made this database",
            versions(&m.changed)
        ));
    }
    if !m.unknown.is_empty() {
        fine = false;
        let text = format!(
            "migrations: the database has {} that this kurz does not know: a newer kurz \
             upgraded it",
            versions(&m.unknown)
        );
        if m.tolerates_unknown {
            report.warn(&format!("{text}. This kurz runs on it; upgrade it soon"));
        } else {
            report.fail(&format!(
                "{text}. This kurz will not start on it: run the newer release"
            ));
        }
    }
    if !m.pending.is_empty() {
        fine = false;
        report.warn(&pending_text(&m));
    }
    if fine {
        report.ok(&format!(
            "migrations: all {} applied, none missing",
            m.applied
        ));
    }
}

fn pending_text(m: &MigrationReport) -> String {
    let names: Vec<String> = m
        .pending
        .iter()
        .map(|p| format!("{} {}", p.version, p.description))
        .collect();
    if m.applied == 0 {
        format!(
            "migrations: the database is empty; the first start (or `kurz migrate`) creates \
             the tables ({})",
            names.join(", ")
        )
    } else {
        format!(
            "migrations: {} not applied yet ({}); the next start (or `kurz migrate`) applies \
             them. Back the database up first",
            m.pending.len(),
            names.join(", ")
        )
    }
}

fn versions(list: &[i64]) -> String {
    let text: Vec<String> = list.iter().map(i64::to_string).collect();
    let noun = if list.len() == 1 {
        "migration"
    } else {
        "migrations"
    };
    format!("{noun} {}", text.join(", "))
}

/// Compares this machine's clock with the database server's. kurz stamps
/// every time (creation, expiry, clicks) on the node that handles the
/// request, so nodes sharing a database disagree about when a link expires
/// as far as their clocks do; the database server is the one clock they
/// can all be held against.
async fn check_clock<W: Write>(db: &Database, report: &mut Report<W>) {
    let before = unix_millis();
    let server = db.server_time_millis(PATIENCE).await;
    let after = unix_millis();
    let server = match server {
        Ok(Some(millis)) => millis,
        Ok(None) => {
            report.ok("clock: SQLite uses this machine's clock; nothing to compare");
            return;
        }
        Err(e) => {
            report.warn(&format!(
                "clock: cannot read the database server's time ({})",
                chain(&e)
            ));
            return;
        }
    };
    // The server read its clock somewhere between `before` and `after`.
    let skew = server - (before + after) / 2;
    let slack = (after - before) / 2;
    if skew.abs() > MAX_SKEW_MILLIS + slack {
        let direction = if skew > 0 { "ahead of" } else { "behind" };
        report.warn(&format!(
            "clock: the database server's clock is {:.1} s {direction} this machine's; \
             one of them is wrong, and kurz nodes on wrong clocks disagree about when links \
             expire. Keep every machine in time with NTP (`timedatectl set-ntp true`)",
            skew.abs() as f64 / 1000.0
        ));
    } else {
        report.ok(&format!(
            "clock: the database server and this machine agree within {} ms",
            skew.abs() + slack
        ));
    }
}

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn check_redis<W: Write>(url: &str, report: &mut Report<W>) {
    let shown = redacted(url);
    let consequence = "Without it each server caches on its own and does not hear of \
                       changes made elsewhere until its cache entries expire";
    match ping_redis(url, PATIENCE).await {
        Ok(()) => report.ok(&format!("Redis: {shown} answers PING")),
        Err(ProbeError::NoAnswer) => report.fail(&format!(
            "Redis: nothing answered at {shown} within {} s. {consequence}. Start Redis, \
             correct --redis / KURZ_REDIS, or unset it",
            PATIENCE.as_secs()
        )),
        Err(e) => report.fail(&format!(
            "Redis: {shown} cannot be used: {}. {consequence}. Start Redis, correct \
             --redis / KURZ_REDIS (and its password), or unset it",
            chain(&e)
        )),
    }
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_finding_is_one_labelled_line_and_is_counted() {
        let mut report = Report::new(Vec::new());
        report.ok("a");
        report.warn("b");
        report.fail("c");
        report.fail("d");
        assert_eq!((report.problems, report.warnings), (2, 1));
        let text = String::from_utf8(report.out).expect("utf-8");
        assert_eq!(text, "ok    a\nwarn  b\nFAIL  c\nFAIL  d\n");
    }

    #[tokio::test]
    async fn a_configuration_that_does_not_load_is_a_finding_not_a_crash() {
        let mut report = Report::new(Vec::new());
        examine(
            Err("links.slug_length: must be between 4 and 10".into()),
            &mut report,
        )
        .await;
        assert_eq!(report.problems, 1);
        let text = String::from_utf8(report.out).expect("utf-8");
        assert!(
            text.starts_with("FAIL  configuration: links.slug_length"),
            "{text}"
        );
    }
}
