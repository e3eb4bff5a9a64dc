//! Segment ID allocation: a node leases a block of IDs from a counter row in
//! one statement and hands them out from memory. No per-link coordination
//! between nodes, no duplicates, and a restart simply skips the unused rest
//! of its block.

use std::future::Future;
use std::ops::Range;

use tokio::sync::Mutex;

#[derive(Debug)]
pub(crate) struct SegmentAllocator {
    block: u64,
    /// The IDs of the current block not yet handed out. A tokio mutex,
    /// because leasing the next block awaits the store while holding it:
    /// concurrent callers wait for that one lease rather than each leasing.
    current: Mutex<Range<u64>>,
}

impl SegmentAllocator {
    pub(crate) fn new(block: u64) -> Self {
        Self {
            block: block.max(1),
            current: Mutex::new(0..0),
        }
    }

    /// The next ID. `lease(n)` must atomically reserve `n` IDs in the store
    /// and return the first one past the reserved range.
    pub(crate) async fn next<F, Fut, E>(&self, lease: F) -> Result<u64, E>
    where
        F: FnOnce(u64) -> Fut,
        Fut: Future<Output = Result<u64, E>>,
    {
        let mut current = self.current.lock().await;
        if current.is_empty() {
            let end = lease(self.block).await?;
            *current = end.saturating_sub(self.block)..end;
        }
        let id = current.start;
        current.start += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[tokio::test]
    async fn hands_out_each_block_once_and_leases_when_empty() {
        let counter = AtomicU64::new(1);
        let leases = AtomicU64::new(0);
        let alloc = SegmentAllocator::new(3);
        let mut got = Vec::new();
        for _ in 0..7 {
            let id = alloc
                .next(|n| {
                    leases.fetch_add(1, Ordering::SeqCst);
                    let end = counter.fetch_add(n, Ordering::SeqCst) + n;
                    async move { Ok::<_, ()>(end) }
                })
                .await
                .expect("lease");
            got.push(id);
        }
        assert_eq!(got, vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(leases.load(Ordering::SeqCst), 3);
    }
}
