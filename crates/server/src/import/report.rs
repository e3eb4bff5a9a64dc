//! What a run did, counted, with the first few examples of each reason a
//! link was skipped.

use std::fmt;

/// Examples kept per reason.
const EXAMPLES: usize = 3;

/// The outcome of one import run.
#[derive(Debug, Default)]
pub struct Report {
    pub imported: u64,
    /// Of `imported`: under another slug than the source's.
    pub renamed: u64,
    pub already_present: u64,
    /// In the order the reasons first came up.
    skipped: Vec<Skipped>,
    renames: Vec<String>,
    notes: Vec<String>,
}

#[derive(Debug)]
struct Skipped {
    reason: String,
    count: u64,
    examples: Vec<String>,
}

impl Report {
    pub fn skipped(&self) -> u64 {
        self.skipped.iter().map(|s| s.count).sum()
    }

    /// How many were skipped for `reason`.
    pub fn skipped_for(&self, reason: &str) -> u64 {
        self.skipped
            .iter()
            .find(|s| s.reason == reason)
            .map_or(0, |s| s.count)
    }

    pub(crate) fn imported(&mut self, renamed: Option<(&str, &str)>) {
        self.imported += 1;
        if let Some((from, to)) = renamed {
            self.renamed += 1;
            if self.renames.len() < EXAMPLES {
                self.renames.push(format!("{from:?} as {to}"));
            }
        }
    }

    pub(crate) fn present(&mut self) {
        self.already_present += 1;
    }

    pub(crate) fn skip(&mut self, reason: &str, example: String) {
        let entry = match self.skipped.iter_mut().position(|s| s.reason == reason) {
            Some(i) => &mut self.skipped[i],
            None => {
                self.skipped.push(Skipped {
                    reason: reason.to_owned(),
                    count: 0,
                    examples: Vec::new(),
                });
                let last = self.skipped.len() - 1;
                &mut self.skipped[last]
            }
        };
        entry.count += 1;
        if entry.examples.len() < EXAMPLES {
            entry.examples.push(example);
        }
    }

    pub(crate) fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// One line for the progress bar.
    pub(crate) fn summary(&self) -> String {
        format!(
            "{} imported, {} already present, {} skipped",
            self.imported,
            self.already_present,
            self.skipped()
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "imported: {} (renamed: {})", self.imported, self.renamed)?;
        if !self.renames.is_empty() {
            writeln!(f, "  e.g. {}", self.renames.join(", "))?;
        }
        writeln!(f, "already present: {}", self.already_present)?;
        writeln!(f, "skipped: {}", self.skipped())?;
        for s in &self.skipped {
            writeln!(f, "  {}: {}", s.reason, s.count)?;
            for e in &s.examples {
                writeln!(f, "    e.g. {e}")?;
            }
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}
