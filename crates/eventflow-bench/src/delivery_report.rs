//! The report of the `e2e` and `fanout` workloads: the sending side as the `ingest`
//! report shows it, followed by what reached the receiver. In JSON the delivery figures
//! sit under the `delivery` key, next to the sending report's keys.

use std::time::Duration;

use serde::Serialize;

use crate::correlate::{Correlation, MissingDelivery, Window};
use crate::report::{PrintableReport, Report, describe_latency, push_row, round_to};
use crate::stats::{LatencySummary, per_second};
use crate::tracking::WaitEnd;

/// Missing pairs listed by name in the JSON report; the count covers all of them.
const MISSING_SAMPLE: usize = 20;
/// Missing pairs listed by name in the text report.
const MISSING_SAMPLE_TEXT: usize = 3;

/// How the wait for the last deliveries went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drain {
    pub end: WaitEnd,
    pub took: Duration,
}

/// A delivery that never arrived, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingPair {
    pub event_id: String,
    pub endpoint: usize,
}

impl From<&MissingDelivery> for MissingPair {
    fn from(missing: &MissingDelivery) -> Self {
        Self {
            event_id: missing.event_id.to_string(),
            endpoint: missing.endpoint,
        }
    }
}

/// What reached the receiver, for the events acknowledged in the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct DeliverySummary {
    /// Measured events times endpoints.
    pub expected: u64,
    /// Expected deliveries that arrived (first arrivals only).
    pub delivered: u64,
    /// First deliveries of any event per second of the measured window.
    pub deliveries_per_sec: f64,
    /// Deliveries beyond the first for the same (event, endpoint).
    pub duplicates: u64,
    /// Deliveries of events whose 202 the benchmark never saw.
    pub unacknowledged_deliveries: u64,
    /// Requests the receiver refused (no valid `webhook-id`, unknown endpoint).
    pub rejected_requests: u64,
    /// Measured events that reached no endpoint within the drain timeout.
    pub undelivered_events: u64,
    /// Measured events that missed at least one endpoint.
    pub incomplete_events: u64,
    /// Expected (event, endpoint) deliveries that never arrived.
    pub missing_pairs: u64,
    /// The first missing pairs in event id order.
    pub missing_sample: Vec<MissingPair>,
    /// Acknowledgement to arrival of each delivery, negative values counted as zero.
    pub latency_ms: Option<LatencySummary>,
    /// Deliveries that arrived before the benchmark recorded their event's 202.
    pub clamped: u64,
    /// Acknowledgement to the last of an event's deliveries, for complete events.
    pub completion_ms: Option<LatencySummary>,
    /// How long the benchmark waited for the deliveries outstanding after sending stopped.
    pub drain_s: f64,
    /// `all_delivered`, `timed_out` or `interrupted`.
    pub drain_end: WaitEnd,
}

impl DeliverySummary {
    /// Summarizes a correlation over `window`, after `drain`, with `rejected` requests.
    pub fn new(correlation: Correlation, window: Window, drain: Drain, rejected: u64) -> Self {
        let incomplete_events = correlation.incomplete_events();
        Self {
            expected: correlation.expected,
            delivered: correlation.delivered,
            deliveries_per_sec: round_to(
                per_second(correlation.delivered_in_window, window.length()),
                2,
            ),
            duplicates: correlation.duplicates,
            unacknowledged_deliveries: correlation.unacknowledged_deliveries,
            rejected_requests: rejected,
            undelivered_events: correlation.undelivered_events,
            incomplete_events,
            missing_pairs: correlation.missing.len() as u64,
            missing_sample: correlation
                .missing
                .iter()
                .take(MISSING_SAMPLE)
                .map(MissingPair::from)
                .collect(),
            latency_ms: correlation.delivery_latency.summarize(),
            clamped: correlation.clamped,
            completion_ms: correlation.completion_latency.summarize(),
            drain_s: round_to(drain.took.as_secs_f64(), 3),
            drain_end: drain.end,
        }
    }

    /// Tells whether every expected delivery arrived.
    pub fn is_complete(&self) -> bool {
        self.missing_pairs == 0
    }

    /// Appends the delivery rows to the text report, for `endpoints` endpoints per event.
    fn push_rows(&self, text: &mut String, endpoints: usize) {
        push_row(
            text,
            "delivered",
            format!(
                "{} of {} expected ({:.2} deliveries/s in the measured window)",
                self.delivered, self.expected, self.deliveries_per_sec
            ),
        );
        push_row(text, "delivery ms", self.describe_delivery_latency());
        if endpoints > 1 && self.completion_ms.is_some() {
            push_row(
                text,
                "complete ms",
                format!(
                    "{}  (ack -> last of {endpoints} deliveries)",
                    describe_latency(self.completion_ms)
                ),
            );
        }
        push_row(text, "drain", self.describe_drain());
        push_row(text, "undelivered", self.describe_undelivered(endpoints));
        push_row(text, "duplicates", self.describe_extras());
        if !self.missing_sample.is_empty() {
            push_row(text, "missing", self.describe_missing_sample());
        }
    }

    /// Formats the acknowledgement-to-arrival percentiles and the clamped count.
    fn describe_delivery_latency(&self) -> String {
        if self.latency_ms.is_none() {
            return "no delivery arrived".to_owned();
        }
        format!(
            "{}  (ack -> received; {} arrived before their ack, counted as 0)",
            describe_latency(self.latency_ms),
            self.clamped
        )
    }

    /// Formats how the wait for the outstanding deliveries ended.
    fn describe_drain(&self) -> String {
        let end = match self.drain_end {
            WaitEnd::AllDelivered => "everything delivered",
            WaitEnd::TimedOut => "timed out",
            WaitEnd::Interrupted => "interrupted",
        };
        format!(
            "{end} after waiting {:.2} s once sending stopped",
            self.drain_s
        )
    }

    /// Formats the events (and, with several endpoints, the pairs) that never arrived.
    fn describe_undelivered(&self, endpoints: usize) -> String {
        if endpoints == 1 {
            return format!("{} events", self.undelivered_events);
        }
        format!(
            "{} events reached no endpoint; {} missed some; {} (event, endpoint) pairs missing",
            self.undelivered_events, self.incomplete_events, self.missing_pairs
        )
    }

    /// Formats duplicates, deliveries of unacknowledged events and rejected requests.
    fn describe_extras(&self) -> String {
        format!(
            "{} (and {} deliveries of events never acknowledged, {} requests rejected)",
            self.duplicates, self.unacknowledged_deliveries, self.rejected_requests
        )
    }

    /// Lists the first missing pairs as `evt_… -> /ep/<n>`.
    fn describe_missing_sample(&self) -> String {
        let pairs: Vec<String> = self
            .missing_sample
            .iter()
            .take(MISSING_SAMPLE_TEXT)
            .map(|pair| format!("{} -> /ep/{}", pair.event_id, pair.endpoint))
            .collect();
        let more = self.missing_pairs.saturating_sub(pairs.len() as u64);
        let tail = if more > 0 {
            format!(", and {more} more")
        } else {
            String::new()
        };
        format!("{}{tail}", pairs.join(", "))
    }
}

/// The sending report with the delivery summary.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryReport {
    #[serde(flatten)]
    pub sending: Report<crate::delivery::DeliverySettings>,
    pub delivery: DeliverySummary,
}

impl PrintableReport for DeliveryReport {
    fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }

    fn to_text(&self) -> String {
        let mut text = self.sending.to_text();
        text.push('\n');
        self.delivery
            .push_rows(&mut text, self.sending.settings.endpoints);
        if !self.delivery.is_complete() {
            text.push_str(&incomplete_warning(
                self.delivery.missing_pairs,
                self.sending.settings.drain_s,
            ));
        }
        text
    }
}

/// Explains what missing deliveries may mean.
fn incomplete_warning(missing: u64, drain_s: f64) -> String {
    format!(
        "\nwarning: {missing} expected deliveries did not arrive within {drain_s} s after sending \
         stopped; check that a dispatcher runs against the same database and Redis key prefix \
         with EVENTFLOW_ENDPOINT_ALLOW_NETS=127.0.0.0/8, or raise --drain\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::DeliverySettings;
    use crate::runner::{LoadPlan, Measurement, RunResult};
    use std::time::Instant;

    fn summary(missing: u64) -> DeliverySummary {
        DeliverySummary {
            expected: 1000,
            delivered: 1000 - missing,
            deliveries_per_sec: 499.5,
            duplicates: 1,
            unacknowledged_deliveries: 0,
            rejected_requests: 0,
            undelivered_events: missing,
            incomplete_events: missing,
            missing_pairs: missing,
            missing_sample: (0..missing.min(2))
                .map(|i| MissingPair {
                    event_id: format!("evt_{i}"),
                    endpoint: 0,
                })
                .collect(),
            latency_ms: Some(LatencySummary {
                p50: 2.0,
                p90: 3.0,
                p99: 4.5,
                max: 9.0,
            }),
            clamped: 3,
            completion_ms: Some(LatencySummary {
                p50: 5.0,
                p90: 6.0,
                p99: 7.0,
                max: 8.0,
            }),
            drain_s: 0.25,
            drain_end: if missing == 0 {
                WaitEnd::AllDelivered
            } else {
                WaitEnd::TimedOut
            },
        }
    }

    fn report(endpoints: usize, missing: u64) -> DeliveryReport {
        let plan = LoadPlan {
            concurrency: 64,
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(2),
            rate: Some(500.0),
        };
        let result = RunResult {
            measurement: Measurement::default(),
            measured: Duration::from_secs(2),
            interrupted: false,
            schedule: None,
        };
        let settings = DeliverySettings {
            payload_bytes: 1024,
            endpoints,
            drain_s: 10.0,
        };
        DeliveryReport {
            sending: Report::new("e2e", &plan, settings, result),
            delivery: summary(missing),
        }
    }

    #[test]
    fn text_shows_delivery_rate_latency_and_clamping() {
        let text = report(1, 0).to_text();
        assert!(
            text.contains("delivered   1000 of 1000 expected (499.50 deliveries/s"),
            "{text}"
        );
        assert!(
            text.contains("delivery ms p50 2.00  p90 3.00  p99 4.50  max 9.00  (ack -> received; 3 arrived before their ack"),
            "{text}"
        );
        assert!(text.contains("undelivered 0 events\n"), "{text}");
        assert!(!text.contains("complete ms"), "{text}");
        assert!(!text.contains("warning"), "{text}");
    }

    #[test]
    fn text_lists_missing_pairs_and_warns() {
        let text = report(10, 5).to_text();
        assert!(text.contains("complete ms"), "{text}");
        assert!(
            text.contains("missing     evt_0 -> /ep/0, evt_1 -> /ep/0, and 3 more\n"),
            "{text}"
        );
        assert!(text.contains("5 (event, endpoint) pairs missing"), "{text}");
        assert!(
            text.contains("warning: 5 expected deliveries did not arrive within 10 s"),
            "{text}"
        );
    }

    #[test]
    fn text_says_when_no_delivery_arrived() {
        let mut report = report(1, 1000);
        report.delivery.latency_ms = None;
        let text = report.to_text();
        assert!(text.contains("delivery ms no delivery arrived\n"), "{text}");
        assert!(
            text.contains("drain       timed out after waiting 0.25 s"),
            "{text}"
        );
    }

    #[test]
    fn json_nests_the_delivery_summary_beside_the_sending_report() {
        let json = report(1, 0).to_json().expect("serializes");
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(value["workload"], "e2e");
        assert_eq!(value["endpoints"], 1);
        assert_eq!(value["delivery"]["deliveries_per_sec"], 499.5);
        assert_eq!(value["delivery"]["drain_end"], "all_delivered");
        assert_eq!(value["delivery"]["latency_ms"]["p99"], 4.5);
    }

    #[test]
    fn summary_rounds_the_rate_over_the_window() {
        let from = Instant::now();
        let window = Window {
            from,
            to: from + Duration::from_secs(3),
        };
        let correlation = Correlation {
            delivered_in_window: 1000,
            ..Correlation::default()
        };
        let drain = Drain {
            end: WaitEnd::AllDelivered,
            took: Duration::from_millis(1234),
        };
        let summary = DeliverySummary::new(correlation, window, drain, 0);
        assert_eq!(summary.deliveries_per_sec, 333.33);
        assert_eq!(summary.drain_s, 1.234);
        assert!(summary.is_complete());
    }
}
