//! Housekeeping that keeps the big tables cheap: daily partitions created
//! ahead of time, old ones dropped whole, expired idempotency keys purged.

use std::time::Duration;

use time::{Date, OffsetDateTime};

use crate::{Store, StoreError};

/// The tables partitioned by day of their UUID v7 ids.
pub const PARTITIONED_TABLES: [&str; 3] = ["events", "deliveries", "attempts"];

impl Store {
    /// Makes sure the partitions from yesterday to `days_ahead` days from now
    /// exist; returns how many were created.
    #[tracing::instrument(skip_all)]
    pub async fn ensure_partitions(&self, days_ahead: i32) -> Result<i32, StoreError> {
        let client = self.connection().await?;
        let yesterday = OffsetDateTime::now_utc()
            .date()
            .previous_day()
            .unwrap_or(Date::MIN);
        let mut created = 0;
        for table in PARTITIONED_TABLES {
            let row = client
                .query_one(
                    "SELECT eventflow_ensure_partitions($1, $2, $3)",
                    &[&table, &yesterday, &(days_ahead + 2)],
                )
                .await?;
            created += row.get::<_, i32>(0);
        }
        Ok(created)
    }

    /// Drops whole daily partitions older than `before` (UTC day); returns how many.
    #[tracing::instrument(skip_all)]
    pub async fn drop_partitions_before(&self, before: Date) -> Result<i32, StoreError> {
        let client = self.connection().await?;
        let mut dropped = 0;
        for table in PARTITIONED_TABLES {
            let row = client
                .query_one(
                    "SELECT eventflow_drop_partitions_before($1, $2)",
                    &[&table, &before],
                )
                .await?;
            dropped += row.get::<_, i32>(0);
        }
        Ok(dropped)
    }

    /// Deletes idempotency keys older than `retention`; returns how many.
    #[tracing::instrument(skip_all)]
    pub async fn purge_idempotency_keys(&self, retention: Duration) -> Result<u64, StoreError> {
        let client = self.connection().await?;
        let cutoff = OffsetDateTime::now_utc() - retention;
        Ok(client
            .execute(
                "DELETE FROM idempotency_keys WHERE created_at < $1",
                &[&cutoff],
            )
            .await?)
    }
}
