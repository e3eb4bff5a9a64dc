//! CSV files: kurz's own columns (`--from csv`) and Bitly's link export
//! (`--from bitly-csv`), whose header names vary between exports and are
//! matched loosely.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use kurz_core::service::ImportLink;

use super::{Entry, Source, SourceError, SourceLink, MAX_LINKS};
use crate::dates;

/// The longest record read; a longer one stops the run (a file with a
/// line of gigabytes is not a link export).
pub(crate) const MAX_RECORD: usize = 64 * 1024;
/// Records per batch.
const BATCH: usize = 200;

/// Which columns a file's header named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Kurz,
    Bitly,
}

#[derive(Debug, Default)]
struct Columns {
    slug: Option<usize>,
    /// Bitly: the custom back-half on a branded domain, preferred to the
    /// generated one when set.
    custom: Option<usize>,
    url: Option<usize>,
    title: Option<usize>,
    created_at: Option<usize>,
    tags: Option<usize>,
    expires_at: Option<usize>,
    max_visits: Option<usize>,
    visits: Option<usize>,
    forward_query: Option<usize>,
    crawlable: Option<usize>,
}

/// A header name with case, spaces and punctuation dropped.
fn squash(name: &str) -> String {
    name.trim_start_matches('\u{feff}')
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Columns {
    fn of(header: &csv::StringRecord, dialect: Dialect) -> Result<Self, SourceError> {
        let mut c = Self::default();
        for (i, name) in header.iter().enumerate() {
            let name = squash(name);
            let slot = match (dialect, name.as_str()) {
                (Dialect::Kurz, "slug") => &mut c.slug,
                (Dialect::Kurz, "url") => &mut c.url,
                (Dialect::Kurz, "createdat") => &mut c.created_at,
                (Dialect::Kurz, "expiresat") => &mut c.expires_at,
                (Dialect::Kurz, "maxvisits") => &mut c.max_visits,
                (Dialect::Kurz, "visits") => &mut c.visits,
                (Dialect::Kurz, "forwardquery") => &mut c.forward_query,
                (Dialect::Kurz, "crawlable") => &mut c.crawlable,
                (Dialect::Bitly, "link" | "bitlink" | "shortlink" | "shorturl" | "id") => {
                    &mut c.slug
                }
                (
                    Dialect::Bitly,
                    "customlink" | "custombitlink" | "custombitlinks" | "custombackhalf",
                ) => &mut c.custom,
                (
                    Dialect::Bitly,
                    "destinationurl" | "longurl" | "originalurl" | "destination" | "url",
                ) => &mut c.url,
                (
                    Dialect::Bitly,
                    "datecreated" | "created" | "createdat" | "creationdate" | "createddate"
                    | "date",
                ) => &mut c.created_at,
                (Dialect::Bitly, "clicks" | "totalclicks" | "engagements" | "totalengagements") => {
                    &mut c.visits
                }
                (_, "title") => &mut c.title,
                (_, "tags") => &mut c.tags,
                _ => continue,
            };
            // The first column of a name counts.
            slot.get_or_insert(i);
        }
        let wanted = match dialect {
            Dialect::Kurz => "the columns slug and url",
            Dialect::Bitly => "a short link column (Link, Bitlink) and a Destination URL column",
        };
        if c.url.is_none() || (c.slug.is_none() && c.custom.is_none()) {
            return Err(SourceError::Csv(format!(
                "the header does not name {wanted}: {:?}",
                header.iter().collect::<Vec<_>>()
            )));
        }
        Ok(c)
    }
}

/// Counts the bytes read since the last record ended and fails past the
/// cap, so one enormous record cannot be buffered whole.
#[derive(Debug)]
struct Capped<R> {
    inner: R,
    since_record: Arc<AtomicUsize>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        // The reader reads ahead a buffer's worth; that much is slack.
        let read = self.since_record.fetch_add(n, Ordering::Relaxed) + n;
        if read > MAX_RECORD + 16 * 1024 {
            return Err(std::io::Error::other(format!(
                "a record is longer than {} KiB",
                MAX_RECORD / 1024
            )));
        }
        Ok(n)
    }
}

#[derive(Debug)]
pub(crate) struct Table {
    dialect: Dialect,
    path: String,
    reader: csv::Reader<Capped<BufReader<File>>>,
    since_record: Arc<AtomicUsize>,
    columns: Columns,
    read: u64,
    done: bool,
    /// An error met in the middle of a batch, given after the batch's
    /// links are settled.
    failed: Option<SourceError>,
}

impl Table {
    pub(crate) fn open(path: &Path, dialect: Dialect) -> Result<Self, SourceError> {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|source| SourceError::File {
            path: shown.clone(),
            source,
        })?;
        let since_record = Arc::new(AtomicUsize::new(0));
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(Capped {
                inner: BufReader::new(file),
                since_record: since_record.clone(),
            });
        let header = reader
            .headers()
            .map_err(|e| SourceError::Csv(format!("{shown}: {e}")))?
            .clone();
        since_record.store(0, Ordering::Relaxed);
        let columns = Columns::of(&header, dialect)?;
        Ok(Self {
            dialect,
            path: shown,
            reader,
            since_record,
            columns,
            read: 0,
            done: false,
            failed: None,
        })
    }

    fn entry(&self, row: &csv::StringRecord, line: u64) -> Entry {
        let key = format!("line {line}");
        match self.link(row) {
            Ok(link) => Entry::Link(SourceLink::new(link)),
            Err(reason) => Entry::Unreadable { key, reason },
        }
    }

    fn link(&self, row: &csv::StringRecord) -> Result<ImportLink, String> {
        let c = &self.columns;
        let field = |i: Option<usize>| i.and_then(|i| row.get(i)).unwrap_or_default();
        let slug = match self.dialect {
            Dialect::Kurz => field(c.slug).to_owned(),
            Dialect::Bitly => {
                let custom = field(c.custom);
                back_half(if custom.is_empty() {
                    field(c.slug)
                } else {
                    custom
                })
            }
        };
        if slug.is_empty() {
            return Err("no slug".into());
        }
        let url = field(c.url).to_owned();
        let separators: &[char] = match self.dialect {
            Dialect::Kurz => &['|'],
            Dialect::Bitly => &['|', ',', ';'],
        };
        let tags = field(c.tags)
            .split(separators)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        let visits = count(field(c.visits), "visits")?.unwrap_or(0);
        let forward_query = switch(field(c.forward_query), "forward_query")?;
        let crawlable = switch(field(c.crawlable), "crawlable")?;
        Ok(ImportLink {
            slug,
            url,
            created_at: dates::parse(field(c.created_at))?,
            expires_at: dates::parse(field(c.expires_at))?,
            max_visits: count(field(c.max_visits), "max_visits")?,
            tags,
            title: Some(field(c.title).to_owned()).filter(|t| !t.is_empty()),
            forward_query,
            crawlable,
            visits,
            human_visits: visits,
        })
    }
}

/// `true` or `false` (the default, for an empty field).
fn switch(text: &str, name: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "" | "false" | "0" | "no" => Ok(false),
        "true" | "1" | "yes" => Ok(true),
        other => Err(format!("{name} {other:?} is not true or false")),
    }
}

/// A whole number, or nothing for an empty field. Bitly may group digits.
fn count(text: &str, name: &str) -> Result<Option<i64>, String> {
    let digits: String = text.chars().filter(|c| *c != ',').collect();
    if digits.is_empty() {
        return Ok(None);
    }
    digits
        .parse()
        .map(Some)
        .map_err(|_| format!("{name} {text:?} is not a whole number"))
}

/// The back-half of a Bitly link: `bit.ly/3abc` and `https://brand.co/x`
/// give `3abc` and `x`.
fn back_half(link: &str) -> String {
    let link = link.split(['?', '#']).next().unwrap_or_default();
    let link = link.trim_end_matches('/');
    link.rsplit('/').next().unwrap_or_default().to_owned()
}

#[async_trait]
impl Source for Table {
    async fn next_batch(&mut self) -> Result<Option<Vec<Entry>>, SourceError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        let mut entries = Vec::with_capacity(BATCH);
        let mut row = csv::StringRecord::new();
        while entries.len() < BATCH && self.read < MAX_LINKS {
            let line = self.reader.position().line();
            match self.reader.read_record(&mut row) {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    break;
                }
                // A row that is not UTF-8: the next one may be.
                Err(e) if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) => {
                    self.since_record.store(0, Ordering::Relaxed);
                    self.read += 1;
                    entries.push(Entry::Unreadable {
                        key: format!("line {line}"),
                        reason: "not UTF-8".into(),
                    });
                    continue;
                }
                Err(e) => {
                    let e = SourceError::Csv(format!("{}: {e}", self.path));
                    self.done = true;
                    if entries.is_empty() {
                        return Err(e);
                    }
                    self.failed = Some(e);
                    break;
                }
            }
            self.since_record.store(0, Ordering::Relaxed);
            self.read += 1;
            if row.iter().all(str::is_empty) {
                continue;
            }
            entries.push(self.entry(&row, line));
        }
        if self.read >= MAX_LINKS {
            self.done = true;
        }
        Ok((!entries.is_empty()).then_some(entries))
    }

    fn total(&self) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitly_back_halves_come_from_either_spelling_of_a_link() {
        assert_eq!(back_half("bit.ly/3abcDEF"), "3abcDEF");
        assert_eq!(back_half("https://brand.co/summer-sale/"), "summer-sale");
        assert_eq!(back_half("x"), "x");
    }

    #[test]
    fn header_names_are_matched_loosely() {
        assert_eq!(squash("\u{feff}Destination URL"), "destinationurl");
        assert_eq!(squash("created_at"), "createdat");
    }
}
