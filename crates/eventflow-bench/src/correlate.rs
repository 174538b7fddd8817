//! Joins the acknowledgements and deliveries the [`crate::tracking`] records hold into
//! what the delivery workloads report: acknowledgement-to-delivery latencies, per-event
//! completion latencies, duplicates, deliveries of events never acknowledged, and every
//! (event, endpoint) pair still missing.
//!
//! Only events acknowledged in the measured window count as expected. A delivery can reach
//! the receiver before the sender has processed the 202 of its event; its latency is then
//! negative, recorded as zero and counted as clamped.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use eventflow_domain::EventId;

use crate::stats::LatencyRecorder;
use crate::tracking::{Ack, EventRecord};

/// The interval in which deliveries are counted for the deliveries-per-second figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: Instant,
    pub to: Instant,
}

impl Window {
    /// Tells whether `at` falls within the window (its end excluded).
    pub fn contains(&self, at: Instant) -> bool {
        self.from <= at && at < self.to
    }

    /// Returns the length of the window.
    pub fn length(&self) -> Duration {
        self.to.saturating_duration_since(self.from)
    }
}

/// An expected delivery that never arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MissingDelivery {
    pub event_id: EventId,
    /// The endpoint number (its receiver path is `/ep/<number>`).
    pub endpoint: usize,
}

/// What the join found.
#[derive(Debug, Default)]
pub struct Correlation {
    /// Events acknowledged in the measured window.
    pub measured_events: u64,
    /// Measured events times the number of endpoints.
    pub expected: u64,
    /// Expected deliveries that arrived.
    pub delivered: u64,
    /// Measured events that reached no endpoint at all.
    pub undelivered_events: u64,
    /// Expected deliveries that never arrived, in event id order.
    pub missing: Vec<MissingDelivery>,
    /// Deliveries beyond the first for the same (event, endpoint), over every event.
    pub duplicates: u64,
    /// First deliveries of events the sender never saw acknowledged (their request failed
    /// or timed out after the event was stored).
    pub unacknowledged_deliveries: u64,
    /// First deliveries of any event that arrived within the window.
    pub delivered_in_window: u64,
    /// Acknowledgement to arrival, for each expected delivery that arrived.
    pub delivery_latency: LatencyRecorder,
    /// Acknowledgement to the last of its deliveries, for each measured event that reached
    /// every endpoint.
    pub completion_latency: LatencyRecorder,
    /// Deliveries that arrived before their acknowledgement was recorded (latency
    /// recorded as zero).
    pub clamped: u64,
    /// The earliest and latest first delivery of any event.
    pub first_arrival: Option<Instant>,
    pub last_arrival: Option<Instant>,
}

/// Joins every record, counting deliveries per second within `window`.
pub fn correlate(records: &HashMap<EventId, EventRecord>, window: Window) -> Correlation {
    let mut correlation = Correlation::default();
    for (id, record) in records {
        correlation.add_arrivals(record, window);
        match record.ack {
            Some(ack) if ack.measured => correlation.add_measured_event(*id, record, ack),
            Some(_) => {}
            None => correlation.unacknowledged_deliveries += record.delivered_endpoints(),
        }
    }
    correlation.missing.sort_unstable();
    correlation
}

impl Correlation {
    /// Counts the arrivals of any event: duplicates, the window, first and last.
    fn add_arrivals(&mut self, record: &EventRecord, window: Window) {
        self.duplicates += record.duplicates;
        for at in record.arrivals.iter().flatten().copied() {
            if window.contains(at) {
                self.delivered_in_window += 1;
            }
            self.first_arrival = Some(self.first_arrival.map_or(at, |first| first.min(at)));
            self.last_arrival = Some(self.last_arrival.map_or(at, |last| last.max(at)));
        }
    }

    /// Records the latencies of a measured event and what it is missing.
    fn add_measured_event(&mut self, id: EventId, record: &EventRecord, ack: Ack) {
        self.measured_events += 1;
        self.expected += record.arrivals.len() as u64;
        let mut slowest = Duration::ZERO;
        let mut delivered = 0;
        for (endpoint, arrival) in record.arrivals.iter().enumerate() {
            let Some(at) = *arrival else {
                self.missing.push(MissingDelivery {
                    event_id: id,
                    endpoint,
                });
                continue;
            };
            let (latency, clamped) = ack_to_arrival(ack.at, at);
            self.delivery_latency.record(latency);
            self.clamped += u64::from(clamped);
            slowest = slowest.max(latency);
            delivered += 1;
        }
        self.delivered += delivered;
        if delivered == 0 {
            self.undelivered_events += 1;
        } else if delivered == record.arrivals.len() as u64 {
            self.completion_latency.record(slowest);
        }
    }

    /// Returns how many measured events missed at least one endpoint.
    pub fn incomplete_events(&self) -> u64 {
        // `missing` is sorted by event id, so the pairs of one event are adjacent.
        let mut events: Vec<EventId> = self.missing.iter().map(|m| m.event_id).collect();
        events.dedup();
        events.len() as u64
    }
}

/// Returns the time from an acknowledgement to an arrival, and whether the arrival came
/// first (the time is then zero).
pub fn ack_to_arrival(ack: Instant, arrival: Instant) -> (Duration, bool) {
    match arrival.checked_duration_since(ack) {
        Some(latency) => (latency, false),
        None => (Duration::ZERO, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    struct Fixture {
        t0: Instant,
        records: HashMap<EventId, EventRecord>,
    }

    impl Fixture {
        fn new() -> Self {
            Self {
                t0: Instant::now(),
                records: HashMap::new(),
            }
        }

        fn at(&self, millis: u64) -> Instant {
            self.t0 + MS * millis as u32
        }

        /// Adds an event acked at `ack_ms` (if any) with arrivals at the given offsets.
        fn event(
            &mut self,
            ack_ms: Option<u64>,
            measured: bool,
            arrivals_ms: &[Option<u64>],
        ) -> EventId {
            let id = EventId::new();
            let record = EventRecord {
                ack: ack_ms.map(|ms| Ack {
                    at: self.at(ms),
                    measured,
                }),
                arrivals: arrivals_ms
                    .iter()
                    .map(|arrival| arrival.map(|ms| self.at(ms)))
                    .collect(),
                duplicates: 0,
            };
            self.records.insert(id, record);
            id
        }

        fn window(&self, from_ms: u64, to_ms: u64) -> Window {
            Window {
                from: self.at(from_ms),
                to: self.at(to_ms),
            }
        }
    }

    #[test]
    fn latency_runs_from_the_ack_to_the_arrival() {
        let mut fixture = Fixture::new();
        fixture.event(Some(100), true, &[Some(103)]);
        fixture.event(Some(200), true, &[Some(210)]);
        let correlation = correlate(&fixture.records, fixture.window(0, 1000));
        assert_eq!(correlation.measured_events, 2);
        assert_eq!(correlation.delivered, 2);
        assert_eq!(correlation.clamped, 0);
        let latency = correlation
            .delivery_latency
            .summarize()
            .expect("two samples");
        assert_eq!((latency.p50, latency.max), (3.0, 10.0));
    }

    #[test]
    fn a_delivery_before_its_ack_is_clamped_to_zero_and_counted() {
        assert_eq!(
            ack_to_arrival(Instant::now(), Instant::now() - MS),
            (Duration::ZERO, true)
        );
        let mut fixture = Fixture::new();
        fixture.event(Some(105), true, &[Some(100)]);
        let correlation = correlate(&fixture.records, fixture.window(0, 1000));
        assert_eq!(correlation.clamped, 1);
        assert_eq!(correlation.delivered, 1);
        let latency = correlation
            .delivery_latency
            .summarize()
            .expect("one sample");
        assert_eq!(latency.max, 0.0);
    }

    #[test]
    fn missing_pairs_and_undelivered_events_are_listed() {
        let mut fixture = Fixture::new();
        let partial = fixture.event(Some(0), true, &[Some(5), None, Some(7)]);
        let nothing = fixture.event(Some(0), true, &[None, None, None]);
        fixture.event(Some(0), true, &[Some(1), Some(2), Some(3)]);
        let correlation = correlate(&fixture.records, fixture.window(0, 1000));
        assert_eq!(correlation.expected, 9);
        assert_eq!(correlation.delivered, 5);
        assert_eq!(correlation.undelivered_events, 1);
        assert_eq!(correlation.incomplete_events(), 2);
        let mut expected = vec![
            MissingDelivery {
                event_id: partial,
                endpoint: 1,
            },
            MissingDelivery {
                event_id: nothing,
                endpoint: 0,
            },
            MissingDelivery {
                event_id: nothing,
                endpoint: 1,
            },
            MissingDelivery {
                event_id: nothing,
                endpoint: 2,
            },
        ];
        expected.sort_unstable();
        assert_eq!(correlation.missing, expected);
    }

    #[test]
    fn completion_latency_waits_for_the_last_endpoint_of_complete_events_only() {
        let mut fixture = Fixture::new();
        fixture.event(Some(10), true, &[Some(12), Some(40), Some(15)]);
        fixture.event(Some(10), true, &[Some(11), None, Some(500)]);
        let correlation = correlate(&fixture.records, fixture.window(0, 1000));
        let completion = correlation
            .completion_latency
            .summarize()
            .expect("one complete event");
        assert_eq!((completion.p50, completion.max), (30.0, 30.0));
    }

    #[test]
    fn warm_up_events_are_not_expected_but_their_deliveries_count_in_the_window() {
        let mut fixture = Fixture::new();
        fixture.event(Some(0), false, &[None]);
        fixture.event(Some(0), false, &[Some(50)]);
        fixture.event(Some(60), true, &[Some(70)]);
        let correlation = correlate(&fixture.records, fixture.window(40, 100));
        assert_eq!(correlation.measured_events, 1);
        assert!(correlation.missing.is_empty());
        assert_eq!(correlation.delivered_in_window, 2);
    }

    #[test]
    fn duplicates_and_unacknowledged_deliveries_are_counted_apart() {
        let mut fixture = Fixture::new();
        let id = fixture.event(Some(0), true, &[Some(1)]);
        if let Some(record) = fixture.records.get_mut(&id) {
            record.duplicates = 2;
        }
        fixture.event(None, false, &[Some(3), Some(4)]);
        let correlation = correlate(&fixture.records, fixture.window(0, 1000));
        assert_eq!(correlation.duplicates, 2);
        assert_eq!(correlation.unacknowledged_deliveries, 2);
        assert_eq!(correlation.delivered, 1);
        assert_eq!(correlation.first_arrival, Some(fixture.at(1)));
        assert_eq!(correlation.last_arrival, Some(fixture.at(4)));
    }

    #[test]
    fn the_window_excludes_its_end() {
        let fixture = Fixture::new();
        let window = fixture.window(10, 20);
        assert!(!window.contains(fixture.at(9)));
        assert!(window.contains(fixture.at(10)));
        assert!(!window.contains(fixture.at(20)));
        assert_eq!(window.length(), MS * 10);
    }
}
