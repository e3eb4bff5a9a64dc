//! Link IDs and the slug secret ([`IdSource`]).

use async_trait::async_trait;

use kurz_core::error::StoreError;
use kurz_core::ports::IdSource;
use kurz_core::slug::SlugSecret;

use crate::db::Arg;
use crate::store::SqlStore;

#[async_trait]
impl IdSource for SqlStore {
    async fn next_id(&self) -> Result<u64, StoreError> {
        self.ready().await?;
        self.ids
            .next(|n| async move {
                // The update locks the counter row until commit, so the
                // select reads this lease and nobody else's.
                self.timed("next_id", async {
                    let mut tx = self.primary.begin().await?;
                    let n = i64::try_from(n).unwrap_or(i64::MAX);
                    tx.exec().execute(&self.q.lease_ids, &[Arg::Int(n)]).await?;
                    let (end,): (i64,) = tx.exec().fetch_one(&self.q.read_next_id, &[]).await?;
                    tx.commit().await?;
                    Ok(u64::try_from(end).unwrap_or(0))
                })
                .await
            })
            .await
    }

    async fn slug_secret(&self) -> Result<SlugSecret, StoreError> {
        self.ready().await.cloned()
    }
}
