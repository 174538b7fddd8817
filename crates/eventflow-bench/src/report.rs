//! The end-of-run report, printed as aligned text or as one JSON object.

use std::fmt::{Display, Write as _};

use serde::Serialize;

use crate::runner::{LoadPlan, RunResult};
use crate::schedule::ScheduleReport;
use crate::stats::{ErrorCounts, LatencySummary, per_second};

/// What a run measured, with the settings that produced it. `S` holds the settings
/// specific to the workload; they appear as top-level keys in JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Report<S> {
    pub workload: &'static str,
    /// `closed` or `open` loop.
    pub mode: &'static str,
    /// Accepted events per measured second.
    pub events_per_sec: f64,
    /// Finished requests (successful or not) per measured second.
    pub requests_per_sec: f64,
    /// Events accepted during the measured window.
    pub accepted: u64,
    pub requests: u64,
    pub failed_requests: u64,
    /// Events not accepted, by cause.
    pub errors: ErrorCounts,
    /// Latency of the successful requests; `None` when there was none.
    pub latency_ms: Option<LatencySummary>,
    pub concurrency: usize,
    /// Open-loop target in requests per second; `None` in closed loop.
    pub rate: Option<f64>,
    #[serde(flatten)]
    pub settings: S,
    /// Length of the measured window, in seconds.
    pub duration_s: f64,
    pub warmup_s: f64,
    /// Whether Ctrl-C ended the run early.
    pub interrupted: bool,
    /// How well the open-loop schedule was kept; `None` in closed loop.
    pub open_loop: Option<ScheduleReport>,
}

impl<S: Serialize + Display> Report<S> {
    /// Builds the report of `result`, a run of `plan` with the workload's `settings`.
    pub fn new(workload: &'static str, plan: &LoadPlan, settings: S, result: RunResult) -> Self {
        let measurement = result.measurement;
        Self {
            workload,
            mode: if plan.rate.is_some() {
                "open"
            } else {
                "closed"
            },
            events_per_sec: round_to(per_second(measurement.accepted, result.measured), 2),
            requests_per_sec: round_to(per_second(measurement.requests, result.measured), 2),
            accepted: measurement.accepted,
            requests: measurement.requests,
            failed_requests: measurement.failed_requests,
            errors: measurement.errors,
            latency_ms: measurement.latencies.summarize(),
            concurrency: plan.concurrency,
            rate: plan.rate,
            settings,
            duration_s: round_to(result.measured.as_secs_f64(), 3),
            warmup_s: round_to(plan.warmup.as_secs_f64(), 3),
            interrupted: result.interrupted,
            open_loop: result.schedule.map(|schedule| ScheduleReport {
                achieved_rate: round_to(schedule.achieved_rate, 2),
                ..schedule
            }),
        }
    }

    /// Describes the workload and the load shape in one line.
    fn headline(&self) -> String {
        let load = match self.rate {
            Some(rate) => format!(
                "open loop at {rate} requests/s, at most {} in flight",
                self.concurrency
            ),
            None => format!("closed loop, {} workers", self.concurrency),
        };
        format!("{}: {load}, {}", self.workload, self.settings)
    }
}

/// A report that prints either as aligned text or as one line of JSON.
pub trait PrintableReport {
    /// Renders the report as one line of JSON.
    fn to_json(&self) -> serde_json::Result<String>;

    /// Renders the report as aligned, human-readable text.
    fn to_text(&self) -> String;
}

impl<S: Serialize + Display> PrintableReport for Report<S> {
    fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }

    fn to_text(&self) -> String {
        let mut text = format!("{}\n", self.headline());
        text.push_str(&describe_window(
            self.duration_s,
            self.warmup_s,
            self.interrupted,
        ));
        push_row(&mut text, "events/s", format!("{:.2}", self.events_per_sec));
        push_row(
            &mut text,
            "requests/s",
            format!("{:.2}", self.requests_per_sec),
        );
        push_row(
            &mut text,
            "accepted",
            format!(
                "{} events in {} requests ({} failed)",
                self.accepted, self.requests, self.failed_requests
            ),
        );
        push_row(&mut text, "latency ms", describe_latency(self.latency_ms));
        push_row(&mut text, "errors", describe_errors(&self.errors));
        if let Some(schedule) = &self.open_loop {
            push_row(&mut text, "schedule", describe_schedule(schedule));
            if schedule.fell_behind() {
                text.push_str(
                    "\nwarning: the load generator fell behind its schedule, so latencies include \
                     time requests waited to be sent; raise --concurrency, lower --rate, or run \
                     the generator on a less busy machine\n",
                );
            }
        }
        text
    }
}

/// Formats the line under a report's headline: how long the run measured after how long
/// a warm-up, and whether Ctrl-C cut it short; a blank line follows.
pub fn describe_window(duration_s: f64, warmup_s: f64, interrupted: bool) -> String {
    let interrupted = if interrupted {
        " (interrupted by Ctrl-C)"
    } else {
        ""
    };
    format!("measured {duration_s:.2} s after a {warmup_s:.2} s warm-up{interrupted}\n\n")
}

/// Appends one `label  value` row to the text report.
pub fn push_row(text: &mut String, label: &str, value: String) {
    // Writing to a String cannot fail.
    let _ = writeln!(text, "{label:<12}{value}");
}

/// Formats the latency percentiles with two decimals.
pub fn describe_latency(latency: Option<LatencySummary>) -> String {
    match latency {
        Some(l) => format!(
            "p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            l.p50, l.p90, l.p99, l.max
        ),
        None => "no successful request".to_owned(),
    }
}

/// Formats the error counts, e.g. `12 events (429: 10, timeout: 2)`, or `none`.
pub fn describe_errors(errors: &ErrorCounts) -> String {
    if errors.total == 0 {
        return "none".to_owned();
    }
    let causes: Vec<String> = errors
        .breakdown()
        .into_iter()
        .map(|(label, count)| format!("{label}: {count}"))
        .collect();
    format!("{} events ({})", errors.total, causes.join(", "))
}

/// Formats how well the open-loop schedule was kept.
fn describe_schedule(schedule: &ScheduleReport) -> String {
    format!(
        "achieved {:.2} of {} requests/s; {} of {} sends started > 1 ms late (max lag {:.2} ms); {} missed",
        schedule.achieved_rate,
        schedule.target_rate,
        schedule.late_sends,
        schedule.sends,
        schedule.max_lag_ms,
        schedule.missed_sends
    )
}

/// Rounds `value` to `decimals` decimal places.
pub fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::ErrorKind;
    use std::fmt;

    #[derive(Debug, Serialize)]
    struct Settings {
        batch: Option<u16>,
        payload_bytes: usize,
    }

    impl Display for Settings {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "payload {} B", self.payload_bytes)
        }
    }

    fn sample_report() -> Report<Settings> {
        let mut errors = ErrorCounts::default();
        errors.add(ErrorKind::Status(429), 10);
        errors.add(ErrorKind::Timeout, 2);
        Report {
            workload: "ingest",
            mode: "open",
            events_per_sec: 9876.5,
            requests_per_sec: 98.77,
            accepted: 197_530,
            requests: 1_988,
            failed_requests: 12,
            errors,
            latency_ms: Some(LatencySummary {
                p50: 1.234,
                p90: 2.5,
                p99: 7.891,
                max: 12.0,
            }),
            concurrency: 64,
            rate: Some(100.0),
            settings: Settings {
                batch: Some(100),
                payload_bytes: 1024,
            },
            duration_s: 20.0,
            warmup_s: 2.0,
            interrupted: false,
            open_loop: Some(ScheduleReport {
                target_rate: 100.0,
                achieved_rate: 99.4,
                sends: 1_988,
                late_sends: 3,
                max_lag_ms: 1.7,
                missed_sends: 0,
            }),
        }
    }

    #[test]
    fn json_has_the_documented_keys() {
        let json = sample_report().to_json().expect("serializes");
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        for key in [
            "workload",
            "events_per_sec",
            "requests_per_sec",
            "accepted",
            "errors",
            "latency_ms",
            "concurrency",
            "rate",
            "batch",
            "payload_bytes",
            "duration_s",
        ] {
            assert!(value.get(key).is_some(), "missing {key}");
        }
        assert_eq!(value["errors"]["status"]["429"], 10);
        assert_eq!(value["errors"]["total"], 12);
        assert_eq!(value["latency_ms"]["p99"], 7.891);
        assert_eq!(value["batch"], 100);
        assert!(!json.contains('\n'));
    }

    #[test]
    fn text_shows_rates_latency_errors_and_schedule() {
        let text = sample_report().to_text();
        assert!(text.starts_with(
            "ingest: open loop at 100 requests/s, at most 64 in flight, payload 1024 B\n"
        ));
        assert!(text.contains("events/s    9876.50\n"), "{text}");
        assert!(
            text.contains("latency ms  p50 1.23  p90 2.50  p99 7.89  max 12.00\n"),
            "{text}"
        );
        assert!(
            text.contains("errors      12 events (429: 10, timeout: 2)\n"),
            "{text}"
        );
        assert!(
            text.contains("3 of 1988 sends started > 1 ms late"),
            "{text}"
        );
        assert!(!text.contains("warning"), "{text}");
    }

    #[test]
    fn text_warns_when_the_generator_fell_behind() {
        let mut report = sample_report();
        if let Some(schedule) = report.open_loop.as_mut() {
            schedule.missed_sends = 40;
        }
        assert!(
            report
                .to_text()
                .contains("warning: the load generator fell behind")
        );
    }

    #[test]
    fn rounding_keeps_the_requested_decimals() {
        assert_eq!(round_to(1.23456, 2), 1.23);
        assert_eq!(round_to(9.999, 2), 10.0);
    }
}
