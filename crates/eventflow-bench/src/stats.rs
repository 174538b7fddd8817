//! Latency recording, percentile summaries and error counting shared by every workload.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// Collects request latencies; sorting happens once, when the run is summarized.
#[derive(Debug, Default)]
pub struct LatencyRecorder {
    samples: Vec<Duration>,
}

impl LatencyRecorder {
    /// Adds one latency sample.
    pub fn record(&mut self, latency: Duration) {
        self.samples.push(latency);
    }

    /// Sorts the samples and computes their percentiles; returns `None` when nothing was recorded.
    pub fn summarize(mut self) -> Option<LatencySummary> {
        self.samples.sort_unstable();
        LatencySummary::from_sorted(&self.samples)
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl LatencySummary {
    /// Summarizes samples sorted in ascending order; returns `None` for an empty slice.
    pub fn from_sorted(sorted: &[Duration]) -> Option<Self> {
        Some(Self {
            p50: millis(percentile(sorted, 50.0)?),
            p90: millis(percentile(sorted, 90.0)?),
            p99: millis(percentile(sorted, 99.0)?),
            max: millis(*sorted.last()?),
        })
    }
}

/// Returns the nearest-rank percentile (`percent` in 0..=100) of samples sorted in
/// ascending order: the smallest sample that at least `percent`% of the samples do not
/// exceed. Returns `None` for an empty slice.
pub fn percentile(sorted: &[Duration], percent: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (percent.clamp(0.0, 100.0) / 100.0 * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    sorted.get(index).copied()
}

/// Converts a duration to milliseconds rounded to the microsecond.
pub fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

/// Returns `count` per second of `window`, or 0 for an empty window.
pub fn per_second(count: u64, window: Duration) -> f64 {
    if window.is_zero() {
        0.0
    } else {
        count as f64 / window.as_secs_f64()
    }
}

/// Why an event was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The server answered with this HTTP status (for the request or for a batch item).
    Status(u16),
    /// No complete answer arrived within the request timeout.
    Timeout,
    /// The connection could not be established.
    Connect,
    /// Any other transport failure (reset connection, broken body, ...).
    Transport,
    /// The server answered with a body the benchmark could not interpret.
    InvalidResponse,
}

/// Numbers of events not accepted, by cause.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorCounts {
    pub total: u64,
    pub status: BTreeMap<u16, u64>,
    pub timeout: u64,
    pub connect: u64,
    pub transport: u64,
    pub invalid_response: u64,
}

impl ErrorCounts {
    /// Adds `count` events that failed for the reason `kind`.
    pub fn add(&mut self, kind: ErrorKind, count: u64) {
        self.total += count;
        match kind {
            ErrorKind::Status(code) => *self.status.entry(code).or_default() += count,
            ErrorKind::Timeout => self.timeout += count,
            ErrorKind::Connect => self.connect += count,
            ErrorKind::Transport => self.transport += count,
            ErrorKind::InvalidResponse => self.invalid_response += count,
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &ErrorCounts) {
        self.total += other.total;
        for (code, count) in &other.status {
            *self.status.entry(*code).or_default() += count;
        }
        self.timeout += other.timeout;
        self.connect += other.connect;
        self.transport += other.transport;
        self.invalid_response += other.invalid_response;
    }

    /// Lists the non-zero counts as `(label, count)` pairs, HTTP statuses first.
    pub fn breakdown(&self) -> Vec<(String, u64)> {
        let statuses = self
            .status
            .iter()
            .map(|(code, count)| (code.to_string(), *count));
        let transport = [
            ("timeout", self.timeout),
            ("connect", self.connect),
            ("transport", self.transport),
            ("invalid response", self.invalid_response),
        ]
        .into_iter()
        .map(|(label, count)| (label.to_owned(), count));
        statuses
            .chain(transport)
            .filter(|(_, count)| *count > 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis_1_to(n: u64) -> Vec<Duration> {
        (1..=n).map(Duration::from_millis).collect()
    }

    #[test]
    fn percentile_uses_nearest_rank() {
        let samples = millis_1_to(100);
        assert_eq!(percentile(&samples, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&samples, 90.0), Some(Duration::from_millis(90)));
        assert_eq!(percentile(&samples, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(
            percentile(&samples, 100.0),
            Some(Duration::from_millis(100))
        );
        assert_eq!(percentile(&samples, 0.0), Some(Duration::from_millis(1)));
    }

    #[test]
    fn percentile_rounds_rank_up() {
        let samples = millis_1_to(10);
        assert_eq!(percentile(&samples, 99.0), Some(Duration::from_millis(10)));
        assert_eq!(percentile(&samples, 91.0), Some(Duration::from_millis(10)));
        assert_eq!(percentile(&samples, 90.0), Some(Duration::from_millis(9)));
        assert_eq!(percentile(&samples, 55.0), Some(Duration::from_millis(6)));
    }

    #[test]
    fn percentile_of_one_sample_is_that_sample() {
        let samples = [Duration::from_micros(1234)];
        for percent in [0.0, 50.0, 99.0, 100.0] {
            assert_eq!(percentile(&samples, percent), Some(samples[0]));
        }
    }

    #[test]
    fn percentile_of_nothing_is_none() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(LatencyRecorder::default().summarize(), None);
    }

    #[test]
    fn recorder_summarizes_unsorted_samples_in_milliseconds() {
        let mut recorder = LatencyRecorder::default();
        for micros in (1..=1000).rev() {
            recorder.record(Duration::from_micros(micros * 10));
        }
        let summary = recorder.summarize().expect("samples were recorded");
        assert_eq!(summary.p50, 5.0);
        assert_eq!(summary.p90, 9.0);
        assert_eq!(summary.p99, 9.9);
        assert_eq!(summary.max, 10.0);
    }

    #[test]
    fn per_second_divides_by_the_window() {
        assert_eq!(per_second(500, Duration::from_millis(250)), 2000.0);
        assert_eq!(per_second(500, Duration::ZERO), 0.0);
    }

    #[test]
    fn error_counts_add_up_by_cause() {
        let mut errors = ErrorCounts::default();
        errors.add(ErrorKind::Status(429), 3);
        errors.add(ErrorKind::Status(503), 1);
        errors.add(ErrorKind::Status(429), 2);
        errors.add(ErrorKind::Timeout, 4);
        assert_eq!(errors.total, 10);
        assert_eq!(
            errors.breakdown(),
            vec![
                ("429".to_owned(), 5),
                ("503".to_owned(), 1),
                ("timeout".to_owned(), 4)
            ]
        );
    }

    #[test]
    fn error_counts_merge_cause_by_cause() {
        let mut total = ErrorCounts::default();
        total.add(ErrorKind::Status(429), 1);
        let mut other = ErrorCounts::default();
        other.add(ErrorKind::Status(429), 2);
        other.add(ErrorKind::Status(503), 3);
        other.add(ErrorKind::Connect, 4);
        total.merge(&other);
        assert_eq!(total.total, 10);
        assert_eq!(total.status.get(&429), Some(&3));
        assert_eq!(total.status.get(&503), Some(&3));
        assert_eq!(total.connect, 4);
    }
}
