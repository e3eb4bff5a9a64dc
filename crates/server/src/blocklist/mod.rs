//! The blocklist of a running server: read from the `blocklist` file and
//! merged with `links.blocked_domains`, swapped in on SIGHUP and when the
//! file changes, and followed by a rescan that disables the links it now
//! blocks (ADR 0020). [`feed`] reads published threat feeds for
//! `kurz blocklist import`; [`mod@file`] writes blocklist files atomically.

pub mod feed;
pub mod file;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use kurz_core::blocklist::{self, Blocklist, ParseReport, SharedBlocklist};
use kurz_core::service::{RescanOutcome, Rescanner};
use kurz_store::Database;

/// The largest blocklist file read: the biggest public feeds are tens of
/// MiB; a file far past that is a mistake, not a list.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// How often the file's identity (size, modification time, inode) is
/// compared with the last one read.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum BlocklistError {
    #[error("reading the blocklist {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the blocklist {path} is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("the blocklist {path} is not UTF-8 text")]
    NotText { path: PathBuf },
}

/// What identifies one version of the file without reading it: a rename
/// over it changes the inode, an edit in place the size or the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileStamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        inode,
    })
}

/// Reads and parses a blocklist file, logging its bad lines.
pub fn read_file(path: &Path) -> Result<Blocklist, BlocklistError> {
    let (list, report) = read_and_report(path)?;
    if report.bad_lines > 0 {
        tracing::warn!(
            path = %path.display(),
            bad_lines = report.bad_lines,
            first = ?report.first_bad,
            "blocklist lines that are neither a domain nor an address were skipped"
        );
    }
    Ok(list)
}

/// Reads and parses a blocklist file; the report says which lines were
/// skipped (`kurz doctor` shows them).
pub fn read_and_report(path: &Path) -> Result<(Blocklist, ParseReport), BlocklistError> {
    let read = |source| BlocklistError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(BlocklistError::TooLarge {
            path: path.to_owned(),
        });
    }
    let bytes = std::fs::read(path).map_err(read)?;
    let text = String::from_utf8(bytes).map_err(|_| BlocklistError::NotText {
        path: path.to_owned(),
    })?;
    Ok(blocklist::parse(&text))
}

/// The list in force: the configured entries plus the file's.
pub fn load(configured: &Blocklist, path: Option<&Path>) -> Result<Blocklist, BlocklistError> {
    let mut list = match path {
        Some(path) => read_file(path)?,
        None => Blocklist::default(),
    };
    list.merge(configured);
    Ok(list)
}

/// Keeps a server's blocklist current and rescans after each change. One
/// task, so reloads and rescans never overlap and their work is bounded:
/// signals and file changes that arrive during a rescan are taken up after
/// it, together.
#[derive(Debug)]
pub struct Watcher {
    pub path: Option<PathBuf>,
    pub configured: Blocklist,
    pub shared: SharedBlocklist,
    pub rescanner: Arc<Rescanner>,
    pub db: Database,
    pub poll: Duration,
}

impl Watcher {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        // The first rescan waits for the store (it may start after us).
        loop {
            if self.db.ensure_ready().await.is_ok() {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
        if !self.rescan(&mut stop).await {
            return;
        }
        let Some(path) = self.path.clone() else {
            return;
        };
        let mut hangup = hangup_signal();
        let mut last = stamp(&path);
        let mut tick = tokio::time::interval(self.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let why = tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                () = next_hangup(&mut hangup) => "SIGHUP",
                _ = tick.tick() => {
                    let now = stamp(&path);
                    if now == last {
                        continue;
                    }
                    "the file changed"
                }
            };
            // Taken before the read: a change during it is seen next time.
            last = stamp(&path);
            if self.reload(&path, why) && !self.rescan(&mut stop).await {
                return;
            }
        }
    }

    /// Swaps in the file's new list; `false` (the old list stays) when it
    /// cannot be read.
    fn reload(&self, path: &Path, why: &str) -> bool {
        match load(&self.configured, Some(path)) {
            Ok(list) => {
                tracing::info!(entries = list.len(), reason = why, "blocklist reloaded");
                self.shared.replace(list);
                true
            }
            Err(e) => {
                tracing::error!(
                    error = %e,
                    reason = why,
                    entries = self.shared.current().len(),
                    "blocklist reload failed; the previous list stays in force"
                );
                false
            }
        }
    }

    /// Disables the links the list in force blocks; `false` when the
    /// server is stopping.
    async fn rescan(&self, stop: &mut watch::Receiver<bool>) -> bool {
        let list = self.shared.current();
        if list.is_empty() {
            return true;
        }
        let started = std::time::Instant::now();
        tokio::select! {
            outcome = self.rescanner.run(&list) => {
                log_rescan(outcome, started.elapsed());
                true
            }
            _ = stop.wait_for(|s| *s) => false,
        }
    }
}

fn log_rescan(outcome: Result<RescanOutcome, kurz_core::error::StoreError>, took: Duration) {
    match outcome {
        Ok(o) => tracing::info!(
            scanned = o.scanned,
            disabled = o.disabled,
            millis = took.as_millis() as u64,
            "blocklist rescan: links to blocked hosts disabled"
        ),
        Err(e) => tracing::error!(
            error = %e,
            "blocklist rescan stopped; the next reload or `kurz scan` finishes it"
        ),
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = ();

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "no SIGHUP handler; the blocklist reloads on change only");
            None
        }
    }
}

#[cfg(not(unix))]
fn hangup_signal() -> Hangup {}

#[cfg(unix)]
async fn next_hangup(hangup: &mut Hangup) {
    match hangup {
        Some(s) => {
            if s.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangup) {
    std::future::pending::<()>().await
}
