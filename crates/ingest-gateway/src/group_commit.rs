//! Group commit: requests hand their events to a few writer tasks, and each
//! writer stores everything that queued up while it was busy in one statement
//! (one transaction, one WAL flush). Throughput then follows the batch size,
//! not the fsync latency, and no request waits for a timer.
//!
//! One event's data never fails the others: when PostgreSQL refuses the
//! batch's statement (say, a payload it cannot parse), the writer bisects the
//! batch and stores each half on its own, down to the single event at fault,
//! which alone gets the refusal. A batch of n events with one culprit costs
//! about 2·log2(n) more statements, and only when a statement fails.
//!
//! After the commit a writer appends the batch to the Redis stream in one
//! pipeline. If that fails the events are already safe: they are recorded in
//! the outbox, which the relay (and the dispatcher's recovery) re-publishes.
//! Once the requests have their answers, it hands the batch's event counts to
//! the statistics writer, which adds them with one statement at a time (a
//! failure is only logged).

use std::sync::Arc;
use std::time::{Duration, Instant};

use eventflow_queue::{Queue, StreamEntry};
use eventflow_runtime::api_error::ErrorChain;
use eventflow_store::{InsertOutcome, NewEvent, StatsDelta, StatsWriter, Store, StoreError};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_util::task::TaskTracker;

/// Why an event was not committed, so not acknowledged. The writer logs the
/// cause once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    #[error("database unavailable")]
    Unavailable,
    #[error("database did not answer in time")]
    Timeout,
    #[error("database rejected the batch")]
    Rejected,
    #[error("the gateway is shutting down")]
    ShuttingDown,
    /// PostgreSQL refused this one event's data; the others of its batch were stored.
    #[error("the database refused this event's data ({reason})")]
    EventRefused { reason: String },
}

/// What became of one event handed to the committer.
pub type EventResult = Result<InsertOutcome, CommitError>;

/// A failed batch with its cause, as the writer sees it.
#[derive(Debug, thiserror::Error)]
enum BatchError {
    #[error("database error")]
    Store(#[from] StoreError),
    #[error("database did not answer within {0:?}")]
    Timeout(Duration),
}

impl BatchError {
    fn kind(&self) -> CommitError {
        match self {
            Self::Store(error) if error.is_unavailable() => CommitError::Unavailable,
            Self::Store(error) => match error.data_refusal() {
                Some(reason) => CommitError::EventRefused {
                    reason: reason.to_owned(),
                },
                None => CommitError::Rejected,
            },
            Self::Timeout(_) => CommitError::Timeout,
        }
    }

    /// True when the statement failed on its rows: a part of the batch may
    /// still be stored. An unreachable database or a timeout fails any part.
    fn may_be_one_events_fault(&self) -> bool {
        matches!(self, Self::Store(error) if error.is_statement_failure())
    }
}

struct CommitJob {
    events: Vec<NewEvent>,
    reply: Reply,
}

/// Settings of the writers.
#[derive(Debug, Clone)]
pub struct GroupCommitSettings {
    pub writers: usize,
    pub max_events: usize,
    pub timeout: Duration,
}

/// Hands events to the writers; cheap to clone. Writers stop once every
/// clone is dropped and the queue is drained.
#[derive(Clone)]
pub struct GroupCommitter {
    jobs: mpsc::Sender<CommitJob>,
}

impl GroupCommitter {
    /// Starts the writers on `tracker`.
    pub fn start(
        store: Store,
        queue: Queue,
        settings: GroupCommitSettings,
        tracker: &TaskTracker,
    ) -> Self {
        let (jobs, receiver) = mpsc::channel(settings.max_events.max(1) * 4);
        let receiver = Arc::new(Mutex::new(receiver));
        let (stats, stats_writer) = StatsWriter::start(store.clone(), STATS_PACE);
        // Ends once every writer has dropped its sender and the rest is written.
        tracker.spawn(stats_writer);
        for _ in 0..settings.writers.max(1) {
            let writer = Writer {
                store: store.clone(),
                queue: queue.clone(),
                stats: stats.clone(),
                jobs: receiver.clone(),
                settings: settings.clone(),
            };
            tracker.spawn(writer.run());
        }
        Self { jobs }
    }

    /// Stores the events and returns one result each, in order, once
    /// committed; Err only when the writers are gone.
    pub async fn commit(&self, events: Vec<NewEvent>) -> Result<Vec<EventResult>, CommitError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(CommitJob { events, reply })
            .await
            .map_err(|_| CommitError::ShuttingDown)?;
        answer.await.unwrap_or(Err(CommitError::ShuttingDown))
    }
}

struct Writer {
    store: Store,
    queue: Queue,
    /// To the statistics writer.
    stats: StatsWriter,
    jobs: Arc<Mutex<mpsc::Receiver<CommitJob>>>,
    settings: GroupCommitSettings,
}

impl Writer {
    async fn run(self) {
        while let Some(batch) = self.next_batch().await {
            self.commit_batch(batch).await;
        }
    }

    /// Waits for one job, then takes whatever else is already queued, up to
    /// `max_events`. Returns None once the channel is closed and drained.
    async fn next_batch(&self) -> Option<Vec<CommitJob>> {
        let mut jobs = self.jobs.lock().await;
        let first = jobs.recv().await?;
        let mut events = first.events.len();
        let mut batch = vec![first];
        while events < self.settings.max_events {
            match jobs.try_recv() {
                Ok(job) => {
                    events += job.events.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        Some(batch)
    }

    #[tracing::instrument(skip_all, fields(requests = batch.len()))]
    async fn commit_batch(&self, batch: Vec<CommitJob>) {
        // Moves the events out of their jobs: payloads are not copied.
        let mut events: Vec<NewEvent> = Vec::new();
        let mut replies = Vec::with_capacity(batch.len());
        for job in batch {
            replies.push((job.events.len(), job.reply));
            events.extend(job.events);
        }
        let started = Instant::now();
        let outcomes = self.store_isolating(&events).await;
        metrics::histogram!("eventflow_group_commit_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::histogram!("eventflow_group_commit_events").record(events.len() as f64);
        crate::fault::before_stream_append();
        self.announce(&events, &outcomes).await;
        let stats = count_stored_events(&events, &outcomes);
        reply_in_order(replies, outcomes);
        self.record_stats(stats);
    }

    /// Stores `events` in one statement; when PostgreSQL refuses it, bisects
    /// and stores each half alone, so only the events at fault fail. Returns
    /// one result per event, in order.
    async fn store_isolating(&self, events: &[NewEvent]) -> Vec<EventResult> {
        let mut results: Vec<Option<EventResult>> = vec![None; events.len()];
        // Ranges still to store; popped last-in first, so the halves of a
        // split run in order.
        let mut pending: Vec<std::ops::Range<usize>> = Vec::with_capacity(8);
        pending.push(0..events.len());
        while let Some(range) = pending.pop() {
            let error = match self.insert(&events[range.clone()]).await {
                Ok(outcomes) => {
                    for (slot, outcome) in results[range].iter_mut().zip(outcomes) {
                        *slot = Some(Ok(outcome));
                    }
                    continue;
                }
                Err(error) => error,
            };
            if range.len() > 1 && error.may_be_one_events_fault() {
                tracing::warn!(error = %ErrorChain(&error), events = range.len(), "group commit refused, storing its halves apart");
                metrics::counter!("eventflow_group_commit_splits_total").increment(1);
                let middle = range.start + range.len() / 2;
                pending.push(middle..range.end);
                pending.push(range.start..middle);
                continue;
            }
            let kind = error.kind();
            if matches!(kind, CommitError::EventRefused { .. }) {
                tracing::warn!(error = %ErrorChain(&error), event_id = %events[range.start].id, "database refused an event's data");
            } else {
                tracing::error!(error = %ErrorChain(&error), events = range.len(), "group commit failed");
            }
            let failed: Vec<std::ops::Range<usize>> = if error.may_be_one_events_fault() {
                vec![range]
            } else {
                // Unreachable or too slow: every part left would fail the same way.
                std::iter::once(range).chain(pending.drain(..)).collect()
            };
            for range in failed {
                for slot in &mut results[range] {
                    *slot = Some(Err(kind.clone()));
                }
            }
        }
        results
            .into_iter()
            .map(|result| result.unwrap_or(Err(CommitError::Rejected)))
            .collect()
    }

    async fn insert(&self, events: &[NewEvent]) -> Result<Vec<InsertOutcome>, BatchError> {
        let timeout = self.settings.timeout;
        Ok(
            tokio::time::timeout(timeout, self.store.insert_events(events))
                .await
                .map_err(|_| BatchError::Timeout(timeout))??,
        )
    }

    /// Appends the newly stored events to the stream; on failure records them
    /// in the outbox so they are re-published, never dropped.
    async fn announce(&self, events: &[NewEvent], outcomes: &[EventResult]) {
        let entries: Vec<StreamEntry> = events
            .iter()
            .zip(outcomes)
            .filter(|(_, outcome)| **outcome == Ok(InsertOutcome::Inserted))
            .map(|(event, _)| StreamEntry {
                event_id: event.id,
                project_id: event.project_id,
            })
            .collect();
        if entries.is_empty() {
            return;
        }
        let Err(error) = self.queue.append_events(&entries).await else {
            return;
        };
        metrics::counter!("eventflow_stream_append_failures_total").increment(entries.len() as u64);
        tracing::warn!(error = %ErrorChain(&error), events = entries.len(), "stream append failed, recording events in the outbox");
        let unpublished: Vec<_> = entries
            .iter()
            .map(|entry| (entry.event_id, entry.project_id))
            .collect();
        if let Err(error) = self
            .store
            .record_unpublished(&unpublished, &error.to_string())
            .await
        {
            // Still committed: the dispatcher's recovery scan finds events that never reached the stream.
            tracing::error!(error = %ErrorChain(&error), events = entries.len(), "could not record unpublished events in the outbox");
        }
    }

    /// Hands the batch's counts to the statistics writer without waiting:
    /// statistics never hold up ingest.
    fn record_stats(&self, stats: StatsDelta) {
        if !self.stats.record(stats) {
            metrics::counter!("eventflow_stats_dropped_total").increment(1);
            tracing::warn!("statistics queue full, dropping a batch's event counts");
        }
    }
}

/// How often the event counts are written (they are kept per minute).
const STATS_PACE: Duration = Duration::from_millis(500);

/// Counts the events stored now (not the duplicates) per project and minute.
fn count_stored_events(events: &[NewEvent], outcomes: &[EventResult]) -> StatsDelta {
    let mut stats = StatsDelta::default();
    for (event, outcome) in events.iter().zip(outcomes) {
        if *outcome == Ok(InsertOutcome::Inserted) {
            stats.add_events(event.project_id, event.received_at, 1);
        }
    }
    stats
}

type Reply = oneshot::Sender<Result<Vec<EventResult>, CommitError>>;

/// Hands each request the outcomes of its own events: `replies` holds each
/// request's event count, in the order its events were concatenated.
fn reply_in_order(replies: Vec<(usize, Reply)>, outcomes: Vec<EventResult>) {
    let mut outcomes = outcomes.into_iter();
    for (count, reply) in replies {
        let mine: Vec<EventResult> = outcomes.by_ref().take(count).collect();
        let _ = reply.send(Ok(mine));
    }
}

#[cfg(test)]
mod tests {
    use eventflow_domain::{EventId, EventType, ProjectId};
    use eventflow_queue::QueueSettings;
    use eventflow_runtime::telemetry::LogCapture;
    use eventflow_store::PoolSettings;
    use time::OffsetDateTime;

    use super::*;

    fn event() -> NewEvent {
        let now = OffsetDateTime::now_utc();
        NewEvent {
            id: EventId::new(),
            project_id: ProjectId::new(),
            event_type: EventType::parse("order.created").unwrap(),
            payload: "{}".to_owned(),
            idempotency: None,
            occurred_at: now,
            received_at: now,
            traceparent: None,
        }
    }

    // One thread, so the writer task logs to this test's subscriber.
    #[tokio::test(flavor = "current_thread")]
    async fn a_failed_commit_logs_its_root_cause_once() {
        // A port nothing listens on: PostgreSQL refuses the connection.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let settings = PoolSettings {
            max_connections: 1,
            acquire_timeout: Duration::from_secs(2),
        };
        let store =
            Store::connect(&format!("postgres://postgres@{closed}/none"), &settings).unwrap();
        let queue = Queue::connect(&QueueSettings {
            redis_url: eventflow_test_support::redis_url(),
            key_prefix: eventflow_test_support::unique_redis_prefix(),
            connections: 1,
            command_timeout: Duration::from_secs(2),
        })
        .await
        .unwrap();
        let logs = LogCapture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let tracker = TaskTracker::new();
        let committer = GroupCommitter::start(
            store,
            queue,
            GroupCommitSettings {
                writers: 1,
                max_events: 10,
                timeout: Duration::from_secs(5),
            },
            &tracker,
        );

        let outcomes = committer.commit(vec![event(), event()]).await.unwrap();

        assert_eq!(
            outcomes,
            vec![Err(CommitError::Unavailable), Err(CommitError::Unavailable)]
        );
        let logs = logs.text();
        assert_eq!(logs.matches("group commit failed").count(), 1, "{logs}");
        assert!(logs.contains("Connection refused"), "{logs}");
    }
}
