//! Drives a [`Workload`] in closed or open loop through a warm-up and a measured window,
//! and collects what happened during the measured window.
//!
//! Closed loop: each of `concurrency` workers sends its next request as soon as the
//! previous one is answered; latency is the response time. Open loop: one scheduler
//! thread starts requests at fixed intervals, at most `concurrency` in flight; latency
//! runs from the intended send time, so queueing in the generator is not hidden (no
//! coordinated omission).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio::task::JoinSet;

use crate::progress::{LiveCounters, ProgressPrinter};
use crate::schedule::{LATE_THRESHOLD, OpenLoopSchedule, ScheduleReport, SendTally};
use crate::stats::{ErrorCounts, ErrorKind, LatencyRecorder, millis, per_second};

/// One kind of request a benchmark sends repeatedly.
pub trait Workload: Send + Sync + 'static {
    /// Sends one request and tells what became of the events it carried; `measured` tells
    /// whether the request belongs to the measured window (false during the warm-up), for
    /// workloads that follow their events further than the answer.
    fn execute(&self, measured: bool) -> impl Future<Output = Outcome> + Send;
}

/// What became of one request and the events it carried.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the request itself succeeded; only successful requests have their latency
    /// recorded.
    pub succeeded: bool,
    /// Events the server accepted.
    pub accepted: u64,
    /// Events not accepted, by cause.
    pub errors: Vec<(ErrorKind, u64)>,
}

impl Outcome {
    /// Describes a successful request whose `events` were all accepted.
    pub fn accepted(events: u64) -> Self {
        Self {
            succeeded: true,
            accepted: events,
            errors: Vec::new(),
        }
    }

    /// Describes a failed request whose `events` all failed for the reason `kind`.
    pub fn failed(kind: ErrorKind, events: u64) -> Self {
        Self {
            succeeded: false,
            accepted: 0,
            errors: vec![(kind, events)],
        }
    }

    /// Returns how many events were not accepted.
    pub fn error_count(&self) -> u64 {
        self.errors.iter().map(|(_, count)| count).sum()
    }
}

/// How hard and how long to drive a workload.
#[derive(Debug, Clone, Copy)]
pub struct LoadPlan {
    /// Closed-loop workers, or the most requests in flight in open loop.
    pub concurrency: usize,
    /// Time before the measured window whose requests are not recorded.
    pub warmup: Duration,
    /// Length of the measured window.
    pub duration: Duration,
    /// Open-loop requests per second; closed loop when `None`.
    pub rate: Option<f64>,
}

/// The instants that delimit a run: warm-up from `start`, measurement from `measure_from`
/// until `end`.
#[derive(Debug, Clone, Copy)]
pub struct Timeline {
    pub start: Instant,
    pub measure_from: Instant,
    pub end: Instant,
}

impl Timeline {
    /// Lays out a run of `plan` starting now.
    pub fn starting_now(plan: &LoadPlan) -> Self {
        let start = Instant::now();
        let measure_from = start + plan.warmup;
        Self {
            start,
            measure_from,
            end: measure_from + plan.duration,
        }
    }

    /// Tells whether a request started (or meant to start) at `at` is measured.
    pub fn is_measured(&self, at: Instant) -> bool {
        at >= self.measure_from
    }

    /// Names the phase of the run at `at`.
    pub fn phase_at(&self, at: Instant) -> &'static str {
        if at < self.measure_from {
            "warm-up"
        } else if at < self.end {
            "measuring"
        } else {
            "draining"
        }
    }
}

/// Everything recorded about the requests of the measured window.
#[derive(Debug, Default)]
pub struct Measurement {
    pub latencies: LatencyRecorder,
    pub requests: u64,
    pub failed_requests: u64,
    pub accepted: u64,
    pub errors: ErrorCounts,
}

impl Measurement {
    /// Adds one finished request.
    fn add(&mut self, outcome: Outcome, latency: Duration) {
        self.requests += 1;
        self.accepted += outcome.accepted;
        if outcome.succeeded {
            self.latencies.record(latency);
        } else {
            self.failed_requests += 1;
        }
        for (kind, count) in outcome.errors {
            self.errors.add(kind, count);
        }
    }
}

/// The result of a run.
#[derive(Debug)]
pub struct RunResult {
    pub measurement: Measurement,
    /// From the start of the measured window until the last measured request finished
    /// (and at least the planned duration unless interrupted).
    pub measured: Duration,
    /// Whether Ctrl-C ended the run early.
    pub interrupted: bool,
    /// How well the open-loop schedule was kept; `None` in closed loop.
    pub schedule: Option<ScheduleReport>,
}

/// Runs `workload` as laid out by `plan`, printing progress to stderr; the first Ctrl-C
/// stops it.
pub async fn run<W: Workload>(workload: W, plan: LoadPlan) -> anyhow::Result<RunResult> {
    let stop = StopSignal::raised_by_ctrl_c();
    let timeline = Timeline::starting_now(&plan);
    let live = Arc::new(LiveCounters::default());
    let progress = ProgressPrinter::start(Arc::clone(&live), timeline);
    let result = drive(workload, plan, timeline, stop, live).await;
    progress.stop().await;
    result
}

/// Runs `workload` as laid out by `plan` along `timeline` without printing anything,
/// counting every finished request in `live`, until the run ends or `stop` is raised.
/// Callers that watch the run themselves use this rather than [`run`].
pub async fn drive<W: Workload>(
    workload: W,
    plan: LoadPlan,
    timeline: Timeline,
    stop: StopSignal,
    live: Arc<LiveCounters>,
) -> anyhow::Result<RunResult> {
    let workload = Arc::new(workload);
    let state = Arc::new(RunState::new(stop, live));
    let schedule = match plan.rate {
        None => {
            run_closed_loop(workload, &state, timeline, plan.concurrency).await?;
            None
        }
        Some(rate) => {
            Some(run_open_loop(workload, &state, timeline, rate, plan.concurrency).await?)
        }
    };
    let finished = end_of_measurement(&timeline, state.stop.is_raised());
    Ok(RunResult {
        measurement: state.take_measurement(),
        measured: finished.saturating_duration_since(timeline.measure_from),
        interrupted: state.stop.is_raised(),
        schedule,
    })
}

/// Returns when the measured window ends: now, but not before the planned end unless
/// the run was interrupted (an open-loop schedule may finish its last request early).
fn end_of_measurement(timeline: &Timeline, interrupted: bool) -> Instant {
    let now = Instant::now();
    if interrupted {
        now
    } else {
        now.max(timeline.end)
    }
}

/// State shared by every request of a run.
struct RunState {
    live: Arc<LiveCounters>,
    measurement: Mutex<Measurement>,
    stop: StopSignal,
}

impl RunState {
    fn new(stop: StopSignal, live: Arc<LiveCounters>) -> Self {
        Self {
            live,
            measurement: Mutex::default(),
            stop,
        }
    }

    /// Counts a finished request, and records it if it belongs to the measured window.
    fn record(&self, outcome: Outcome, latency: Duration, measured: bool) {
        self.live.add(outcome.accepted, outcome.error_count());
        if measured {
            self.measurement
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .add(outcome, latency);
        }
    }

    /// Takes what has been recorded so far.
    fn take_measurement(&self) -> Measurement {
        std::mem::take(
            &mut *self
                .measurement
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

/// Starts `concurrency` closed-loop workers and waits until they all stop.
async fn run_closed_loop<W: Workload>(
    workload: Arc<W>,
    state: &Arc<RunState>,
    timeline: Timeline,
    concurrency: usize,
) -> anyhow::Result<()> {
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        workers.spawn(closed_loop_worker(
            Arc::clone(&workload),
            Arc::clone(state),
            timeline,
        ));
    }
    while let Some(joined) = workers.join_next().await {
        joined.context("a load worker failed")?;
    }
    Ok(())
}

/// Sends requests back to back until the end of the run; latency is the response time.
async fn closed_loop_worker<W: Workload>(
    workload: Arc<W>,
    state: Arc<RunState>,
    timeline: Timeline,
) {
    loop {
        let started = Instant::now();
        if started >= timeline.end || state.stop.is_raised() {
            return;
        }
        let measured = timeline.is_measured(started);
        let outcome = workload.execute(measured).await;
        state.record(outcome, started.elapsed(), measured);
    }
}

/// Starts requests at `rate` per second, at most `concurrency` in flight, until the end
/// of the run, then waits for those in flight.
///
/// The schedule runs on a blocking thread that sleeps with the operating system's timer,
/// which is far more precise than the runtime's millisecond timer wheel, so requests start
/// within a fraction of a millisecond of their intended time when the generator keeps up.
async fn run_open_loop<W: Workload>(
    workload: Arc<W>,
    state: &Arc<RunState>,
    timeline: Timeline,
    rate: f64,
    concurrency: usize,
) -> anyhow::Result<ScheduleReport> {
    let slots = Arc::new(Semaphore::new(concurrency));
    let scheduler = OpenLoopScheduler {
        runtime: Handle::current(),
        workload,
        state: Arc::clone(state),
        slots: Arc::clone(&slots),
        schedule: OpenLoopSchedule::new(timeline.start, rate),
        timeline,
    };
    let dispatched = tokio::task::spawn_blocking(move || scheduler.dispatch_all())
        .await
        .context("the open-loop scheduler failed")??;
    let window_end = if state.stop.is_raised() {
        Instant::now().min(timeline.end)
    } else {
        timeline.end
    };
    wait_until_idle(&slots, concurrency).await?;
    let window = window_end.saturating_duration_since(timeline.measure_from);
    Ok(ScheduleReport {
        target_rate: rate,
        achieved_rate: per_second(dispatched.tally.sends, window),
        sends: dispatched.tally.sends,
        late_sends: dispatched.tally.late_sends,
        max_lag_ms: millis(dispatched.tally.max_lag),
        missed_sends: dispatched.missed_sends,
    })
}

/// What the open-loop scheduler started.
struct Dispatched {
    /// Sends of the measured window and their lateness.
    tally: SendTally,
    /// Sends planned before the end of the run that never started.
    missed_sends: u64,
}

/// Starts the requests of an open-loop schedule from a blocking thread.
struct OpenLoopScheduler<W> {
    runtime: Handle,
    workload: Arc<W>,
    state: Arc<RunState>,
    slots: Arc<Semaphore>,
    schedule: OpenLoopSchedule,
    timeline: Timeline,
}

impl<W: Workload> OpenLoopScheduler<W> {
    /// Starts every request of the schedule at its intended time, or as soon as a request
    /// slot is free, until the run ends or is stopped.
    fn dispatch_all(&self) -> anyhow::Result<Dispatched> {
        let mut tally = SendTally::default();
        let mut next = 0;
        loop {
            let intended = self.schedule.intended_send_time(next);
            if intended >= self.timeline.end || !self.sleep_until(intended) {
                break;
            }
            let slot = self.acquire_slot()?;
            let started = Instant::now();
            if started > self.timeline.end + LATE_THRESHOLD {
                let planned = self
                    .schedule
                    .planned_sends(self.timeline.end - self.timeline.start);
                return Ok(Dispatched {
                    tally,
                    missed_sends: planned.saturating_sub(next),
                });
            }
            let measured = self.timeline.is_measured(intended);
            if measured {
                tally.record(intended, started);
            }
            self.runtime.spawn(send_scheduled_request(
                Arc::clone(&self.workload),
                Arc::clone(&self.state),
                intended,
                measured,
                slot,
            ));
            next += 1;
        }
        Ok(Dispatched {
            tally,
            missed_sends: 0,
        })
    }

    /// Sleeps until `deadline`, waking at least every 100 ms to notice a stop; returns
    /// `false` if the run was stopped.
    fn sleep_until(&self, deadline: Instant) -> bool {
        const STOP_CHECK_PERIOD: Duration = Duration::from_millis(100);
        loop {
            if self.state.stop.is_raised() {
                return false;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return true;
            }
            std::thread::sleep(remaining.min(STOP_CHECK_PERIOD));
        }
    }

    /// Takes a free request slot, waiting for one if all are in flight.
    fn acquire_slot(&self) -> anyhow::Result<OwnedSemaphorePermit> {
        match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(slot) => Ok(slot),
            Err(TryAcquireError::NoPermits) => self
                .runtime
                .block_on(Arc::clone(&self.slots).acquire_owned())
                .context("the request slots were closed"),
            Err(TryAcquireError::Closed) => Err(anyhow::anyhow!("the request slots were closed")),
        }
    }
}

/// Sends one scheduled request, holding `slot` until it is answered; latency runs from
/// the intended send time.
async fn send_scheduled_request<W: Workload>(
    workload: Arc<W>,
    state: Arc<RunState>,
    intended: Instant,
    measured: bool,
    slot: OwnedSemaphorePermit,
) {
    let outcome = workload.execute(measured).await;
    state.record(outcome, intended.elapsed(), measured);
    drop(slot);
}

/// Waits until every one of the `concurrency` request slots is free again.
async fn wait_until_idle(slots: &Semaphore, concurrency: usize) -> anyhow::Result<()> {
    let all = u32::try_from(concurrency).context("concurrency is too large")?;
    let _all_slots = slots
        .acquire_many(all)
        .await
        .context("the request slots were closed")?;
    Ok(())
}

/// Set once Ctrl-C is pressed: workers stop starting requests and the run reports what
/// it measured. A second Ctrl-C exits at once.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    /// Creates a signal raised by the first Ctrl-C.
    pub fn raised_by_ctrl_c() -> Self {
        let signal = Self::default();
        let raised = signal.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                raised.0.store(true, Ordering::Relaxed);
                eprintln!("\nstopping: finishing the requests in flight (Ctrl-C again to quit)");
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
        signal
    }

    /// Tells whether the run should stop.
    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    /// Answers after a fixed delay, accepting every other request.
    struct Alternating {
        delay: Duration,
        calls: AtomicU64,
    }

    impl Workload for Alternating {
        async fn execute(&self, _measured: bool) -> Outcome {
            tokio::time::sleep(self.delay).await;
            if self.calls.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) {
                Outcome::accepted(1)
            } else {
                Outcome::failed(ErrorKind::Status(503), 1)
            }
        }
    }

    fn alternating(delay: Duration) -> Alternating {
        Alternating {
            delay,
            calls: AtomicU64::new(0),
        }
    }

    #[test]
    fn timeline_separates_warmup_measurement_and_drain() {
        let plan = LoadPlan {
            concurrency: 1,
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(10),
            rate: None,
        };
        let timeline = Timeline::starting_now(&plan);
        assert_eq!(timeline.phase_at(timeline.start), "warm-up");
        assert!(!timeline.is_measured(timeline.start + Duration::from_millis(1999)));
        assert!(timeline.is_measured(timeline.start + Duration::from_secs(2)));
        assert_eq!(timeline.phase_at(timeline.measure_from), "measuring");
        assert_eq!(timeline.phase_at(timeline.end), "draining");
        assert_eq!(timeline.end - timeline.start, Duration::from_secs(12));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closed_loop_records_only_the_measured_window() {
        let plan = LoadPlan {
            concurrency: 4,
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(300),
            rate: None,
        };
        let result = run(alternating(Duration::from_millis(10)), plan)
            .await
            .expect("run succeeds");
        let measurement = result.measurement;
        assert!(
            (40..=130).contains(&measurement.requests),
            "{measurement:?}"
        );
        assert_eq!(
            measurement.accepted + measurement.errors.total,
            measurement.requests
        );
        assert_eq!(
            measurement.errors.status.get(&503),
            Some(&measurement.failed_requests)
        );
        assert!(result.measured >= plan.duration);
        assert!(result.schedule.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_loop_keeps_to_the_rate() {
        let plan = LoadPlan {
            concurrency: 8,
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(500),
            rate: Some(200.0),
        };
        let result = run(alternating(Duration::from_millis(5)), plan)
            .await
            .expect("run succeeds");
        let schedule = result.schedule.expect("open loop reports its schedule");
        // 200/s over 500 ms schedules 100 sends; on a loaded machine a few may
        // be missed, but every one is accounted for and each sent one measured.
        assert_eq!(schedule.sends + schedule.missed_sends, 100, "{schedule:?}");
        assert_eq!(result.measurement.requests, schedule.sends);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_loop_measures_from_the_intended_time_when_saturated() {
        let plan = LoadPlan {
            concurrency: 1,
            warmup: Duration::ZERO,
            duration: Duration::from_millis(300),
            rate: Some(100.0),
        };
        let result = run(alternating(Duration::from_millis(20)), plan)
            .await
            .expect("run succeeds");
        let schedule = result.schedule.expect("open loop reports its schedule");
        assert!(schedule.fell_behind(), "{schedule:?}");
        assert!(schedule.late_sends > 0);
        let latency = result
            .measurement
            .latencies
            .summarize()
            .expect("some requests succeeded");
        assert!(latency.max > 40.0, "queueing shows in latency: {latency:?}");
    }
}
