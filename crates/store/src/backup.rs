//! `kurz backup`: an online copy of a SQLite database.
//!
//! `VACUUM INTO` reads the database in one read transaction, so the copy is
//! the database as it stood at one instant, and in WAL mode that reader
//! never blocks the server's writers (nor they it). The copy is written
//! under a temporary name beside the target and given the target's name
//! only once complete and on disk: a file under the name asked for is
//! always a whole backup, never the remains of an interrupted one.
//!
//! MariaDB and PostgreSQL have their own tools for this (consistent dumps
//! without stopping writers); the store does not copy them.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use kurz_core::error::StoreError;

use crate::db::Arg;
use crate::error::store_error;
use crate::{Database, DbKind};

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupOutcome {
    pub path: PathBuf,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "{} already exists, and a backup never overwrites a file: choose another name, \
         or move the old file away first",
        .0.display()
    )]
    Exists(PathBuf),
    #[error("the directory {} does not exist", .0.display())]
    NoDirectory(PathBuf),
    #[error("{} is not a usable file name (SQLite needs one in UTF-8)", .0.display())]
    Path(PathBuf),
    #[error("this store copies SQLite databases only, not {0:?}")]
    NotSqlite(DbKind),
    #[error("copying the database failed")]
    Copy(#[source] StoreError),
    #[error("{what} {}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BackupError {
    let path = path.to_owned();
    move |source| BackupError::Io { what, path, source }
}

impl Database {
    /// Copies a SQLite database to `target`, which must not exist, while
    /// the servers on it go on reading and writing.
    ///
    /// The pools connect lazily and SQLite creates a missing file: check
    /// that the database exists before calling this, or it backs up a new,
    /// empty one.
    pub async fn backup(&self, target: &Path) -> Result<BackupOutcome, BackupError> {
        let store = &self.store;
        if store.kind != DbKind::Sqlite {
            return Err(BackupError::NotSqlite(store.kind));
        }
        if target.exists() {
            return Err(BackupError::Exists(target.to_owned()));
        }
        let (dir, partial) = partial_name(target)?;
        let Some(partial_text) = partial.to_str() else {
            return Err(BackupError::Path(target.to_owned()));
        };
        // Not under the store's query time-out: copying a large database
        // rightly takes longer than any one request should.
        let copied = async {
            let mut conn = store.primary.acquire().await?;
            conn.exec()
                .execute("vacuum into ?", &[Arg::Text(partial_text)])
                .await
        }
        .await;
        if let Err(e) = copied {
            let _ = std::fs::remove_file(&partial);
            return Err(BackupError::Copy(store_error(e, store.kind)));
        }
        let finished = finish(&partial, target, &dir);
        let _ = std::fs::remove_file(&partial);
        finished?;
        let bytes = std::fs::metadata(target)
            .map_err(io_error("reading the size of", target))?
            .len();
        Ok(BackupOutcome {
            path: target.to_owned(),
            bytes,
        })
    }
}

/// The directory of `target` and a name in it no other backup uses.
fn partial_name(target: &Path) -> Result<(PathBuf, PathBuf), BackupError> {
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(BackupError::NoDirectory(dir));
    }
    let Some(name) = target.file_name().and_then(|n| n.to_str()) else {
        return Err(BackupError::Path(target.to_owned()));
    };
    let tag: u32 = rand::random();
    let partial = dir.join(format!(".{name}.partial-{}-{tag:08x}", std::process::id()));
    Ok((dir, partial))
}

/// Puts the finished copy on disk under its final name.
fn finish(partial: &Path, target: &Path, dir: &Path) -> Result<(), BackupError> {
    // SQLite does not fsync what VACUUM INTO writes.
    File::open(partial)
        .and_then(|f| f.sync_all())
        .map_err(io_error("syncing", partial))?;
    // A hard link, unlike a rename, fails when the target appeared in the
    // meantime (another backup to the same name): nothing is overwritten.
    match std::fs::hard_link(partial, target) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(BackupError::Exists(target.to_owned()));
        }
        // Filesystems without hard links (FAT, some network shares): a
        // rename, after a last look that the name is still free.
        Err(_) if target.exists() => return Err(BackupError::Exists(target.to_owned())),
        Err(_) => {
            std::fs::rename(partial, target).map_err(io_error("naming the backup", target))?
        }
    }
    // The new name is durable once the directory is.
    #[cfg(unix)]
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_error("syncing the directory", dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partial_copy_sits_beside_the_target_under_a_hidden_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("kurz-backup.db");
        let (parent, partial) = partial_name(&target).expect("a name");
        assert_eq!(parent, dir.path());
        assert_eq!(partial.parent(), Some(dir.path()));
        let name = partial.file_name().and_then(|n| n.to_str()).expect("utf-8");
        assert!(name.starts_with(".kurz-backup.db.partial-"), "{name}");
        assert!(matches!(
            partial_name(&dir.path().join("missing/kurz.db")),
            Err(BackupError::NoDirectory(_))
        ));
        let (parent, _) = partial_name(Path::new("bare.db")).expect("a name");
        assert_eq!(parent, Path::new("."));
    }
}
