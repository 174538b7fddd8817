//! Bounds how many scans (event and delivery searches, statistics series) run
//! at once, so that point reads never queue behind them.
//!
//! A scan costs PostgreSQL tens of times what reading one event by id does.
//! Left unbounded, a burst of searches fills the pool and the CPU, and the
//! event a user just clicked waits behind all of them. Scans past the bound
//! wait here, holding no connection; point reads (one event, one delivery,
//! one endpoint) do not pass through the gate.

use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::ApiError;

/// Admits at most `max_concurrent_scans` scans; the rest wait their turn.
#[derive(Debug)]
pub(crate) struct ScanGate {
    permits: Semaphore,
    /// How long a scan may wait for its turn before the request gets a 503.
    max_wait: Duration,
}

impl ScanGate {
    /// A gate of `max_concurrent` scans; 0 means twice the CPUs this process may use.
    pub fn new(max_concurrent: usize, max_wait: Duration) -> Self {
        let permits = if max_concurrent == 0 {
            2 * std::thread::available_parallelism().map_or(2, usize::from)
        } else {
            max_concurrent
        };
        Self {
            permits: Semaphore::new(permits),
            max_wait,
        }
    }

    /// Waits for a scan's turn; the scan runs while the permit is held.
    pub async fn enter(&self) -> Result<SemaphorePermit<'_>, ApiError> {
        match tokio::time::timeout(self.max_wait, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; a timeout is the only way here.
            Ok(Err(_)) | Err(_) => Err(ApiError::Busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_scan_past_the_bound_waits_for_a_turn_and_then_runs() {
        let gate = ScanGate::new(1, Duration::from_secs(5));
        let first = gate.enter().await.expect("the first scan enters at once");
        let mut second = std::pin::pin!(gate.enter());
        // One poll: a scan that could enter would be ready at once.
        let polled =
            std::future::poll_fn(|cx| std::task::Poll::Ready(second.as_mut().poll(cx))).await;
        assert!(
            polled.is_pending(),
            "the second scan waits while the first runs"
        );
        drop(first);
        assert!(second.await.is_ok());
    }

    #[tokio::test]
    async fn a_scan_that_waits_too_long_is_refused_as_busy() {
        let gate = ScanGate::new(1, Duration::from_millis(20));
        let _first = gate.enter().await.expect("the first scan enters at once");
        let refused = gate.enter().await.expect_err("no turn within 20 ms");
        assert!(matches!(refused, ApiError::Busy));
    }

    #[test]
    fn a_refused_scan_answers_503_problem_json_with_retry_after() {
        use actix_web::ResponseError;

        let response = ApiError::Busy.error_response();
        assert_eq!(response.status().as_u16(), 503);
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok());
        assert_eq!(header("retry-after"), Some("1"));
        assert_eq!(header("content-type"), Some("application/problem+json"));
    }

    #[test]
    fn zero_means_twice_the_cpus() {
        let gate = ScanGate::new(0, Duration::from_secs(1));
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        assert_eq!(gate.permits.available_permits(), 2 * cpus);
    }
}
