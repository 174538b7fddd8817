//! Waiting for a condition, the one way tests wait: poll it until it holds,
//! with a deadline, and name what was awaited when it never does. Tests
//! never sleep a fixed time to let something happen.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How long a test waits for something that should happen promptly.
pub const WITHIN: Duration = Duration::from_secs(10);

/// How often a condition is checked again.
const EVERY: Duration = Duration::from_millis(20);

/// What a checked condition gives back: `true`, or `Some(value)`, once it holds.
pub trait Outcome {
    type Value;
    fn held(self) -> Option<Self::Value>;
}

impl Outcome for bool {
    type Value = ();
    fn held(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Outcome for Option<T> {
    type Value = T;
    fn held(self) -> Option<T> {
        self
    }
}

/// Checks `check` until it holds and returns its value; panics naming `what`
/// once `within` has passed.
pub async fn eventually<O, F, Fut>(what: &str, within: Duration, check: F) -> O::Value
where
    O: Outcome,
    F: FnMut() -> Fut,
    Fut: Future<Output = O>,
{
    match poll(within, EVERY, check).await {
        Some(value) => value,
        None => panic!("gave up after {within:?} waiting for {what}"),
    }
}

/// Checks `check` every `every` until it holds and returns its value, or
/// `None` once `within` has passed (for a caller that reports what it found
/// instead of a plain timeout; [`eventually`] otherwise).
pub async fn poll<O, F, Fut>(within: Duration, every: Duration, mut check: F) -> Option<O::Value>
where
    O: Outcome,
    F: FnMut() -> Fut,
    Fut: Future<Output = O>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await.held() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}
