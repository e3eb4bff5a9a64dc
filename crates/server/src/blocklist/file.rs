//! Writing a blocklist file so that a server watching it never reads half
//! of one: the whole text goes to a temporary file in the same folder,
//! is synced, and is renamed over the old one (a rename within a file
//! system is atomic; the watcher sees a new inode and reloads).

use std::io::Write;
use std::path::Path;

use kurz_core::blocklist::{Blocklist, Entry};

use super::{read_file, BlocklistError};

/// The text of a blocklist file: a header line, then the entries sorted,
/// one a line.
pub fn render(entries: &[Entry]) -> String {
    let mut text = String::from("# kurz blocklist: one domain or address a line\n");
    for e in entries {
        text.push_str(&e.to_string());
        text.push('\n');
    }
    text
}

/// Adds `new` to the blocklist at `path` (made if missing) and writes it
/// back sorted and without duplicates; how many entries were not there
/// before. Comments of the old file are not kept.
pub fn merge_into(path: &Path, new: &Blocklist) -> Result<usize, BlocklistError> {
    let mut list = if path.exists() {
        read_file(path)?
    } else {
        Blocklist::default()
    };
    let before = list.len();
    list.merge(new);
    let added = list.len() - before;
    write_atomically(path, &render(&list.entries())).map_err(|source| BlocklistError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(added)
}

/// Writes `text` to `path` through a temporary file and a rename.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "blocklist".into());
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&temp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}
