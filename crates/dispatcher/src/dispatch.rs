//! The work loops: reading the stream (fan-out and first attempts) and
//! picking up due retries from PostgreSQL. Both hand each delivery to its own
//! task, bounded by `max_in_flight`, and results to the recorder.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eventflow_domain::{DeliveryId, EventId, EventType};
use eventflow_queue::{Queue, QueueError, ReceivedEntry};
use eventflow_store::{DeliveryState, DeliveryStatus, DueDelivery, Store, StoreError, StoredEvent};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::deliver::{Deliverer, DeliveryResult, Prior, webhook_body};
use crate::endpoints::{Endpoint, EndpointCache, PayloadCache};
use crate::recorder::{PendingAck, Recorder};

/// Settings of the loops.
#[derive(Debug, Clone)]
pub struct LoopSettings {
    pub consumer_name: String,
    pub read_batch: u64,
    pub claim_timeout: Duration,
    pub retry_poll_interval: Duration,
    pub retry_batch: i64,
}

/// What the loops share.
pub struct Dispatch {
    pub store: Store,
    pub queue: Queue,
    /// A connection of its own for the blocking stream reads, so they never
    /// hold up acknowledgements and other commands.
    pub reader: Queue,
    pub endpoints: EndpointCache,
    pub deliverer: Arc<Deliverer>,
    pub recorder: Recorder,
    pub in_flight: Arc<Semaphore>,
    pub tasks: TaskTracker,
    pub settings: LoopSettings,
}

/// A stream entry, its event and the endpoints it goes to.
type FannedOut = (ReceivedEntry, Arc<StoredEvent>, Vec<Arc<Endpoint>>);

/// How long to wait before trying again after Redis or PostgreSQL failed.
const FAILURE_PAUSE: Duration = Duration::from_millis(500);
/// How long one read waits for new entries.
const READ_BLOCK: Duration = Duration::from_millis(500);

impl Dispatch {
    /// Reads the stream until `stop`: new entries, and every `claim_timeout / 2`
    /// the entries other consumers left pending too long.
    pub async fn consume_stream(self: Arc<Self>, stop: CancellationToken) {
        if let Err(error) = self.queue.ensure_dispatch_group().await {
            tracing::warn!(%error, "could not create the consumer group yet");
        }
        let claim_every = self.settings.claim_timeout / 2;
        let mut last_claim = Instant::now();
        while !stop.is_cancelled() {
            let claiming = last_claim.elapsed() >= claim_every;
            let read = if claiming {
                last_claim = Instant::now();
                self.reader
                    .claim_stale(
                        &self.settings.consumer_name,
                        self.settings.claim_timeout,
                        self.settings.read_batch,
                    )
                    .await
            } else {
                // Not raced against `stop`: dropping a read Redis has already
                // answered would leave the entries it handed out pending on a
                // consumer that is going away, delayed until another claims
                // them. The read waits READ_BLOCK at most; what it returns after
                // `stop` is handled and drained like the rest.
                self.reader
                    .read_new(
                        &self.settings.consumer_name,
                        self.settings.read_batch,
                        READ_BLOCK,
                    )
                    .await
            };
            match read {
                Ok(entries) if entries.is_empty() => {}
                Ok(entries) => {
                    if claiming {
                        tracing::info!(
                            entries = entries.len(),
                            "claimed entries left pending by another consumer"
                        );
                    }
                    self.handle_entries(entries, &stop).await;
                }
                Err(QueueError::NoGroup) => {
                    tracing::warn!(
                        "the consumer group is gone (redis lost its data?); recreating it"
                    );
                    if let Err(error) = self.queue.ensure_dispatch_group().await {
                        tracing::warn!(%error, "could not recreate the consumer group");
                        pause(&stop).await;
                    }
                }
                Err(error) => {
                    tracing::warn!(error = ?error, "reading the event stream failed");
                    pause(&stop).await;
                }
            }
        }
    }

    /// Fans each entry's event out to its endpoints and starts the deliveries.
    async fn handle_entries(&self, entries: Vec<ReceivedEntry>, stop: &CancellationToken) {
        let Some(events) = self.load_events(&entries, stop).await else {
            return;
        };
        let mut done_without_deliveries = Vec::new();
        let mut fanned_out = Vec::with_capacity(entries.len());
        for entry in entries {
            let Some(event) = events.get(&entry.entry.event_id) else {
                // Not in PostgreSQL (dropped by retention): nothing to deliver.
                done_without_deliveries.push(entry.stream_id);
                continue;
            };
            match self.matching_endpoints(event).await {
                Ok(endpoints) => fanned_out.push((entry, Arc::clone(event), endpoints)),
                Err(error) => {
                    // Left pending: claimed and handled again after the claim timeout.
                    tracing::warn!(error = ?error, event_id = %event.id, "could not load endpoints");
                }
            }
        }
        let Ok(fanned_out) = self.without_recorded(fanned_out).await else {
            return; // left pending: claimed and handled again after the claim timeout
        };
        for (entry, event, endpoints) in fanned_out {
            if endpoints.is_empty() {
                done_without_deliveries.push(entry.stream_id);
                continue;
            }
            let ack = PendingAck::new(entry.stream_id, endpoints.len());
            let body = webhook_body(&event);
            for endpoint in endpoints {
                self.spawn_delivery(
                    Arc::clone(&event),
                    body.clone(),
                    endpoint,
                    Prior::FIRST,
                    Some(ack.clone()),
                )
                .await;
            }
        }
        if let Err(error) = self.queue.ack(&done_without_deliveries).await {
            tracing::warn!(%error, "could not acknowledge entries without deliveries");
        }
    }

    /// Loads the entries' events, retrying while PostgreSQL is unreachable.
    async fn load_events(
        &self,
        entries: &[ReceivedEntry],
        stop: &CancellationToken,
    ) -> Option<HashMap<EventId, Arc<StoredEvent>>> {
        let ids: Vec<EventId> = entries.iter().map(|entry| entry.entry.event_id).collect();
        loop {
            match self.store.events_by_ids(&ids).await {
                Ok(events) => {
                    return Some(
                        events
                            .into_iter()
                            .map(|event| (event.id, Arc::new(event)))
                            .collect(),
                    );
                }
                Err(error) => {
                    tracing::warn!(error = ?error, "could not load events, retrying");
                    if stop.is_cancelled() {
                        return None; // left pending; another run takes them
                    }
                    pause(stop).await;
                }
            }
        }
    }

    /// The enabled endpoints of the event's project that subscribe to it.
    pub async fn matching_endpoints(
        &self,
        event: &StoredEvent,
    ) -> Result<Vec<Arc<Endpoint>>, StoreError> {
        // EventFlow's own events (test sends) go only where they are addressed.
        let Ok(event_type) = EventType::parse(&event.event_type) else {
            return Ok(Vec::new());
        };
        if event_type.is_reserved() {
            return Ok(Vec::new());
        }
        let payload = PayloadCache::new(&event.payload);
        let endpoints = self.endpoints.project(event.project_id).await?;
        Ok(endpoints
            .iter()
            .filter(|endpoint| {
                endpoint.enabled && endpoint.subscribes_to(event, &event_type, &payload)
            })
            .cloned()
            .collect())
    }

    /// Drops the endpoints that already have a delivery of their event, for
    /// the entries that may have been handled before (claimed from another
    /// consumer or re-published by recovery), with one query for them all.
    async fn without_recorded(
        &self,
        mut fanned_out: Vec<FannedOut>,
    ) -> Result<Vec<FannedOut>, StoreError> {
        let ids: Vec<DeliveryId> = fanned_out
            .iter()
            .filter(|(entry, _, _)| entry.maybe_seen)
            .flat_map(|(_, event, endpoints)| {
                endpoints
                    .iter()
                    .map(|endpoint| DeliveryId::for_event_endpoint(event.id, endpoint.id))
            })
            .collect();
        if ids.is_empty() {
            return Ok(fanned_out);
        }
        let recorded = self
            .store
            .delivery_statuses(&ids)
            .await
            .inspect_err(|error| {
                tracing::warn!(error = ?error, "could not check earlier deliveries");
            })?;
        for (entry, event, endpoints) in &mut fanned_out {
            if entry.maybe_seen {
                endpoints.retain(|endpoint| {
                    !recorded.contains_key(&DeliveryId::for_event_endpoint(event.id, endpoint.id))
                });
            }
        }
        Ok(fanned_out)
    }

    /// Starts one delivery once a slot of `max_in_flight` is free.
    async fn spawn_delivery(
        &self,
        event: Arc<StoredEvent>,
        body: Bytes,
        endpoint: Arc<Endpoint>,
        prior: Prior,
        ack: Option<Arc<PendingAck>>,
    ) {
        let Ok(slot) = self.in_flight.clone().acquire_owned().await else {
            return;
        };
        let recorder = self.recorder.clone();
        let deliverer = self.deliverer.clone();
        self.tasks.spawn(async move {
            let result = deliverer.deliver(&event, &body, &endpoint, prior).await;
            recorder.record(result, ack).await;
            drop(slot);
        });
    }

    /// Takes due retries from PostgreSQL until `stop`.
    pub async fn deliver_due_retries(self: Arc<Self>, stop: CancellationToken) {
        while !stop.is_cancelled() {
            match self.deliver_due_batch().await {
                Ok(taken) if taken > 0 => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(error = ?error, "could not take due deliveries"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(self.settings.retry_poll_interval) => {}
            }
        }
    }

    /// Takes one batch of due deliveries and starts them; returns how many.
    pub async fn deliver_due_batch(&self) -> Result<usize, StoreError> {
        let due = self
            .store
            .claim_due_deliveries(self.settings.retry_batch, self.settings.claim_timeout)
            .await?;
        let taken = due.len();
        for DueDelivery { state, event } in due {
            match self
                .endpoints
                .endpoint(event.project_id, state.endpoint_id)
                .await
            {
                Ok(Some(endpoint)) => {
                    let body = webhook_body(&event);
                    self.spawn_delivery(Arc::new(event), body, endpoint, Prior::of(&state), None)
                        .await;
                }
                Ok(None) => self.recorder.record(endpoint_gone(state), None).await,
                Err(error) => {
                    tracing::warn!(error = ?error, "could not load an endpoint; the delivery is due again after its lease")
                }
            }
        }
        Ok(taken)
    }
}

/// A delivery whose endpoint was deleted ends as failed, with the reason.
fn endpoint_gone(mut state: DeliveryState) -> DeliveryResult {
    state.status = DeliveryStatus::Failed;
    state.next_attempt_at = None;
    state.last_error = Some("endpoint deleted".into());
    DeliveryResult {
        state,
        attempt: None,
        endpoint_succeeded: None,
    }
}

async fn pause(stop: &CancellationToken) {
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = tokio::time::sleep(FAILURE_PAUSE) => {}
    }
}
