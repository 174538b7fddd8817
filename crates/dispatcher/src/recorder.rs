//! Writes delivery states and attempts to PostgreSQL in batches, then
//! acknowledges the stream entries whose deliveries are all recorded. An
//! entry is never acknowledged before its state is durable, so a crash at any
//! moment leaves it pending in the stream, to be claimed and finished by
//! another dispatcher.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use eventflow_domain::EndpointId;
use eventflow_queue::Queue;
use eventflow_store::{AttemptRecord, DeliveryState, Store};
use tokio::sync::mpsc;

use crate::deliver::DeliveryResult;

/// Records taken into one write at most.
const MAX_BATCH: usize = 1000;
/// Backoff bounds while PostgreSQL refuses writes.
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

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
        tracker.spawn(write_batches(store, queue, receiver));
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

async fn write_batches(store: Store, queue: Queue, mut receiver: mpsc::Receiver<Record>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        write_until_stored(&store, &batch).await;
        acknowledge(&queue, &batch).await;
        record_endpoint_health(&store, &batch).await;
        batch.clear();
    }
}

/// Retries until PostgreSQL takes the batch: acknowledging without it would lose state.
async fn write_until_stored(store: &Store, batch: &[Record]) {
    let states: Vec<DeliveryState> = batch
        .iter()
        .map(|record| record.result.state.clone())
        .collect();
    let attempts: Vec<AttemptRecord> = batch
        .iter()
        .filter_map(|record| record.result.attempt.clone())
        .collect();
    let mut backoff = MIN_BACKOFF;
    loop {
        match store.record_deliveries(&states, &attempts).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(error = ?error, records = batch.len(), "could not record deliveries, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
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
