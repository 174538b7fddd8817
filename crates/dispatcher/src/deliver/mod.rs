//! One delivery: decide whether it may be sent now, send it signed, and turn
//! what happened into the delivery's next state and an attempt record.

mod client;
mod webhook;

use std::time::Duration;

use bytes::Bytes;
use eventflow_domain::{AttemptId, DeliveryId, RetrySchedule, with_jitter};
use eventflow_queue::Queue;
use eventflow_store::{AttemptRecord, DeliveryState, DeliveryStatus, StoredEvent};
use time::OffsetDateTime;

pub use client::{AttemptOutcome, AttemptReport, ClientSettings, DeliveryClient};
pub use webhook::{signed_request, webhook_body};

use crate::endpoints::Endpoint;
use crate::isolation::{Deferral, EndpointGates};

/// Spread of retry delays, so failures that happened together do not retry together.
const JITTER: f64 = 0.2;

/// What a delivery turned into: its new state, the attempt if one was made,
/// and whether the endpoint answered well (for failure tracking).
#[derive(Debug, Clone)]
pub struct DeliveryResult {
    pub state: DeliveryState,
    pub attempt: Option<AttemptRecord>,
    pub endpoint_succeeded: Option<bool>,
}

/// Where a delivery stands before this attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prior {
    pub attempts: i32,
    pub retry_base: i32,
    pub generation: i32,
}

impl Prior {
    /// A delivery that has never been attempted.
    pub const FIRST: Self = Self {
        attempts: 0,
        retry_base: 0,
        generation: 0,
    };

    /// The position of a stored delivery.
    pub fn of(state: &DeliveryState) -> Self {
        Self {
            attempts: state.attempt_count,
            retry_base: state.retry_base,
            generation: state.generation,
        }
    }
}

/// Sends deliveries and decides retries.
pub struct Deliverer {
    client: DeliveryClient,
    gates: EndpointGates,
    queue: Queue,
    schedule: RetrySchedule,
    max_retry_after: Duration,
}

impl Deliverer {
    pub fn new(
        client: DeliveryClient,
        gates: EndpointGates,
        queue: Queue,
        schedule: RetrySchedule,
        max_retry_after: Duration,
    ) -> Self {
        Self {
            client,
            gates,
            queue,
            schedule,
            max_retry_after,
        }
    }

    /// The endpoint gates, for metrics.
    pub fn gates(&self) -> &EndpointGates {
        &self.gates
    }

    /// Delivers `event` (whose webhook body is `body`) to `endpoint`, after
    /// `attempts_so_far` earlier attempts.
    pub async fn deliver(
        &self,
        event: &StoredEvent,
        body: &Bytes,
        endpoint: &Endpoint,
        prior: Prior,
    ) -> DeliveryResult {
        let mut state = DeliveryState {
            id: DeliveryId::for_event_endpoint(event.id, endpoint.id),
            project_id: event.project_id,
            event_id: event.id,
            endpoint_id: endpoint.id,
            status: DeliveryStatus::Pending,
            attempt_count: prior.attempts,
            retry_base: prior.retry_base,
            generation: prior.generation,
            next_attempt_at: None,
            last_attempt_at: None,
            last_status_code: None,
            last_error: None,
        };
        if !endpoint.accepting {
            // Held: no due time until the endpoint is resumed or enabled again.
            state.last_error = Some(
                if endpoint.enabled {
                    "endpoint paused"
                } else {
                    "endpoint disabled"
                }
                .into(),
            );
            return DeliveryResult {
                state,
                attempt: None,
                endpoint_succeeded: None,
            };
        }
        if let Some(retry_in) = self.rate_limited(endpoint).await {
            return deferred(state, retry_in, "endpoint rate limit");
        }
        let pass = match self
            .gates
            .enter(endpoint.id, endpoint.max_concurrency)
            .await
        {
            Ok(pass) => pass,
            Err(deferral) => {
                metrics::counter!("eventflow_deliveries_deferred_total", "reason" => deferral.reason()).increment(1);
                return deferred_for(state, deferral);
            }
        };
        let now = OffsetDateTime::now_utc();
        let request = signed_request(
            &endpoint.url,
            body.clone(),
            event,
            &endpoint.signing_secrets(now),
            &endpoint.headers,
            now,
        );
        let report = self.client.send(&request).await;
        drop(pass);
        metrics::histogram!("eventflow_attempt_duration_seconds")
            .record(report.duration.as_secs_f64());
        let succeeded = report.outcome == AttemptOutcome::Succeeded;
        if report.outcome != AttemptOutcome::Refused {
            self.gates.record(endpoint.id, succeeded, report.duration);
        }
        let attempt_number = prior.attempts + 1;
        let attempt = AttemptRecord {
            id: AttemptId::new(),
            delivery_id: state.id,
            project_id: state.project_id,
            endpoint_id: state.endpoint_id,
            attempt_number,
            started_at: report.started_at,
            duration: report.duration,
            status_code: report.status_code.map(i32::from),
            response_body: report.response_body.clone(),
            error_kind: report.outcome.error_kind().map(str::to_owned),
        };
        state.attempt_count = attempt_number;
        state.last_attempt_at = Some(report.started_at);
        state.last_status_code = report.status_code.map(i32::from);
        state.last_error = report.error.clone();
        self.settle(&mut state, &report);
        metrics::counter!("eventflow_deliveries_total", "outcome" => outcome_label(&state, &report)).increment(1);
        let endpoint_succeeded = (report.outcome != AttemptOutcome::Refused).then_some(succeeded);
        DeliveryResult {
            state,
            attempt: Some(attempt),
            endpoint_succeeded,
        }
    }

    /// Sets the status and next due time after an attempt.
    fn settle(&self, state: &mut DeliveryState, report: &AttemptReport) {
        match &report.outcome {
            AttemptOutcome::Succeeded => state.status = DeliveryStatus::Succeeded,
            AttemptOutcome::Refused => state.status = DeliveryStatus::Refused,
            outcome => {
                // Attempts of the current schedule only: a replay starts it again.
                let attempts =
                    usize::try_from(state.attempt_count - state.retry_base).unwrap_or(usize::MAX);
                match self.schedule.delay_for_attempt(attempts) {
                    Some(delay) => {
                        let asked = match outcome {
                            AttemptOutcome::Rejected {
                                retry_after: Some(asked),
                            } => (*asked).min(self.max_retry_after),
                            _ => Duration::ZERO,
                        };
                        let wait = with_jitter(delay, JITTER).max(asked);
                        state.status = DeliveryStatus::Pending;
                        state.next_attempt_at = Some(OffsetDateTime::now_utc() + wait);
                    }
                    None => state.status = DeliveryStatus::Failed,
                }
            }
        }
    }

    async fn rate_limited(&self, endpoint: &Endpoint) -> Option<Duration> {
        let limit = endpoint.rate_limit?;
        match self.queue.check_endpoint_rate(endpoint.id, limit).await {
            Ok(decision) if !decision.allowed => {
                Some(decision.retry_after.max(Duration::from_millis(10)))
            }
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(endpoint_id = %endpoint.id, %error, "endpoint rate limiter unavailable, sending anyway");
                None
            }
        }
    }
}

fn deferred_for(state: DeliveryState, deferral: Deferral) -> DeliveryResult {
    deferred(state, deferral.retry_in(), deferral.reason())
}

/// Not sent now: due again after `retry_in`, not counted as an attempt.
fn deferred(mut state: DeliveryState, retry_in: Duration, reason: &str) -> DeliveryResult {
    state.next_attempt_at = Some(OffsetDateTime::now_utc() + retry_in);
    state.last_error = Some(reason.to_owned());
    DeliveryResult {
        state,
        attempt: None,
        endpoint_succeeded: None,
    }
}

fn outcome_label(state: &DeliveryState, report: &AttemptReport) -> &'static str {
    match state.status {
        DeliveryStatus::Succeeded => "succeeded",
        DeliveryStatus::Refused => "refused",
        DeliveryStatus::Failed => "dead_lettered",
        DeliveryStatus::Pending => match report.outcome {
            AttemptOutcome::Timeout => "timeout_retry",
            _ => "failed_retry",
        },
    }
}
