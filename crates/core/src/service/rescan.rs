//! The blocklist rescan: links made before their host was blocked are
//! disabled (ADR 0020). It runs after every reload of the list, at start,
//! and as `kurz scan`.

use std::sync::Arc;

use crate::blocklist::Blocklist;
use crate::clock::Clock;
use crate::error::StoreError;
use crate::link::{DisabledReason, LinkChanges};
use crate::ports::{Invalidator, LinkScan, LinkStore, ScannedLink};

/// Links read per query: large enough that a page's round trip is small
/// next to its rows, small enough that a page is a few hundred KiB.
pub const RESCAN_PAGE: u32 = 1000;

/// The ports a [`Rescanner`] works through.
#[derive(Debug, Clone)]
pub struct RescanPorts {
    pub scan: Arc<dyn LinkScan>,
    pub links: Arc<dyn LinkStore>,
    pub clock: Arc<dyn Clock>,
    /// The path every link write takes to every node's caches, so a
    /// disabled link stops redirecting everywhere at once (as `PATCH
    /// disabled: true` does).
    pub invalidator: Arc<dyn Invalidator>,
}

/// What one rescan did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RescanOutcome {
    /// Live, enabled links looked at.
    pub scanned: u64,
    /// Of those, disabled because their host is blocked.
    pub disabled: u64,
}

#[derive(Debug)]
pub struct Rescanner {
    ports: RescanPorts,
    page: u32,
}

impl Rescanner {
    pub fn new(ports: RescanPorts) -> Self {
        Self {
            ports,
            page: RESCAN_PAGE,
        }
    }

    /// The same with another page size (tests walk several pages of a few
    /// links).
    pub fn with_page(ports: RescanPorts, page: u32) -> Self {
        Self {
            ports,
            page: page.max(1),
        }
    }

    /// Disables every live link whose target host `list` blocks. Stops at
    /// the first store error; what was disabled before it stays disabled,
    /// and the next rescan picks up the rest.
    pub async fn run(&self, list: &Blocklist) -> Result<RescanOutcome, StoreError> {
        let mut outcome = RescanOutcome::default();
        if list.is_empty() {
            return Ok(outcome);
        }
        let mut after = 0;
        loop {
            let page = self.ports.scan.enabled_after(after, self.page).await?;
            let Some(last) = page.last() else {
                return Ok(outcome);
            };
            after = last.id;
            outcome.scanned += page.len() as u64;
            for link in page.iter().filter(|l| list.blocks_url(&l.url)) {
                if self.disable_blocked(link).await? {
                    outcome.disabled += 1;
                }
            }
            if page.len() < self.page as usize {
                return Ok(outcome);
            }
        }
    }

    /// Disables one link for its blocked host, through the same store
    /// update and cache invalidation as `PATCH disabled: true`, with the
    /// reason its 410 page names.
    async fn disable_blocked(&self, link: &ScannedLink) -> Result<bool, StoreError> {
        let changes = LinkChanges {
            disabled: Some(true),
            disabled_reason: Some(Some(DisabledReason::Blocklist)),
            ..LinkChanges::default()
        };
        let now = self.ports.clock.now();
        let changed = self.ports.links.update(link.id, &changes, now).await?;
        // Deleted meanwhile: nothing left to disable.
        if changed.is_none() {
            return Ok(false);
        }
        self.ports.invalidator.link_changed(&link.slug).await;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklist::parse;
    use crate::clock::ManualClock;
    use crate::fake::{new_link, FakeStore};
    use crate::ports::NoCache;

    #[tokio::test]
    async fn blocked_links_are_disabled_over_several_pages() {
        let store = FakeStore::new();
        let clock = Arc::new(ManualClock::starting_now());
        for (i, host) in ["a.example", "evil.example", "x.evil.example", "b.example"]
            .iter()
            .cycle()
            .take(10)
            .enumerate()
        {
            let url = format!("https://{host}/{i}");
            let link = new_link(i as i64 + 1, &format!("s{i}"), &url, clock.now());
            store.insert(link).await.expect("insert");
        }
        let ports = RescanPorts {
            scan: store.clone(),
            links: store.clone(),
            clock,
            invalidator: Arc::new(NoCache),
        };
        let (list, _) = parse("evil.example\n");
        let outcome = Rescanner::with_page(ports.clone(), 3)
            .run(&list)
            .await
            .expect("scan");
        assert_eq!(
            outcome,
            RescanOutcome {
                scanned: 10,
                disabled: 5
            }
        );
        // Disabled links are not scanned again.
        let again = Rescanner::with_page(ports, 3)
            .run(&list)
            .await
            .expect("scan");
        assert_eq!(
            again,
            RescanOutcome {
                scanned: 5,
                disabled: 0
            }
        );
    }
}
