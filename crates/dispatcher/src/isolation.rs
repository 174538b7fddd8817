//! Keeps endpoints from slowing each other down. Each endpoint has its own
//! concurrency limit; when the deliveries already waiting for one endpoint
//! would take it longer than `max_queued_wait` to work off (judged by how
//! long its attempts take) or exceed `queue_limit`, further ones are deferred
//! to PostgreSQL instead of queueing in memory, so a slow or dead endpoint
//! never holds the stream (no head-of-line blocking), while a fast one takes
//! a deep queue without the round trip through PostgreSQL.
//! A circuit breaker stops sending to an endpoint that keeps failing until a
//! cool-down has passed, then lets one attempt through to probe it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventflow_domain::EndpointId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Settings of the gates.
#[derive(Debug, Clone, Copy)]
pub struct IsolationSettings {
    /// Deliveries waiting for one endpoint at most, however fast it is.
    pub queue_limit: usize,
    /// Deliveries wait for an endpoint only while those ahead of them would
    /// be done within this long at its recent pace.
    pub max_queued_wait: Duration,
    pub failure_threshold: u32,
    pub open_duration: Duration,
    /// Longest a delivery waits for a slot of its endpoint before it is
    /// deferred instead. Kept well under the claim timeout: a delivery still
    /// waiting when its stream entry or retry lease is claimed would be sent
    /// twice.
    pub max_wait: Duration,
}

/// Why a delivery may not be sent now, and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferral {
    /// The endpoint's circuit is open.
    CircuitOpen { retry_in: Duration },
    /// Too many deliveries already wait for this endpoint.
    Saturated { retry_in: Duration },
}

impl Deferral {
    pub fn retry_in(self) -> Duration {
        match self {
            Self::CircuitOpen { retry_in } | Self::Saturated { retry_in } => retry_in,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Self::CircuitOpen { .. } => "circuit open",
            Self::Saturated { .. } => "endpoint saturated",
        }
    }
}

/// Retry delay for deliveries deferred because their endpoint is saturated.
const SATURATED_RETRY: Duration = Duration::from_secs(1);
/// What an endpoint's attempts are assumed to take before one has finished:
/// slow enough that a hanging endpoint cannot gather a deep queue before its
/// first timeout.
const ASSUMED_ATTEMPT_TIME: Duration = Duration::from_millis(100);
/// Weight of the newest attempt in the running average of attempt times.
const ATTEMPT_TIME_WEIGHT: f64 = 0.2;

struct Gate {
    permits: Arc<Semaphore>,
    max_concurrency: usize,
    waiting: usize,
    /// Running average of how long its attempts take.
    attempt_time: Duration,
    consecutive_failures: u32,
    open_until: Option<Instant>,
    /// While half-open, only one probe is in flight.
    probing: bool,
}

/// The gates of every endpoint this process delivers to.
pub struct EndpointGates {
    settings: IsolationSettings,
    gates: Mutex<HashMap<EndpointId, Gate>>,
}

/// Permission to send one delivery; dropping it frees the endpoint slot.
pub struct Pass {
    _permit: OwnedSemaphorePermit,
}

impl EndpointGates {
    pub fn new(settings: IsolationSettings) -> Self {
        Self {
            settings,
            gates: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a free slot of the endpoint, or says why not to send now.
    pub async fn enter(
        &self,
        endpoint: EndpointId,
        max_concurrency: usize,
    ) -> Result<Pass, Deferral> {
        let (permits, probe) = {
            let mut gates = self.lock();
            let gate = gates.entry(endpoint).or_insert_with(|| Gate {
                permits: Arc::new(Semaphore::new(max_concurrency)),
                max_concurrency,
                waiting: 0,
                attempt_time: ASSUMED_ATTEMPT_TIME,
                consecutive_failures: 0,
                open_until: None,
                probing: false,
            });
            if let Some(open_until) = gate.open_until {
                let now = Instant::now();
                if now < open_until || gate.probing {
                    let retry_in = open_until
                        .saturating_duration_since(now)
                        .max(SATURATED_RETRY);
                    return Err(Deferral::CircuitOpen { retry_in });
                }
            }
            if gate.waiting >= self.settings.queue_limit
                || gate.queued_wait() > self.settings.max_queued_wait
            {
                return Err(Deferral::Saturated {
                    retry_in: SATURATED_RETRY,
                });
            }
            // Half-open: this delivery probes the endpoint.
            let probe = gate.open_until.is_some();
            gate.probing |= probe;
            gate.waiting += 1;
            (gate.permits.clone(), probe)
        };
        // Bounded, so a delivery never waits past the claim timeout (it would
        // be claimed and sent a second time meanwhile).
        let permit = tokio::time::timeout(self.settings.max_wait, permits.acquire_owned()).await;
        let mut gates = self.lock();
        let gate = gates.get_mut(&endpoint);
        if let Some(gate) = gate {
            gate.waiting -= 1;
            if probe && !matches!(permit, Ok(Ok(_))) {
                gate.probing = false; // the probe never went out
            }
        }
        match permit {
            Ok(Ok(permit)) => Ok(Pass { _permit: permit }),
            _ => Err(Deferral::Saturated {
                retry_in: SATURATED_RETRY,
            }),
        }
    }

    /// Records how an attempt went and how long it took; opens or closes
    /// the circuit.
    pub fn record(&self, endpoint: EndpointId, succeeded: bool, took: Duration) {
        let mut gates = self.lock();
        let Some(gate) = gates.get_mut(&endpoint) else {
            return;
        };
        gate.probing = false;
        gate.attempt_time = gate
            .attempt_time
            .mul_f64(1.0 - ATTEMPT_TIME_WEIGHT)
            .saturating_add(took.mul_f64(ATTEMPT_TIME_WEIGHT));
        if succeeded {
            gate.consecutive_failures = 0;
            gate.open_until = None;
            return;
        }
        gate.consecutive_failures = gate.consecutive_failures.saturating_add(1);
        if gate.consecutive_failures >= self.settings.failure_threshold {
            gate.open_until = Some(Instant::now() + self.settings.open_duration);
            metrics::counter!("eventflow_circuit_opened_total").increment(1);
        }
    }

    /// How many endpoints have an open circuit now.
    pub fn open_circuits(&self) -> usize {
        let now = Instant::now();
        self.lock()
            .values()
            .filter(|gate| gate.open_until.is_some_and(|until| until > now))
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<EndpointId, Gate>> {
        self.gates
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Gate {
    /// How long one more waiting delivery would wait at the recent pace.
    fn queued_wait(&self) -> Duration {
        let ahead = u32::try_from(self.waiting + 1).unwrap_or(u32::MAX);
        let lanes = u32::try_from(self.max_concurrency.max(1)).unwrap_or(u32::MAX);
        self.attempt_time.saturating_mul(ahead) / lanes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many deliveries wait for a slot of the endpoint.
    fn waiting(gates: &EndpointGates, endpoint: EndpointId) -> usize {
        gates.lock().get(&endpoint).map_or(0, |gate| gate.waiting)
    }

    fn gates() -> EndpointGates {
        EndpointGates::new(IsolationSettings {
            queue_limit: 2,
            max_queued_wait: Duration::from_secs(60),
            failure_threshold: 3,
            open_duration: Duration::from_millis(50),
            max_wait: Duration::from_secs(5),
        })
    }

    #[tokio::test]
    async fn a_full_endpoint_defers_instead_of_queueing_without_bound() {
        let gates = Arc::new(gates());
        let endpoint = EndpointId::new();
        let _held = gates.enter(endpoint, 1).await.unwrap();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let gates = gates.clone();
                tokio::spawn(async move { gates.enter(endpoint, 1).await.map(|_| ()) })
            })
            .collect();
        eventflow_test_support::eventually(
            "two deliveries waiting",
            eventflow_test_support::WITHIN,
            || async { waiting(&gates, endpoint) == 2 },
        )
        .await;

        assert!(matches!(
            gates.enter(endpoint, 1).await,
            Err(Deferral::Saturated { .. })
        ));
        assert!(
            gates.enter(EndpointId::new(), 1).await.is_ok(),
            "other endpoints are not affected"
        );
        drop(_held);
        for waiter in waiters {
            waiter.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn a_delivery_waiting_longer_than_max_wait_is_deferred() {
        let gates = EndpointGates::new(IsolationSettings {
            queue_limit: 8,
            max_queued_wait: Duration::from_secs(60),
            failure_threshold: 3,
            open_duration: Duration::from_millis(50),
            max_wait: Duration::from_millis(30),
        });
        let endpoint = EndpointId::new();
        let held = gates.enter(endpoint, 1).await.unwrap();

        let waited = Instant::now();
        let outcome = gates.enter(endpoint, 1).await;

        assert!(matches!(outcome, Err(Deferral::Saturated { .. })));
        assert!(waited.elapsed() >= Duration::from_millis(30));
        drop(held);
        assert!(
            gates.enter(endpoint, 1).await.is_ok(),
            "the slot is free again"
        );
    }

    #[tokio::test]
    async fn a_probe_that_waited_too_long_does_not_keep_the_circuit_shut() {
        let gates = EndpointGates::new(IsolationSettings {
            queue_limit: 8,
            max_queued_wait: Duration::from_secs(60),
            failure_threshold: 1,
            open_duration: Duration::from_millis(20),
            max_wait: Duration::from_millis(30),
        });
        let endpoint = EndpointId::new();
        let in_flight = gates.enter(endpoint, 1).await.unwrap();
        gates.record(endpoint, false, Duration::from_millis(1));
        // The circuit's cool-down (20 ms) is what is under test: it passes.
        tokio::time::sleep(Duration::from_millis(30)).await;

        let probe = gates.enter(endpoint, 1).await;
        assert!(matches!(probe, Err(Deferral::Saturated { .. })));
        drop(in_flight);

        assert!(
            gates.enter(endpoint, 1).await.is_ok(),
            "the next delivery probes the endpoint"
        );
    }

    #[tokio::test]
    async fn the_circuit_opens_after_repeated_failures_and_probes_after_the_cool_down() {
        let gates = gates();
        let endpoint = EndpointId::new();
        for _ in 0..3 {
            drop(gates.enter(endpoint, 4).await.unwrap());
            gates.record(endpoint, false, Duration::from_millis(1));
        }
        assert!(matches!(
            gates.enter(endpoint, 4).await,
            Err(Deferral::CircuitOpen { .. })
        ));
        assert_eq!(gates.open_circuits(), 1);

        // The circuit's cool-down (50 ms) is what is under test: it passes.
        tokio::time::sleep(Duration::from_millis(60)).await;
        let probe = gates
            .enter(endpoint, 4)
            .await
            .expect("one probe after the cool-down");
        assert!(
            gates.enter(endpoint, 4).await.is_err(),
            "only one probe at a time"
        );
        drop(probe);
        gates.record(endpoint, true, Duration::from_millis(1));
        assert!(
            gates.enter(endpoint, 4).await.is_ok(),
            "a success closes the circuit"
        );
    }

    #[tokio::test]
    async fn a_slow_endpoint_gets_a_shorter_queue_than_a_fast_one() {
        let gates = Arc::new(EndpointGates::new(IsolationSettings {
            queue_limit: 1000,
            max_queued_wait: Duration::from_secs(1),
            failure_threshold: 100,
            open_duration: Duration::from_secs(1),
            max_wait: Duration::from_secs(5),
        }));
        let queue_taken = |attempt_time: Duration| {
            let gates = gates.clone();
            async move {
                let endpoint = EndpointId::new();
                let held = gates.enter(endpoint, 2).await.unwrap();
                for _ in 0..20 {
                    gates.record(endpoint, true, attempt_time);
                }
                let _other = gates.enter(endpoint, 2).await.unwrap();
                let mut waiters = Vec::new();
                loop {
                    let mut waiter = Box::pin(gates.enter(endpoint, 2));
                    // One poll: a deferred delivery is refused at once, a
                    // queued one waits for a slot.
                    let polled =
                        std::future::poll_fn(|cx| std::task::Poll::Ready(waiter.as_mut().poll(cx)))
                            .await;
                    match polled {
                        std::task::Poll::Ready(deferred) => {
                            assert!(matches!(deferred, Err(Deferral::Saturated { .. })));
                            break;
                        }
                        std::task::Poll::Pending => waiters.push(waiter),
                    }
                }
                drop(held);
                waiters.len()
            }
        };

        let slow = queue_taken(Duration::from_secs(2)).await;
        let fast = queue_taken(Duration::from_millis(1)).await;

        assert!(slow < 10, "a slow endpoint queued {slow}");
        assert!(fast > 50, "a fast endpoint queued only {fast}");
    }
}
