//! Background work of the gateway, each loop stopping with the stop token:
//! relaying the outbox, keeping partitions ahead, purging old idempotency
//! keys.

use std::time::Duration;

use eventflow_queue::{Queue, StreamEntry};
use eventflow_runtime::api_error::ErrorChain;
use eventflow_store::Store;
use tokio_util::sync::CancellationToken;

const OUTBOX_BATCH: i64 = 1000;
const PARTITION_CHECK_INTERVAL: Duration = Duration::from_secs(3600);
const IDEMPOTENCY_PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// Runs `step` every `interval` until `stop` is cancelled.
async fn every<F, Fut>(interval: Duration, stop: CancellationToken, mut step: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => step().await,
        }
    }
}

/// Re-appends events whose first stream append failed, marked so that the
/// dispatcher skips deliveries already made: a failed append may still have
/// reached the stream (Redis applied it, its reply was lost), and recovery
/// re-publishes the same events when Redis lost them.
pub async fn relay_outbox(store: Store, queue: Queue, interval: Duration, stop: CancellationToken) {
    every(interval, stop, || async {
        loop {
            let relayed = store
                .relay_outbox(OUTBOX_BATCH, |events| {
                    let entries: Vec<StreamEntry> = events
                        .into_iter()
                        .map(|(event_id, project_id)| StreamEntry {
                            event_id,
                            project_id,
                        })
                        .collect();
                    let queue = queue.clone();
                    async move { queue.append_recovered(&entries).await.map(drop) }
                })
                .await;
            match relayed {
                Ok(count) if count as i64 == OUTBOX_BATCH => continue,
                Ok(0) => break,
                Ok(count) => {
                    tracing::info!(events = count, "relayed outbox events to the stream");
                    break;
                }
                Err(error) => {
                    tracing::debug!(error = %ErrorChain(&error), "outbox relay failed, will retry");
                    break;
                }
            }
        }
    })
    .await;
}

/// Keeps daily partitions created `days_ahead` days in advance.
pub async fn maintain_partitions(store: Store, days_ahead: i32, stop: CancellationToken) {
    every(PARTITION_CHECK_INTERVAL, stop, || async {
        match store.ensure_partitions(days_ahead).await {
            Ok(0) => {}
            Ok(created) => tracing::info!(created, "created partitions"),
            Err(error) => {
                tracing::warn!(error = %ErrorChain(&error), "could not create partitions")
            }
        }
    })
    .await;
}

/// Deletes idempotency keys older than `retention`.
pub async fn purge_idempotency_keys(store: Store, retention: Duration, stop: CancellationToken) {
    every(IDEMPOTENCY_PURGE_INTERVAL, stop, || async {
        match store.purge_idempotency_keys(retention).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged expired idempotency keys"),
            Err(error) => {
                tracing::warn!(error = %ErrorChain(&error), "could not purge idempotency keys")
            }
        }
    })
    .await;
}
