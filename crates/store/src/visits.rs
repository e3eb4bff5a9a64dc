//! Visit limits ([`VisitStore`]).

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
            .timed(
                "take_visit",
                self.primary.execute(&self.q.take_visit, &[Arg::Int(id)]),
            )
            .await?;
        Ok(taken == 1)
    }
}
