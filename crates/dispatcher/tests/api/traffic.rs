//! Traffic for the resilience and isolation tests: producers that post events
//! to the gateway as a client would and remember which ones were acknowledged
//! (202) and when, and the checks that every acknowledged event reached its
//! receiver and that its delivery ended `succeeded` in PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventflow_domain::EndpointId;
use eventflow_test_support::{Received, TestGateway, WebhookSink};
use serde_json::{Value, json};
use tokio::task::JoinSet;

/// An event the gateway acknowledged, and when its 202 came back.
#[derive(Debug, Clone)]
pub struct Acknowledged {
    pub id: String,
    pub at: Instant,
}

/// Where events are posted, and what became of them.
#[derive(Clone)]
struct Target {
    client: reqwest::Client,
    url: String,
    key: String,
    acknowledged: Arc<Mutex<Vec<Acknowledged>>>,
    /// Answers other than 202 (those events are not owed a delivery).
    refused: Arc<Mutex<Vec<String>>>,
}

impl Target {
    async fn post(&self, n: usize) {
        let body = json!({"type": "order.created", "payload": {"n": n}});
        let answer = self
            .client
            .post(&self.url)
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await;
        let outcome = match answer {
            Ok(response) if response.status() == 202 => {
                let at = Instant::now();
                match response.json::<Value>().await {
                    Ok(body) => match body["id"].as_str() {
                        Some(id) => Ok(Acknowledged {
                            id: id.to_owned(),
                            at,
                        }),
                        None => Err(format!("202 without an id: {body}")),
                    },
                    Err(error) => Err(format!("unreadable 202: {error}")),
                }
            }
            Ok(response) => Err(format!("status {}", response.status())),
            Err(error) => Err(format!("request failed: {error}")),
        };
        match outcome {
            Ok(acknowledged) => lock(&self.acknowledged).push(acknowledged),
            Err(refused) => lock(&self.refused).push(refused),
        }
    }
}

/// Posts events in the background; every 202 is remembered with its time.
pub struct Producer {
    target: Target,
    workers: JoinSet<()>,
}

impl Producer {
    fn target(gateway: &TestGateway, key: &str) -> Target {
        Target {
            client: reqwest::Client::new(),
            url: gateway.url("/v1/events"),
            key: key.to_owned(),
            acknowledged: Arc::default(),
            refused: Arc::default(),
        }
    }

    /// Posts `total` `order.created` events, `concurrency` requests at a time,
    /// as fast as the gateway answers.
    pub fn flood(gateway: &TestGateway, key: &str, total: usize, concurrency: usize) -> Self {
        let target = Self::target(gateway, key);
        let next = Arc::new(AtomicUsize::new(0));
        let mut workers = JoinSet::new();
        for _ in 0..concurrency {
            let (target, next) = (target.clone(), next.clone());
            workers.spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        return;
                    }
                    target.post(n).await;
                }
            });
        }
        Self { target, workers }
    }

    /// Posts `total` `order.created` events, one every `every`, each without
    /// waiting for the answer to the previous one (a steady rate).
    pub fn paced(gateway: &TestGateway, key: &str, total: usize, every: Duration) -> Self {
        let target = Self::target(gateway, key);
        let mut workers = JoinSet::new();
        let driver = target.clone();
        workers.spawn(async move {
            let mut ticks = tokio::time::interval(every);
            let mut posts = JoinSet::new();
            for n in 0..total {
                ticks.tick().await;
                let target = driver.clone();
                posts.spawn(async move { target.post(n).await });
            }
            while let Some(posted) = posts.join_next().await {
                posted.expect("a post does not panic");
            }
        });
        Self { target, workers }
    }

    /// How many events were acknowledged so far.
    pub fn acknowledged(&self) -> usize {
        lock(&self.target.acknowledged).len()
    }

    /// Waits until every event was posted; returns the acknowledged ones.
    /// The gateway is healthy in these tests, so it must have taken them all.
    pub async fn finish(mut self) -> Vec<Acknowledged> {
        while let Some(worker) = self.workers.join_next().await {
            worker.expect("a producer does not panic");
        }
        let refused = lock(&self.target.refused).clone();
        assert!(
            refused.is_empty(),
            "the gateway refused {} events: {:?}",
            refused.len(),
            &refused[..refused.len().min(5)]
        );
        std::mem::take(&mut *lock(&self.target.acknowledged))
    }
}

/// What a receiver got of a set of acknowledged events.
#[derive(Debug)]
pub struct Tally {
    /// Acknowledged events that never arrived.
    pub missing: Vec<String>,
    /// Requests beyond the first for the same `webhook-id` (allowed: at least once).
    pub duplicates: usize,
    /// Requests received in all.
    pub requests: usize,
    /// The first arrival of each `webhook-id`.
    pub first_arrival: HashMap<String, Instant>,
}

/// Counts what `received` holds of `acknowledged`.
pub fn tally(received: &[Received], acknowledged: &[Acknowledged]) -> Tally {
    let mut first_arrival: HashMap<String, Instant> = HashMap::new();
    let mut duplicates = 0;
    for request in received {
        let id = request
            .header("webhook-id")
            .expect("every delivery carries a webhook-id")
            .to_owned();
        match first_arrival.get_mut(&id) {
            Some(first) => {
                duplicates += 1;
                *first = (*first).min(request.at);
            }
            None => {
                first_arrival.insert(id, request.at);
            }
        }
    }
    let missing = acknowledged
        .iter()
        .filter(|event| !first_arrival.contains_key(&event.id))
        .map(|event| event.id.clone())
        .collect();
    Tally {
        missing,
        duplicates,
        requests: received.len(),
        first_arrival,
    }
}

/// Waits until `sink` has received every one of `acknowledged` (by
/// `webhook-id`) or `within` has passed, and returns the tally.
pub async fn wait_until_received(
    sink: &WebhookSink,
    acknowledged: &[Acknowledged],
    within: Duration,
) -> Tally {
    let deadline = Instant::now() + within;
    loop {
        let tally = tally(&sink.received(), acknowledged);
        if tally.missing.is_empty() || Instant::now() >= deadline {
            return tally;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How the deliveries of one endpoint stand in PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub total: i64,
    pub succeeded: i64,
    pub pending: i64,
    pub failed: i64,
}

/// Counts the endpoint's deliveries by status.
pub async fn delivery_counts(gateway: &TestGateway, endpoint: EndpointId) -> DeliveryCounts {
    let count = |filter: &str| {
        format!(
            "SELECT count(*) FROM deliveries WHERE endpoint_id = '{}'{filter}",
            endpoint.uuid()
        )
    };
    DeliveryCounts {
        total: gateway.db.count(&count("")).await,
        succeeded: gateway.db.count(&count(" AND status = 'succeeded'")).await,
        pending: gateway.db.count(&count(" AND status = 'pending'")).await,
        failed: gateway.db.count(&count(" AND status = 'failed'")).await,
    }
}

/// Waits until the endpoint has exactly `expected` deliveries, all
/// succeeded, or `within` has passed; returns the last counts.
pub async fn wait_until_succeeded(
    gateway: &TestGateway,
    endpoint: EndpointId,
    expected: usize,
    within: Duration,
) -> DeliveryCounts {
    let expected = i64::try_from(expected).expect("a small count");
    let deadline = Instant::now() + within;
    loop {
        let counts = delivery_counts(gateway, endpoint).await;
        if (counts.total == expected && counts.succeeded == expected) || Instant::now() >= deadline
        {
            return counts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts that nothing acknowledged was lost: every event arrived at least
/// once and its one delivery ended `succeeded`. Returns the tally.
pub async fn assert_all_delivered(
    gateway: &TestGateway,
    sink: &WebhookSink,
    endpoint: EndpointId,
    acknowledged: &[Acknowledged],
    within: Duration,
) -> Tally {
    let unique: HashSet<&str> = acknowledged.iter().map(|event| event.id.as_str()).collect();
    assert_eq!(unique.len(), acknowledged.len(), "event ids are unique");
    let tally = wait_until_received(sink, acknowledged, within).await;
    assert!(
        tally.missing.is_empty(),
        "{} of {} acknowledged events never arrived, e.g. {:?}",
        tally.missing.len(),
        acknowledged.len(),
        &tally.missing[..tally.missing.len().min(5)]
    );
    let counts = wait_until_succeeded(gateway, endpoint, acknowledged.len(), within).await;
    assert_eq!(
        (counts.total, counts.succeeded),
        (acknowledged.len() as i64, acknowledged.len() as i64),
        "every acknowledged event has one delivery and it succeeded: {counts:?}"
    );
    tally
}

/// The `q` quantile (0..=1) of `samples`, by nearest rank.
pub fn quantile(samples: &[Duration], q: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
