//! The work loops: reading the stream (fan-out and first attempts) and
//! picking up due retries from PostgreSQL. Both hand each delivery to its own
//! task, bounded by `max_in_flight`, and results to the recorder.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
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
    /// First attempts started from the stream and not yet recorded.
    pub starting: Starting,
    pub tasks: TaskTracker,
    pub settings: LoopSettings,
}

/// A stream entry, its event and the endpoints it goes to, each with this
/// dispatcher's claim on that delivery.
type FannedOut = (ReceivedEntry, Arc<StoredEvent>, Vec<(Arc<Endpoint>, Claim)>);

/// The (event, endpoint) deliveries whose first attempt this dispatcher has
/// started from the stream and not recorded yet. An event can be on the
/// stream twice at once: after a Redis outage the gateway's outbox relay and
/// recovery both re-publish an event whose append failed. The second entry
/// must not start a delivery the first has under way (not recorded yet, so
/// PostgreSQL cannot tell), nor one recorded since (checked after the claim).
#[derive(Debug, Clone, Default)]
pub struct Starting(Arc<Mutex<HashSet<DeliveryId>>>);

impl Starting {
    /// Claims the delivery, unless one of it is already under way here.
    fn claim(&self, id: DeliveryId) -> Option<Claim> {
        let mut ids = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        ids.insert(id).then(|| Claim {
            id,
            starting: self.clone(),
        })
    }
}

/// A claimed delivery; released when dropped (recorded, skipped or abandoned).
#[derive(Debug)]
pub struct Claim {
    id: DeliveryId,
    starting: Starting,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut ids = self
            .starting
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        ids.remove(&self.id);
    }
}

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
                Ok(endpoints) => {
                    let claimed = self.claim_deliveries(event, endpoints);
                    fanned_out.push((entry, Arc::clone(event), claimed));
                }
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
            for (endpoint, claim) in endpoints {
                self.spawn_delivery(
                    Arc::clone(&event),
                    body.clone(),
                    endpoint,
                    Prior::FIRST,
                    Some((ack.clone(), claim)),
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

    /// Claims the event's delivery to each endpoint; leaves out those already
    /// under way here (another entry of the same event, in this batch or an
    /// earlier one).
    fn claim_deliveries(
        &self,
        event: &StoredEvent,
        endpoints: Vec<Arc<Endpoint>>,
    ) -> Vec<(Arc<Endpoint>, Claim)> {
        endpoints
            .into_iter()
            .filter_map(|endpoint| {
                let id = DeliveryId::for_event_endpoint(event.id, endpoint.id);
                self.starting.claim(id).map(|claim| (endpoint, claim))
            })
            .collect()
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
                    .map(|(endpoint, _)| DeliveryId::for_event_endpoint(event.id, endpoint.id))
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
                endpoints.retain(|(endpoint, _)| {
                    !recorded.contains_key(&DeliveryId::for_event_endpoint(event.id, endpoint.id))
                });
            }
        }
        Ok(fanned_out)
    }

    /// Starts one delivery once a slot of `max_in_flight` is free. A first
    /// attempt from the stream comes with its entry's ack and its claim, held
    /// until the result is recorded.
    async fn spawn_delivery(
        &self,
        event: Arc<StoredEvent>,
        body: Bytes,
        endpoint: Arc<Endpoint>,
        prior: Prior,
        first: Option<(Arc<PendingAck>, Claim)>,
    ) {
        let Ok(slot) = self.in_flight.clone().acquire_owned().await else {
            return;
        };
        let recorder = self.recorder.clone();
        let deliverer = self.deliverer.clone();
        self.tasks.spawn(async move {
            let result = deliverer.deliver(&event, &body, &endpoint, prior).await;
            let (ack, claim) = first.unzip();
            recorder.record(result, ack).await;
            drop(claim);
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

#[cfg(test)]
mod tests {
    use eventflow_domain::{EndpointId, EventId};

    use super::*;

    #[test]
    fn a_delivery_under_way_cannot_be_claimed_again_until_its_claim_is_dropped() {
        let starting = Starting::default();
        let id = DeliveryId::for_event_endpoint(EventId::new(), EndpointId::new());
        let first = starting.claim(id).expect("nothing under way yet");
        assert!(
            starting.claim(id).is_none(),
            "the same delivery is under way"
        );
        let other = DeliveryId::for_event_endpoint(EventId::new(), EndpointId::new());
        assert!(starting.claim(other).is_some(), "another delivery is free");
        drop(first);
        assert!(starting.claim(id).is_some(), "released once recorded");
    }
}
