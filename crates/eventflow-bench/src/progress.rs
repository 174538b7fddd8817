//! Live counters updated by every request and the once-a-second progress line printed
//! to stderr while a run is going. Workloads with their own counters print their own
//! line through [`ProgressPrinter::start_with`].

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::runner::Timeline;

/// Events accepted and failed so far, warm-up included.
#[derive(Debug, Default)]
pub struct LiveCounters {
    accepted: AtomicU64,
    errors: AtomicU64,
}

/// A consistent-enough reading of [`LiveCounters`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LiveSnapshot {
    pub accepted: u64,
    pub errors: u64,
}

impl LiveCounters {
    /// Adds the events of one finished request.
    pub fn add(&self, accepted: u64, errors: u64) {
        self.accepted.fetch_add(accepted, Ordering::Relaxed);
        self.errors.fetch_add(errors, Ordering::Relaxed);
    }

    /// Reads the current totals.
    pub fn snapshot(&self) -> LiveSnapshot {
        LiveSnapshot {
            accepted: self.accepted.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
}

/// One firing of the progress clock.
#[derive(Debug, Clone, Copy)]
pub struct Tick {
    /// When the previous tick fired (the start of the run for the first one).
    pub previous_at: Instant,
    /// When this tick fired.
    pub now: Instant,
}

impl Tick {
    /// Returns the time since the previous tick.
    pub fn interval(&self) -> Duration {
        self.now.saturating_duration_since(self.previous_at)
    }
}

/// Prints a progress line every second until stopped.
pub struct ProgressPrinter {
    task: JoinHandle<()>,
    on_terminal: bool,
}

impl ProgressPrinter {
    /// Starts printing the progress of the run laid out by `timeline`: events/s over the
    /// last second and the totals of `counters`.
    pub fn start(counters: Arc<LiveCounters>, timeline: Timeline) -> Self {
        let mut previous = counters.snapshot();
        Self::start_with(timeline.start, move |tick| {
            let current = counters.snapshot();
            let events_per_sec = crate::stats::per_second(
                current.accepted.saturating_sub(previous.accepted),
                tick.interval(),
            );
            previous = current;
            progress_line(
                tick.now.saturating_duration_since(timeline.start),
                timeline.phase_at(tick.previous_at),
                events_per_sec,
                current,
            )
        })
    }

    /// Starts printing, every second after `start`, the line `line` builds for that tick.
    pub fn start_with<F>(start: Instant, line: F) -> Self
    where
        F: FnMut(Tick) -> String + Send + 'static,
    {
        let on_terminal = std::io::stderr().is_terminal();
        let task = tokio::spawn(print_every_second(start, line, on_terminal));
        Self { task, on_terminal }
    }

    /// Stops printing and, on a terminal, ends the overwritten line.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        if self.on_terminal {
            eprintln!();
        }
    }
}

/// Prints the line `line` builds once per second after `start`, forever.
async fn print_every_second<F>(start: Instant, mut line: F, on_terminal: bool)
where
    F: FnMut(Tick) -> String,
{
    let period = Duration::from_secs(1);
    let mut ticker = tokio::time::interval_at((start + period).into(), period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut previous_at = start;
    loop {
        ticker.tick().await;
        let now = Instant::now();
        print_progress(&line(Tick { previous_at, now }), on_terminal);
        previous_at = now;
    }
}

/// Formats the progress line: elapsed time, phase of the second just ended, events/s
/// over that second, and accepted events and errors since the start (warm-up included).
pub fn progress_line(
    elapsed: Duration,
    phase: &str,
    events_per_sec: f64,
    totals: LiveSnapshot,
) -> String {
    format!(
        "{:>6.1}s  {phase:<9}  {events_per_sec:>9.0} events/s  total {}  errors {}",
        elapsed.as_secs_f64(),
        totals.accepted,
        totals.errors,
    )
}

/// Writes a progress line to stderr, overwriting the previous one on a terminal.
fn print_progress(line: &str, on_terminal: bool) {
    if on_terminal {
        eprint!("\r{line}\x1b[K");
    } else {
        eprintln!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_accumulate() {
        let counters = LiveCounters::default();
        counters.add(100, 0);
        counters.add(98, 2);
        assert_eq!(
            counters.snapshot(),
            LiveSnapshot {
                accepted: 198,
                errors: 2
            }
        );
    }

    #[test]
    fn progress_line_shows_elapsed_rate_total_and_errors() {
        let line = progress_line(
            Duration::from_millis(3020),
            "measuring",
            12345.4,
            LiveSnapshot {
                accepted: 40000,
                errors: 7,
            },
        );
        assert_eq!(
            line,
            "   3.0s  measuring      12345 events/s  total 40000  errors 7"
        );
    }
}
