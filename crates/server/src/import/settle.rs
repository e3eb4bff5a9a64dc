//! What becomes of one source link: imported under its slug or a derived
//! one, recognised as already here, or skipped with a reason.
//!
//! A renamed link's slug is derived from the source slug and the target
//! (a hash, never a counter), so a second run derives the same slug and
//! finds the link there: idempotent without remembering anything
//! (ADR 0026).

use kurz_core::account::Principal;
use kurz_core::error::LinkError;
use kurz_core::service::{ImportLink, LinkService};
use kurz_core::slug::Slug;
use sha2::{Digest, Sha256};

use super::report::Report;
use super::SlugPolicy;

/// Derived slugs tried for one link before it is skipped: each one is
/// taken only by a collision of 47-bit hashes or a blocked word.
const RENAME_TRIES: u32 = 4;
/// Length of a derived slug: 62^8 codes, so collisions stay rare.
const DERIVED_LEN: usize = 8;

pub(crate) const INVALID_SLUG: &str = "slug kurz cannot hold";
pub(crate) const SLUG_TAKEN: &str = "slug taken by another link";
pub(crate) const NO_FREE_SLUG: &str = "no free derived slug";

/// How links are settled in one run.
#[derive(Debug)]
pub(crate) struct Settler<'a> {
    pub(crate) links: &'a LinkService,
    pub(crate) owner: Option<&'a Principal>,
    pub(crate) on_invalid: SlugPolicy,
    pub(crate) on_taken: SlugPolicy,
}

/// Why the slug the source gave cannot be used as it is.
#[derive(Clone, Copy)]
enum Unusable {
    Invalid,
    Taken,
}

impl Settler<'_> {
    /// Settles `link` and counts it in `report`. `Err` only for what stops
    /// the run (the store failing).
    pub(crate) async fn settle(
        &self,
        link: ImportLink,
        report: &mut Report,
    ) -> Result<(), LinkError> {
        let example = format!("{:?} -> {}", link.slug, link.url);
        let target = match self.links.normalise_target(&link.url) {
            Ok(t) => t,
            Err(e) => {
                report.skip(&refusal(&e), example);
                return Ok(());
            }
        };
        let unusable = if Slug::parse_alias(&link.slug).is_err() {
            Unusable::Invalid
        } else {
            match self.links.by_slug(&link.slug).await? {
                Some(existing) if existing.url == target => {
                    report.present();
                    return Ok(());
                }
                Some(_) => Unusable::Taken,
                None => match self.links.import(self.owner, link.clone()).await {
                    Ok(_) => {
                        report.imported(None);
                        return Ok(());
                    }
                    // A deleted link keeps its slug for good.
                    Err(LinkError::SlugTaken) => Unusable::Taken,
                    // A blocked keyword.
                    Err(LinkError::Alias(_)) => Unusable::Invalid,
                    Err(e) => return skip_or_stop(e, report, example),
                },
            }
        };
        let (policy, reason) = match unusable {
            Unusable::Invalid => (self.on_invalid, INVALID_SLUG),
            Unusable::Taken => (self.on_taken, SLUG_TAKEN),
        };
        self.rename(link, &target, policy, reason, example, report)
            .await
    }

    /// Looks for the link under its derived slugs (a run with `rename`
    /// may have brought it over already) and, when `policy` says so,
    /// imports it under the first free one.
    async fn rename(
        &self,
        link: ImportLink,
        target: &str,
        policy: SlugPolicy,
        reason: &str,
        example: String,
        report: &mut Report,
    ) -> Result<(), LinkError> {
        for attempt in 0..RENAME_TRIES {
            let slug = derived_slug(&link.slug, target, attempt);
            match self.links.by_slug(&slug).await? {
                Some(existing) if existing.url == target => {
                    report.present();
                    return Ok(());
                }
                Some(_) => continue,
                None if policy == SlugPolicy::Refuse => break,
                None => {}
            }
            let renamed = ImportLink {
                slug: slug.clone(),
                ..link.clone()
            };
            match self.links.import(self.owner, renamed).await {
                Ok(_) => {
                    report.imported(Some((&link.slug, &slug)));
                    return Ok(());
                }
                Err(LinkError::SlugTaken | LinkError::Alias(_)) => continue,
                Err(e) => return skip_or_stop(e, report, example),
            }
        }
        let reason = if policy == SlugPolicy::Refuse {
            reason
        } else {
            NO_FREE_SLUG
        };
        report.skip(reason, example);
        Ok(())
    }
}

/// The slug a link gets in place of `source_slug`: the same for the same
/// source slug and target on every run and every instance.
pub(crate) fn derived_slug(source_slug: &str, target: &str, attempt: u32) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let digest = Sha256::new()
        .chain_update(b"kurz import\n")
        .chain_update(source_slug.as_bytes())
        .chain_update(b"\n")
        .chain_update(target.as_bytes())
        .chain_update(attempt.to_le_bytes())
        .finalize();
    digest
        .iter()
        .take(DERIVED_LEN)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// The report's reason for a link the core refused; `Err` for errors that
/// are not about the link.
fn skip_or_stop(e: LinkError, report: &mut Report, example: String) -> Result<(), LinkError> {
    match e {
        LinkError::Url(_) | LinkError::Invalid { .. } | LinkError::Alias(_) => {
            report.skip(&refusal(&e), example);
            Ok(())
        }
        other => Err(other),
    }
}

fn refusal(e: &LinkError) -> String {
    match e {
        LinkError::Url(u) => format!("target refused: {u}"),
        other => format!("refused: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_slugs_are_stable_valid_and_differ_per_attempt_and_target() {
        let a = derived_slug("has space", "https://example.com/", 0);
        assert_eq!(a, derived_slug("has space", "https://example.com/", 0));
        assert_eq!(a.len(), DERIVED_LEN);
        assert!(Slug::parse_alias(&a).is_ok());
        assert_ne!(a, derived_slug("has space", "https://example.com/", 1));
        assert_ne!(a, derived_slug("has space", "https://example.org/", 0));
    }
}
