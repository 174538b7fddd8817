//! Follows each event from the gateway's acknowledgement to its webhook deliveries.
//!
//! The sender records when the 202 of an event arrived ([`DeliveryTracker::record_ack`]),
//! the benchmark's receiver records when each webhook arrived
//! ([`DeliveryTracker::record_arrival`]), both keyed by the event id (the `id` of the 202
//! answer equals the `webhook-id` header of every delivery). Either may come first: a
//! webhook can overtake the 202 on its way back to the sender. Live counts (acknowledged,
//! delivered, outstanding) feed the progress line and the wait for the last deliveries;
//! the records themselves are joined into latencies and missing deliveries by
//! [`crate::correlate`] once the run is over.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use eventflow_domain::EventId;
use serde::Serialize;

use crate::ingest::accepted_event_ids;
use crate::runner::StopSignal;

/// When an event's 202 arrived, and whether the event belongs to the measured window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub at: Instant,
    pub measured: bool,
}

/// What is known of one event: its acknowledgement, if the sender saw it, and when the
/// first delivery to each endpoint arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub ack: Option<Ack>,
    /// The first arrival at each endpoint, indexed by endpoint number.
    pub arrivals: Vec<Option<Instant>>,
    /// Deliveries beyond the first to the same endpoint.
    pub duplicates: u64,
}

impl EventRecord {
    /// Creates the record of an event not yet seen at any of `endpoints` endpoints.
    pub fn new(endpoints: usize) -> Self {
        Self {
            ack: None,
            arrivals: vec![None; endpoints],
            duplicates: 0,
        }
    }

    /// Returns how many endpoints have received the event.
    pub fn delivered_endpoints(&self) -> u64 {
        self.arrivals
            .iter()
            .filter(|arrival| arrival.is_some())
            .count() as u64
    }
}

/// Running totals over every event, warm-up included.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TrackerCounts {
    /// Events whose 202 the sender recorded.
    pub acked: u64,
    /// First deliveries of an (event, endpoint) pair, acknowledged or not.
    pub delivered: u64,
    /// First deliveries whose event has been acknowledged.
    pub matched: u64,
    /// Deliveries beyond the first for the same (event, endpoint) pair.
    pub duplicates: u64,
}

impl TrackerCounts {
    /// Returns the deliveries still expected for acknowledged events, given `endpoints`
    /// endpoints per event.
    pub fn outstanding(&self, endpoints: usize) -> u64 {
        (self.acked * endpoints as u64).saturating_sub(self.matched)
    }
}

/// Whether a webhook was the first for its (event, endpoint) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    First,
    Duplicate,
    /// The endpoint number is not one of the benchmark's endpoints.
    UnknownEndpoint,
}

/// Acknowledgements and deliveries of every event of a run; shared by the sender and the
/// receiver.
#[derive(Debug)]
pub struct DeliveryTracker {
    endpoints: usize,
    state: Mutex<TrackerState>,
}

#[derive(Debug, Default)]
struct TrackerState {
    events: HashMap<EventId, EventRecord>,
    counts: TrackerCounts,
}

impl DeliveryTracker {
    /// Creates a tracker for events delivered to `endpoints` endpoints each.
    pub fn new(endpoints: usize) -> Self {
        Self {
            endpoints,
            state: Mutex::default(),
        }
    }

    /// Returns the number of endpoints each event goes to.
    pub fn endpoints(&self) -> usize {
        self.endpoints
    }

    /// Records that the event `id` was acknowledged at `at`.
    pub fn record_ack(&self, id: EventId, at: Instant, measured: bool) {
        self.update(id, |record, counts| {
            if record.ack.is_some() {
                return;
            }
            record.ack = Some(Ack { at, measured });
            counts.acked += 1;
            counts.matched += record.delivered_endpoints();
        });
    }

    /// Records every event a batch answer accepted as acknowledged at `at`.
    pub fn record_batch_acks(&self, answer: &[u8], at: Instant, measured: bool) {
        for id in accepted_event_ids(answer) {
            self.record_ack(id, at, measured);
        }
    }

    /// Records that a delivery of the event `id` reached endpoint number `endpoint` at `at`.
    pub fn record_arrival(&self, id: EventId, endpoint: usize, at: Instant) -> Arrival {
        if endpoint >= self.endpoints {
            return Arrival::UnknownEndpoint;
        }
        self.update(id, |record, counts| {
            let acked = record.ack.is_some();
            let slot = &mut record.arrivals[endpoint];
            if slot.is_some() {
                record.duplicates += 1;
                counts.duplicates += 1;
                return Arrival::Duplicate;
            }
            *slot = Some(at);
            counts.delivered += 1;
            if acked {
                counts.matched += 1;
            }
            Arrival::First
        })
    }

    /// Runs `change` on the record of the event `id` (created when the event is new) and
    /// the running totals, under the lock.
    fn update<R>(
        &self,
        id: EventId,
        change: impl FnOnce(&mut EventRecord, &mut TrackerCounts) -> R,
    ) -> R {
        let endpoints = self.endpoints;
        let mut state = self.lock();
        let TrackerState { events, counts } = &mut *state;
        let record = events
            .entry(id)
            .or_insert_with(|| EventRecord::new(endpoints));
        change(record, counts)
    }

    /// Returns the running totals.
    pub fn counts(&self) -> TrackerCounts {
        self.lock().counts
    }

    /// Returns the deliveries still expected for acknowledged events.
    pub fn outstanding(&self) -> u64 {
        self.counts().outstanding(self.endpoints)
    }

    /// Returns, for every acknowledged event whose first delivery to `endpoint` arrived
    /// in `[from, to)`, the time from its 202 to that arrival (zero when the webhook
    /// overtook the 202): the latencies of one reporting interval of a long run.
    pub fn latencies_arrived_between(
        &self,
        endpoint: usize,
        from: Instant,
        to: Instant,
    ) -> Vec<Duration> {
        let state = self.lock();
        state
            .events
            .values()
            .filter_map(|record| {
                let ack = record.ack?;
                let arrived = (*record.arrivals.get(endpoint)?)?;
                (arrived >= from && arrived < to).then(|| arrived.saturating_duration_since(ack.at))
            })
            .collect()
    }

    /// Takes every record collected so far, leaving the tracker empty.
    pub fn take_records(&self) -> HashMap<EventId, EventRecord> {
        let mut state = self.lock();
        state.counts = TrackerCounts::default();
        std::mem::take(&mut state.events)
    }

    fn lock(&self) -> MutexGuard<'_, TrackerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How the wait for the last deliveries ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitEnd {
    /// Every acknowledged event reached every endpoint.
    AllDelivered,
    /// The deadline passed first.
    TimedOut,
    /// Ctrl-C stopped the wait.
    Interrupted,
}

/// Waits until nothing is outstanding, `deadline` passes or `stop` is raised, checking
/// every few milliseconds.
pub async fn wait_for_deliveries(
    tracker: &DeliveryTracker,
    deadline: Instant,
    stop: &StopSignal,
) -> WaitEnd {
    const CHECK_PERIOD: Duration = Duration::from_millis(5);
    loop {
        if tracker.outstanding() == 0 {
            return WaitEnd::AllDelivered;
        }
        if stop.is_raised() {
            return WaitEnd::Interrupted;
        }
        if Instant::now() >= deadline {
            return WaitEnd::TimedOut;
        }
        tokio::time::sleep(CHECK_PERIOD).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_id() -> EventId {
        EventId::new()
    }

    #[test]
    fn an_ack_then_its_delivery_leaves_nothing_outstanding() {
        let tracker = DeliveryTracker::new(1);
        let id = event_id();
        let now = Instant::now();
        tracker.record_ack(id, now, true);
        assert_eq!(tracker.outstanding(), 1);
        assert_eq!(tracker.record_arrival(id, 0, now), Arrival::First);
        assert_eq!(tracker.outstanding(), 0);
    }

    #[test]
    fn a_delivery_that_overtakes_its_ack_is_matched_when_the_ack_comes() {
        let tracker = DeliveryTracker::new(2);
        let id = event_id();
        let now = Instant::now();
        tracker.record_arrival(id, 1, now);
        assert_eq!(tracker.outstanding(), 0, "nothing acknowledged yet");
        tracker.record_ack(id, now, true);
        assert_eq!(
            tracker.counts(),
            TrackerCounts {
                acked: 1,
                delivered: 1,
                matched: 1,
                duplicates: 0
            }
        );
        assert_eq!(tracker.outstanding(), 1, "endpoint 0 still expected");
    }

    #[test]
    fn repeated_deliveries_count_as_duplicates() {
        let tracker = DeliveryTracker::new(1);
        let id = event_id();
        let now = Instant::now();
        tracker.record_ack(id, now, true);
        assert_eq!(tracker.record_arrival(id, 0, now), Arrival::First);
        assert_eq!(tracker.record_arrival(id, 0, now), Arrival::Duplicate);
        assert_eq!(tracker.record_arrival(id, 3, now), Arrival::UnknownEndpoint);
        let counts = tracker.counts();
        assert_eq!((counts.delivered, counts.duplicates), (1, 1));
        let records = tracker.take_records();
        assert_eq!(records[&id].duplicates, 1);
        assert_eq!(tracker.counts(), TrackerCounts::default());
    }

    #[test]
    fn a_second_ack_for_the_same_event_is_ignored() {
        let tracker = DeliveryTracker::new(1);
        let id = event_id();
        let first = Instant::now();
        tracker.record_ack(id, first, false);
        tracker.record_ack(id, first + Duration::from_secs(1), true);
        assert_eq!(tracker.counts().acked, 1);
        assert_eq!(
            tracker.take_records()[&id].ack,
            Some(Ack {
                at: first,
                measured: false
            })
        );
    }

    #[tokio::test]
    async fn the_wait_ends_when_everything_arrived_or_at_the_deadline() {
        let tracker = DeliveryTracker::new(1);
        let stop = StopSignal::default();
        let id = event_id();
        tracker.record_ack(id, Instant::now(), true);
        let soon = Instant::now() + Duration::from_millis(20);
        assert_eq!(
            wait_for_deliveries(&tracker, soon, &stop).await,
            WaitEnd::TimedOut
        );
        tracker.record_arrival(id, 0, Instant::now());
        let later = Instant::now() + Duration::from_secs(5);
        assert_eq!(
            wait_for_deliveries(&tracker, later, &stop).await,
            WaitEnd::AllDelivered
        );
    }
}
