//! Generations of slugs: a counter per stripe of slug hashes, moved on by
//! every invalidation of a slug in the stripe (all of them on a clear).
//!
//! A cache fill carries an answer read from below at some moment; if the
//! slug was invalidated since, the answer may be the old one and must not
//! be cached. So a fill reads the generation before it asks, and caches
//! only if it has not moved. The stripes keep this to fixed memory; a
//! change to another slug of the same stripe only costs a fill.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

const STRIPES: usize = 4096;

#[derive(Debug)]
pub(crate) struct Generations {
    stripes: Box<[AtomicU64]>,
    hasher: RandomState,
}

/// Every stripe's generation at one moment (for the warm-up, whose rows all
/// come from one read of the store).
#[derive(Debug)]
pub(crate) struct Snapshot(Box<[u64]>);

impl Default for Generations {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl Generations {
    fn index(&self, slug: &str) -> usize {
        // The remainder is below STRIPES, so it fits.
        (self.hasher.hash_one(slug) % STRIPES as u64) as usize
    }

    /// The generation of `slug` now.
    pub(crate) fn of(&self, slug: &str) -> u64 {
        self.stripes[self.index(slug)].load(Ordering::Acquire)
    }

    /// `slug` changed: fills that started before now are stale.
    pub(crate) fn advance(&self, slug: &str) {
        self.stripes[self.index(slug)].fetch_add(1, Ordering::AcqRel);
    }

    /// Anything may have changed.
    pub(crate) fn advance_all(&self) {
        for stripe in &self.stripes {
            stripe.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot(
            self.stripes
                .iter()
                .map(|s| s.load(Ordering::Acquire))
                .collect(),
        )
    }

    /// Whether `slug` has not been invalidated since `snapshot`.
    pub(crate) fn unchanged_since(&self, snapshot: &Snapshot, slug: &str) -> bool {
        let i = self.index(slug);
        snapshot.0[i] == self.stripes[i].load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalidation_moves_its_slug_and_a_clear_moves_every_slug() {
        let g = Generations::default();
        let (a, b) = (g.of("a"), g.of("b"));
        let before = g.snapshot();
        g.advance("a");
        assert_ne!(g.of("a"), a);
        assert!(!g.unchanged_since(&before, "a"));
        let after_a = g.snapshot();
        g.advance_all();
        assert_ne!(g.of("b"), b);
        assert!(!g.unchanged_since(&after_a, "b"));
        assert!(g.unchanged_since(&g.snapshot(), "b"));
    }
}
