//! The open-loop schedule: when each request is meant to start, how many requests a
//! window holds, and how far behind that plan the generator actually started them.

use std::time::{Duration, Instant};

use serde::Serialize;

/// A send that starts later than this after its intended time counts as late.
pub const LATE_THRESHOLD: Duration = Duration::from_millis(1);

/// Fixed-interval send times at `rate` requests per second from `start`.
#[derive(Debug, Clone, Copy)]
pub struct OpenLoopSchedule {
    start: Instant,
    rate: f64,
}

impl OpenLoopSchedule {
    /// Creates a schedule of `rate` (> 0) requests per second starting at `start`.
    pub fn new(start: Instant, rate: f64) -> Self {
        Self { start, rate }
    }

    /// Returns the time at which the request numbered `index` (from 0) is meant to start.
    pub fn intended_send_time(&self, index: u64) -> Instant {
        self.start + send_offset(index, self.rate)
    }

    /// Returns how many requests the schedule starts within `window` after its start.
    pub fn planned_sends(&self, window: Duration) -> u64 {
        planned_sends(window, self.rate)
    }
}

/// Returns the offset of request `index` from the start of a schedule at `rate` per
/// second, computed from the index (not by adding intervals) so that it never drifts.
pub fn send_offset(index: u64, rate: f64) -> Duration {
    Duration::from_nanos((index as f64 * 1e9 / rate).round() as u64)
}

/// Returns how many requests, sent at `rate` per second from offset 0, start strictly
/// before `window` has elapsed.
pub fn planned_sends(window: Duration, rate: f64) -> u64 {
    (window.as_secs_f64() * rate).ceil() as u64
}

/// Counts measured sends and how late they started compared to their intended time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SendTally {
    pub sends: u64,
    pub late_sends: u64,
    pub max_lag: Duration,
}

impl SendTally {
    /// Records a send intended at `intended` that actually started at `started`.
    pub fn record(&mut self, intended: Instant, started: Instant) {
        let lag = started.saturating_duration_since(intended);
        self.sends += 1;
        if lag > LATE_THRESHOLD {
            self.late_sends += 1;
        }
        self.max_lag = self.max_lag.max(lag);
    }
}

/// How well the open-loop generator kept to its schedule during the measured window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScheduleReport {
    /// Requested requests per second.
    pub target_rate: f64,
    /// Requests actually started per second of measured window.
    pub achieved_rate: f64,
    /// Requests started in the measured window.
    pub sends: u64,
    /// Requests that started more than 1 ms after their intended time.
    pub late_sends: u64,
    /// The largest delay between an intended and an actual start, in milliseconds.
    pub max_lag_ms: f64,
    /// Requests planned before the end of the run that never started.
    pub missed_sends: u64,
}

impl ScheduleReport {
    /// Tells whether the generator fell behind: more than 5% of sends late (a few late
    /// sends are scheduling jitter of a busy machine), sends missed, or less than 95% of
    /// the target rate achieved.
    pub fn fell_behind(&self) -> bool {
        self.late_sends * 20 > self.sends
            || self.missed_sends > 0
            || self.achieved_rate < 0.95 * self.target_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_are_spaced_one_interval_apart() {
        assert_eq!(send_offset(0, 1000.0), Duration::ZERO);
        assert_eq!(send_offset(1, 1000.0), Duration::from_millis(1));
        assert_eq!(send_offset(1000, 1000.0), Duration::from_secs(1));
        assert_eq!(send_offset(3, 3.0), Duration::from_secs(1));
        assert_eq!(send_offset(5, 0.5), Duration::from_secs(10));
    }

    #[test]
    fn offsets_do_not_drift_over_long_runs() {
        let offset = send_offset(36_000_000, 10_000.0);
        assert_eq!(offset, Duration::from_secs(3600));
    }

    #[test]
    fn intended_send_times_follow_the_start() {
        let start = Instant::now();
        let schedule = OpenLoopSchedule::new(start, 250.0);
        assert_eq!(schedule.intended_send_time(0), start);
        assert_eq!(
            schedule.intended_send_time(250),
            start + Duration::from_secs(1)
        );
        assert_eq!(
            schedule.intended_send_time(10) - schedule.intended_send_time(9),
            Duration::from_millis(4)
        );
    }

    #[test]
    fn planned_sends_count_starts_before_the_window_ends() {
        assert_eq!(planned_sends(Duration::from_secs(1), 1000.0), 1000);
        assert_eq!(planned_sends(Duration::from_secs(2), 3.0), 6);
        assert_eq!(planned_sends(Duration::from_millis(1500), 1.0), 2);
        assert_eq!(planned_sends(Duration::ZERO, 100.0), 0);
    }

    #[test]
    fn planned_sends_match_the_intended_times() {
        let start = Instant::now();
        let window = Duration::from_millis(2500);
        for rate in [1.0, 7.0, 333.0, 1000.0] {
            let schedule = OpenLoopSchedule::new(start, rate);
            let planned = schedule.planned_sends(window);
            assert!(schedule.intended_send_time(planned - 1) < start + window);
            assert!(schedule.intended_send_time(planned) >= start + window);
        }
    }

    #[test]
    fn tally_counts_sends_later_than_one_millisecond() {
        let intended = Instant::now();
        let mut tally = SendTally::default();
        tally.record(intended, intended);
        tally.record(intended, intended + Duration::from_micros(900));
        tally.record(intended, intended + Duration::from_millis(5));
        tally.record(intended + Duration::from_millis(1), intended);
        assert_eq!(tally.sends, 4);
        assert_eq!(tally.late_sends, 1);
        assert_eq!(tally.max_lag, Duration::from_millis(5));
    }

    #[test]
    fn report_flags_a_generator_that_fell_behind() {
        let on_time = ScheduleReport {
            target_rate: 100.0,
            achieved_rate: 99.5,
            sends: 1000,
            late_sends: 5,
            max_lag_ms: 3.0,
            missed_sends: 0,
        };
        assert!(!on_time.fell_behind());
        assert!(
            ScheduleReport {
                late_sends: 60,
                ..on_time
            }
            .fell_behind()
        );
        assert!(
            ScheduleReport {
                missed_sends: 1,
                ..on_time
            }
            .fell_behind()
        );
        assert!(
            ScheduleReport {
                achieved_rate: 80.0,
                ..on_time
            }
            .fell_behind()
        );
    }
}
