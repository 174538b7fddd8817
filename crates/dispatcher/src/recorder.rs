//! Writes delivery states and attempts to PostgreSQL in batches, then
//! acknowledges the stream entries whose deliveries are all recorded. An
//! entry is never acknowledged before its state is durable, so a crash at any
//! moment leaves it pending in the stream, to be claimed and finished by
//! another dispatcher. Each batch then adds its outcomes and attempts to the
//! per-minute statistics.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use eventflow_domain::{DeliveryId, EndpointId};
use eventflow_queue::Queue;
use eventflow_store::{
    AttemptRecord, DeliveryState, DeliveryStatus, StatsDelta, StatsWriter, Store,
};
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::deliver::DeliveryResult;

/// Records taken into one write at most.
const MAX_BATCH: usize = 1000;
/// Backoff bounds while PostgreSQL refuses writes.
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How often delivery counts are written (they are kept per minute).
const STATS_PACE: Duration = Duration::from_millis(500);
/// Refusals (errors other than unavailability) before a batch is given up.
const MAX_REFUSALS: usize = 3;

/// A stream entry waiting for its deliveries to be recorded.
pub struct PendingAck {
    stream_id: String,
    remaining: AtomicUsize,
}

impl PendingAck {
    /// An entry with `deliveries` outcomes still to record.
    pub fn new(stream_id: String, deliveries: usize) -> Arc<Self> {
        Arc::new(Self {
            stream_id,
            remaining: AtomicUsize::new(deliveries),
        })
    }

    /// Counts one recorded delivery; returns the stream id once all are.
    fn recorded(&self) -> Option<&str> {
        (self.remaining.fetch_sub(1, Ordering::AcqRel) == 1).then_some(self.stream_id.as_str())
    }
}

struct Record {
    result: DeliveryResult,
    ack: Option<Arc<PendingAck>>,
}

/// Hands results to the writer; cheap to clone. The writer stops once every
/// clone is dropped and what it holds is written.
#[derive(Clone)]
pub struct Recorder {
    records: mpsc::Sender<Record>,
}

impl Recorder {
    /// Starts the writer task on `tracker`.
    pub fn start(store: Store, queue: Queue, tracker: &tokio_util::task::TaskTracker) -> Self {
        let (records, receiver) = mpsc::channel(MAX_BATCH * 4);
        let (stats, stats_writer) = StatsWriter::start(store.clone(), STATS_PACE);
        // Ends once the batch writer has dropped `stats` and the rest is written.
        tracker.spawn(stats_writer);
        tracker.spawn(write_batches(store, queue, stats, receiver));
        Self { records }
    }

    /// Queues a result; `ack` is the stream entry it belongs to, if any.
    pub async fn record(&self, result: DeliveryResult, ack: Option<Arc<PendingAck>>) {
        if self.records.send(Record { result, ack }).await.is_err() {
            tracing::error!(
                "delivery recorder stopped; the stream entry stays pending and will be retried"
            );
        }
    }
}

async fn write_batches(
    store: Store,
    queue: Queue,
    stats: StatsWriter,
    mut receiver: mpsc::Receiver<Record>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if write_until_stored(&store, &batch).await {
            acknowledge(&queue, &batch).await;
            record_stats(&stats, &batch);
            record_endpoint_health(&store, &batch).await;
        }
        batch.clear();
    }
}

/// Writes the batch, retrying while PostgreSQL is unreachable (acknowledging
/// without it would lose state); returns false when PostgreSQL keeps
/// refusing the batch itself.
async fn write_until_stored(store: &Store, batch: &[Record]) -> bool {
    let states = one_state_per_delivery(batch);
    let attempts: Vec<AttemptRecord> = batch
        .iter()
        .filter_map(|record| record.result.attempt.clone())
        .collect();
    let mut backoff = MIN_BACKOFF;
    let mut refusals = 0;
    loop {
        match store.record_deliveries(&states, &attempts).await {
            Ok(()) => return true,
            Err(error) if !error.is_unavailable() && refusals >= MAX_REFUSALS => {
                // PostgreSQL answers but refuses this batch: give it up rather
                // than stall every later one. Its stream entries stay pending
                // and are claimed and delivered again (at least once).
                tracing::error!(error = ?error, records = batch.len(), "giving up recording a batch PostgreSQL refuses");
                return false;
            }
            Err(error) => {
                refusals += usize::from(!error.is_unavailable());
                tracing::warn!(error = ?error, records = batch.len(), "could not record deliveries, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// The batch's states, one per delivery. The same delivery can finish twice
/// in one batch (sent again after its stream entry was claimed or its retry
/// lease ran out), and PostgreSQL refuses an upsert that touches a row twice:
/// the whole batch would fail on every retry and the recorder would stall.
/// A settled state wins over a pending one; otherwise the later one does.
fn one_state_per_delivery(batch: &[Record]) -> Vec<DeliveryState> {
    let mut states: Vec<DeliveryState> = Vec::with_capacity(batch.len());
    let mut positions: HashMap<DeliveryId, usize> = HashMap::with_capacity(batch.len());
    for record in batch {
        let state = &record.result.state;
        match positions.get(&state.id) {
            Some(&position) => {
                let kept = &mut states[position];
                let settled = |status| status != DeliveryStatus::Pending;
                if settled(state.status) || !settled(kept.status) {
                    *kept = state.clone();
                }
            }
            None => {
                positions.insert(state.id, states.len());
                states.push(state.clone());
            }
        }
    }
    states
}

/// Adds the batch's final outcomes and attempts to the per-minute statistics.
/// Only after the states are stored and acknowledged, and never waiting:
/// statistics never hold up deliveries.
fn record_stats(writer: &StatsWriter, batch: &[Record]) {
    let mut stats = StatsDelta::default();
    // A delivery that settled twice in one batch (sent again) counts once.
    let mut settled = HashSet::with_capacity(batch.len());
    for record in batch {
        let state = &record.result.state;
        if state.status != DeliveryStatus::Pending && settled.insert(state.id) {
            let settled_at = state
                .last_attempt_at
                .unwrap_or_else(OffsetDateTime::now_utc);
            stats.add_delivery(
                state.project_id,
                state.endpoint_id,
                settled_at,
                state.status,
            );
        }
        if let Some(attempt) = &record.result.attempt {
            stats.add_attempt(
                attempt.project_id,
                attempt.endpoint_id,
                attempt.started_at,
                attempt.duration,
            );
        }
    }
    if !writer.record(stats) {
        metrics::counter!("eventflow_stats_dropped_total").increment(1);
        tracing::warn!(
            records = batch.len(),
            "statistics queue full, dropping a batch's delivery counts"
        );
    }
}

async fn acknowledge(queue: &Queue, batch: &[Record]) {
    let done: Vec<String> = batch
        .iter()
        .filter_map(|record| record.ack.as_ref()?.recorded().map(str::to_owned))
        .collect();
    if let Err(error) = queue.ack(&done).await {
        // The entries stay pending and are claimed again later; their
        // deliveries exist, so nothing is sent twice for them.
        tracing::warn!(error = ?error, entries = done.len(), "could not acknowledge stream entries");
    }
}

async fn record_endpoint_health(store: &Store, batch: &[Record]) {
    let (mut succeeded, mut failed) =
        (BTreeSet::<EndpointId>::new(), BTreeSet::<EndpointId>::new());
    for record in batch {
        match record.result.endpoint_succeeded {
            Some(true) => succeeded.insert(record.result.state.endpoint_id),
            Some(false) => failed.insert(record.result.state.endpoint_id),
            None => false,
        };
    }
    failed.retain(|endpoint| !succeeded.contains(endpoint));
    let succeeded: Vec<EndpointId> = succeeded.into_iter().collect();
    let failed: Vec<EndpointId> = failed.into_iter().collect();
    if !succeeded.is_empty()
        && let Err(error) = store.record_endpoint_successes(&succeeded).await
    {
        tracing::warn!(error = ?error, "could not record endpoint successes");
    }
    if !failed.is_empty()
        && let Err(error) = store.record_endpoint_failures(&failed).await
    {
        tracing::warn!(error = ?error, "could not record endpoint failures");
    }
}

#[cfg(test)]
mod tests {
    use eventflow_domain::{EventId, ProjectId};

    use super::*;

    fn record(delivery: (EventId, EndpointId), status: DeliveryStatus, attempts: i32) -> Record {
        let (event_id, endpoint_id) = delivery;
        Record {
            result: DeliveryResult {
                state: DeliveryState {
                    id: DeliveryId::for_event_endpoint(event_id, endpoint_id),
                    project_id: ProjectId::new(),
                    event_id,
                    endpoint_id,
                    status,
                    attempt_count: attempts,
                    retry_base: 0,
                    generation: 0,
                    next_attempt_at: None,
                    last_attempt_at: None,
                    last_status_code: None,
                    last_error: None,
                },
                attempt: None,
                endpoint_succeeded: None,
            },
            ack: None,
        }
    }

    #[test]
    fn a_delivery_finished_twice_in_a_batch_is_written_once_settled_first() {
        let (twice, once) = (
            (EventId::new(), EndpointId::new()),
            (EventId::new(), EndpointId::new()),
        );
        let batch = [
            record(twice, DeliveryStatus::Pending, 1),
            record(once, DeliveryStatus::Pending, 1),
            record(twice, DeliveryStatus::Succeeded, 2),
            record(twice, DeliveryStatus::Pending, 2),
        ];

        let states = one_state_per_delivery(&batch);

        assert_eq!(states.len(), 2);
        assert_eq!(states[0].status, DeliveryStatus::Succeeded);
        assert_eq!(states[0].attempt_count, 2);
        assert_eq!(states[1].event_id, once.0);
    }

    #[test]
    fn of_two_pending_states_the_later_one_is_written() {
        let delivery = (EventId::new(), EndpointId::new());
        let batch = [
            record(delivery, DeliveryStatus::Pending, 1),
            record(delivery, DeliveryStatus::Pending, 2),
        ];

        let states = one_state_per_delivery(&batch);

        assert_eq!(states.len(), 1);
        assert_eq!(states[0].attempt_count, 2);
    }
}
