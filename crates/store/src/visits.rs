//! Visit counts ([`VisitStore`]).

use async_trait::async_trait;

use kurz_core::error::StoreError;
use kurz_core::ports::VisitStore;

use crate::db::Arg;
use crate::store::SqlStore;

#[async_trait]
impl VisitStore for SqlStore {
    async fn take_visit(&self, id: i64) -> Result<bool, StoreError> {
        self.ready().await?;
        let taken = self
            .timed(self.primary.execute(&self.q.take_visit, &[Arg::Int(id)]))
            .await?;
        Ok(taken == 1)
    }

    async fn add_visits(&self, counts: &[(i64, u64)]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        self.ready().await?;
        self.timed(async {
            let mut tx = self.primary.begin().await?;
            for &(id, n) in counts {
                let n = i64::try_from(n).unwrap_or(i64::MAX);
                tx.exec()
                    .execute(&self.q.add_visits, &[Arg::Int(n), Arg::Int(id)])
                    .await?;
            }
            tx.commit().await
        })
        .await
    }
}
