//! Traffic for the resilience, isolation and fault tests: producers that post
//! events to the gateway as a client would and keep a ledger of which ones
//! were acknowledged (202) and when, a receiver check that verifies every
//! delivery's Standard Webhooks signature, and the checks that every
//! acknowledged event reached its receiver and that its delivery ended
//! `succeeded` in PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventflow_domain::{EndpointId, EndpointSecret, EventId};

use crate::{Received, TestGateway, WebhookSink};
use serde_json::{Value, json};
use tokio::task::JoinSet;

/// An event the gateway acknowledged, when it was first sent and when its
/// 202 came back.
#[derive(Debug, Clone)]
pub struct Acknowledged {
    pub id: String,
    pub sent_at: Instant,
    pub at: Instant,
}

/// Where events are posted, and what became of them.
#[derive(Clone)]
struct Target {
    client: reqwest::Client,
    gateway_url: String,
    key: String,
    /// How long one event is retried (with its idempotency key) before it
    /// counts as refused; `None` posts each event once, without a key.
    retry_for: Option<Duration>,
    /// Events sent at least once.
    sent: Arc<AtomicUsize>,
    acknowledged: Arc<Mutex<Vec<Acknowledged>>>,
    /// Why events were not acknowledged (they are not owed a delivery).
    refused: Arc<Mutex<Vec<String>>>,
}

fn order_created(n: usize) -> Value {
    json!({"type": "order.created", "payload": {"n": n}})
}

/// How long a retrying producer waits between two tries of one event.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

impl Target {
    /// Posts event `n` to `/v1/events`; a retrying target sends it again
    /// with the same idempotency key until it is acknowledged.
    async fn post(&self, n: usize) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let sent_at = Instant::now();
        let give_up = sent_at + self.retry_for.unwrap_or_default();
        let outcome = loop {
            let outcome = self.try_post(n, sent_at).await;
            if outcome.is_ok() || Instant::now() >= give_up {
                break outcome;
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        };
        match outcome {
            Ok(acknowledged) => lock(&self.acknowledged).push(acknowledged),
            Err(refused) => lock(&self.refused).push(refused),
        }
    }

    async fn try_post(&self, n: usize, sent_at: Instant) -> Result<Acknowledged, String> {
        let mut request = self
            .client
            .post(format!("{}/v1/events", self.gateway_url))
            .bearer_auth(&self.key)
            .timeout(Duration::from_secs(10))
            .json(&order_created(n));
        if self.retry_for.is_some() {
            request = request.header("idempotency-key", format!("ledger-{n}"));
        }
        match request.send().await {
            Ok(response) if response.status() == 202 => {
                let at = Instant::now();
                match response.json::<Value>().await {
                    Ok(body) => match body["id"].as_str() {
                        Some(id) => Ok(Acknowledged {
                            id: id.to_owned(),
                            sent_at,
                            at,
                        }),
                        None => Err(format!("202 without an id: {body}")),
                    },
                    Err(error) => Err(format!("unreadable 202: {error}")),
                }
            }
            Ok(response) => Err(format!("status {}", response.status())),
            Err(error) => Err(format!("request failed: {error}")),
        }
    }

    /// Posts events `numbers` in one request to `/v1/events/batch`.
    async fn post_batch(&self, numbers: std::ops::Range<usize>) {
        let count = numbers.len();
        self.sent.fetch_add(count, Ordering::Relaxed);
        let sent_at = Instant::now();
        let events: Vec<Value> = numbers.map(order_created).collect();
        let answer = self
            .client
            .post(format!("{}/v1/events/batch", self.gateway_url))
            .bearer_auth(&self.key)
            .json(&json!({ "events": events }))
            .send()
            .await;
        let body = match answer {
            Ok(response) if response.status() == 200 => response.json::<Value>().await,
            Ok(response) => {
                let refused = format!("batch status {}", response.status());
                lock(&self.refused).extend(std::iter::repeat_n(refused, count));
                return;
            }
            Err(error) => {
                let refused = format!("batch request failed: {error}");
                lock(&self.refused).extend(std::iter::repeat_n(refused, count));
                return;
            }
        };
        let at = Instant::now();
        let results = body
            .ok()
            .and_then(|body| body["results"].as_array().cloned())
            .unwrap_or_default();
        for result in &results {
            match (result["status"].as_u64(), result["id"].as_str()) {
                (Some(202), Some(id)) => lock(&self.acknowledged).push(Acknowledged {
                    id: id.to_owned(),
                    sent_at,
                    at,
                }),
                _ => lock(&self.refused).push(format!("batch item {result}")),
            }
        }
        if results.len() != count {
            lock(&self.refused).push(format!("batch answered {} of {count}", results.len()));
        }
    }
}

/// What a producer achieved.
#[derive(Debug)]
pub struct Posted {
    /// Events sent at least once.
    pub sent: usize,
    pub acknowledged: Vec<Acknowledged>,
    /// Why the others were not acknowledged.
    pub refused: Vec<String>,
}

/// Posts events in the background; every 202 is remembered with its time.
pub struct Producer {
    target: Target,
    total: usize,
    workers: JoinSet<()>,
}

impl Producer {
    fn target(gateway_url: String, key: &str, retry_for: Option<Duration>) -> Target {
        Target {
            client: reqwest::Client::new(),
            gateway_url,
            key: key.to_owned(),
            retry_for,
            sent: Arc::default(),
            acknowledged: Arc::default(),
            refused: Arc::default(),
        }
    }

    /// Posts `total` `order.created` events, `batch` per request (one per
    /// request to `/v1/events` when `batch` is 1), `concurrency` requests at
    /// a time, as fast as the gateway answers.
    pub fn flood(
        gateway: &TestGateway,
        key: &str,
        total: usize,
        batch: usize,
        concurrency: usize,
    ) -> Self {
        Self::spawn_workers(
            Self::target(gateway.url(""), key, None),
            total,
            batch,
            concurrency,
        )
    }

    /// Posts `total` `order.created` events one per request, `concurrency`
    /// at a time, to the gateway at `gateway_url` (`http://host:port`), as a
    /// careful client does: each with its own idempotency key, sent again
    /// (every 100 ms, for up to `retry_for`) until a 202 answers it, even
    /// across a gateway restart.
    pub fn retrying(
        gateway_url: &str,
        key: &str,
        total: usize,
        concurrency: usize,
        retry_for: Duration,
    ) -> Self {
        let target = Self::target(gateway_url.to_owned(), key, Some(retry_for));
        Self::spawn_workers(target, total, 1, concurrency)
    }

    fn spawn_workers(target: Target, total: usize, batch: usize, concurrency: usize) -> Self {
        let next = Arc::new(AtomicUsize::new(0));
        let mut workers = JoinSet::new();
        for _ in 0..concurrency {
            let (target, next) = (target.clone(), next.clone());
            workers.spawn(async move {
                loop {
                    let first = next.fetch_add(batch, Ordering::Relaxed);
                    if first >= total {
                        return;
                    }
                    match batch {
                        1 => target.post(first).await,
                        _ => target.post_batch(first..total.min(first + batch)).await,
                    }
                }
            });
        }
        Self {
            target,
            total,
            workers,
        }
    }

    /// Posts `total` `order.created` events, one every `every`, each without
    /// waiting for the answer to the previous one (a steady rate), with at
    /// most `MAX_PACED_IN_FLIGHT` requests open (a slow gateway slows the pace
    /// instead of opening ever more connections).
    pub fn paced(gateway: &TestGateway, key: &str, total: usize, every: Duration) -> Self {
        const MAX_PACED_IN_FLIGHT: usize = 32;
        let target = Self::target(gateway.url(""), key, None);
        let mut workers = JoinSet::new();
        let driver = target.clone();
        workers.spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let open = Arc::new(tokio::sync::Semaphore::new(MAX_PACED_IN_FLIGHT));
            let mut posts = JoinSet::new();
            for n in 0..total {
                ticks.tick().await;
                let slot = open.clone().acquire_owned().await.expect("never closed");
                let target = driver.clone();
                posts.spawn(async move {
                    target.post(n).await;
                    drop(slot);
                });
            }
            while let Some(posted) = posts.join_next().await {
                posted.expect("a post does not panic");
            }
        });
        Self {
            target,
            total,
            workers,
        }
    }

    /// How many events were acknowledged so far.
    pub fn acknowledged(&self) -> usize {
        lock(&self.target.acknowledged).len()
    }

    /// Waits until every event was posted; returns what was acknowledged. An
    /// overloaded gateway may turn a few away (408, 503: not acknowledged, so
    /// not owed), but it must take nearly all of them for the test to mean
    /// something.
    pub async fn finish(mut self) -> Posted {
        while let Some(worker) = self.workers.join_next().await {
            worker.expect("a producer does not panic");
        }
        let posted = Posted {
            sent: self.target.sent.load(Ordering::Relaxed),
            acknowledged: std::mem::take(&mut *lock(&self.target.acknowledged)),
            refused: std::mem::take(&mut *lock(&self.target.refused)),
        };
        assert!(
            posted.acknowledged.len() * 10 >= self.total * 9,
            "the gateway acknowledged only {} of {} events: {:?}",
            posted.acknowledged.len(),
            self.total,
            &posted.refused[..posted.refused.len().min(5)]
        );
        posted
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
    // Each look copies every request the sink holds: not too often.
    let every = Duration::from_millis(200);
    crate::poll(within, every, || async {
        let tally = tally(&sink.received(), acknowledged);
        tally.missing.is_empty().then_some(tally)
    })
    .await
    .unwrap_or_else(|| tally(&sink.received(), acknowledged))
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
    let client = gateway.db.client().await;
    let row = client
        .query_one(
            "SELECT count(*), \
                    count(*) FILTER (WHERE status = 'succeeded'), \
                    count(*) FILTER (WHERE status = 'pending'), \
                    count(*) FILTER (WHERE status = 'failed') \
             FROM deliveries WHERE endpoint_id = $1",
            &[&endpoint.uuid()],
        )
        .await
        .expect("count deliveries");
    DeliveryCounts {
        total: row.get(0),
        succeeded: row.get(1),
        pending: row.get(2),
        failed: row.get(3),
    }
}

/// Runs a query returning one count.
pub async fn count(gateway: &TestGateway, sql: &str) -> i64 {
    gateway.db.count(sql).await
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
    let every = Duration::from_millis(100);
    let settled = crate::poll(within, every, || async {
        let counts = delivery_counts(gateway, endpoint).await;
        (counts.total == expected && counts.succeeded == expected).then_some(counts)
    })
    .await;
    match settled {
        Some(counts) => counts,
        None => delivery_counts(gateway, endpoint).await,
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
    if !tally.missing.is_empty() {
        let states = missing_states(gateway, &tally.missing).await;
        panic!(
            "{} of {} acknowledged events never arrived; their deliveries: {states}",
            tally.missing.len(),
            acknowledged.len(),
        );
    }
    let counts = wait_until_succeeded(gateway, endpoint, acknowledged.len(), within).await;
    assert_eq!(
        (counts.total, counts.succeeded),
        (acknowledged.len() as i64, acknowledged.len() as i64),
        "every acknowledged event has one delivery and it succeeded: {counts:?}"
    );
    tally
}

/// Where the deliveries of events that never arrived stand, for a failure
/// message: how many by status and last error, and a few in full.
async fn missing_states(gateway: &TestGateway, missing: &[String]) -> String {
    let ids: Vec<uuid::Uuid> = missing
        .iter()
        .map(|id| EventId::parse(id).expect("an event id").uuid())
        .collect();
    let client = gateway.db.client().await;
    let rows = client
        .query(
            "SELECT status, coalesce(last_error, '-'), count(*), \
                    min(extract(epoch FROM next_attempt_at - now()))::float8, \
                    max(attempt_count) \
             FROM deliveries WHERE event_id = ANY($1) GROUP BY 1, 2",
            &[&ids],
        )
        .await
        .expect("delivery states");
    let recorded: i64 = rows.iter().map(|row| row.get::<_, i64>(2)).sum();
    let groups: Vec<String> = rows
        .iter()
        .map(|row| {
            format!(
                "{} x {} ({}), due in {:?} s, attempts <= {}",
                row.get::<_, i64>(2),
                row.get::<_, String>(0),
                row.get::<_, String>(1),
                row.get::<_, Option<f64>>(3),
                row.get::<_, i32>(4),
            )
        })
        .collect();
    format!(
        "{} without a delivery row; {}; e.g. {:?}",
        missing.len() as i64 - recorded,
        groups.join("; "),
        &missing[..missing.len().min(3)]
    )
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

/// The deliveries among `received` whose Standard Webhooks signature does not
/// verify under `secret`, as a receiver checks it (`webhook-id`,
/// `webhook-timestamp` and `webhook-signature` over the exact body), each
/// with the reason.
pub fn unverified(received: &[Received], secret: &EndpointSecret) -> Vec<String> {
    received
        .iter()
        .filter_map(|request| {
            let id = request.header("webhook-id")?;
            let verified = request
                .header("webhook-timestamp")
                .and_then(|timestamp| timestamp.parse::<i64>().ok())
                .zip(request.header("webhook-signature"))
                .is_some_and(|(timestamp, signature)| {
                    eventflow_domain::signing::verify(
                        secret,
                        id,
                        timestamp,
                        request.body.as_bytes(),
                        signature,
                    )
                });
            (!verified).then(|| format!("{id}: signature does not verify"))
        })
        .chain(
            received
                .iter()
                .filter(|request| request.header("webhook-id").is_none())
                .map(|request| format!("a request to {} without a webhook-id", request.path)),
        )
        .collect()
}

/// The ledger of a fault scenario: what producers sent, what the gateway
/// acknowledged, what the verifying receiver got, and the end-to-end latency
/// (first send to first arrival) of what arrived.
#[derive(Debug, Clone)]
pub struct LedgerReport {
    pub scenario: String,
    pub sent: usize,
    pub acknowledged: usize,
    /// Acknowledged events that arrived at least once.
    pub delivered: usize,
    /// Requests beyond the first for the same `webhook-id`.
    pub duplicates: usize,
    /// Acknowledged events that never arrived.
    pub lost: Vec<String>,
    /// Deliveries whose signature did not verify.
    pub unverified: Vec<String>,
    pub p50: Duration,
    pub p99: Duration,
}

impl LedgerReport {
    /// Reconciles the ledger with what the receiver got.
    pub fn new(
        scenario: &str,
        sent: usize,
        acknowledged: &[Acknowledged],
        received: &[Received],
        secret: &EndpointSecret,
    ) -> Self {
        let tally = tally(received, acknowledged);
        let latencies: Vec<Duration> = acknowledged
            .iter()
            .filter_map(|event| {
                let arrived = tally.first_arrival.get(&event.id)?;
                Some(arrived.saturating_duration_since(event.sent_at))
            })
            .collect();
        Self {
            scenario: scenario.to_owned(),
            sent,
            acknowledged: acknowledged.len(),
            delivered: latencies.len(),
            duplicates: tally.duplicates,
            lost: tally.missing,
            unverified: unverified(received, secret),
            p50: quantile(&latencies, 0.50),
            p99: quantile(&latencies, 0.99),
        }
    }

    /// Prints the ledger line the fault tests show (`--nocapture`, or nextest's output of a failure).
    pub fn print(&self) {
        println!("{self}");
    }

    /// Fails the test if an acknowledged event was lost or a delivery did not verify.
    pub fn assert_nothing_lost(&self) {
        assert!(
            self.lost.is_empty(),
            "{self}\n{} acknowledged events were lost, e.g. {:?}",
            self.lost.len(),
            &self.lost[..self.lost.len().min(5)]
        );
        assert!(
            self.unverified.is_empty(),
            "{self}\n{} deliveries failed signature verification, e.g. {:?}",
            self.unverified.len(),
            &self.unverified[..self.unverified.len().min(5)]
        );
    }
}

impl std::fmt::Display for LedgerReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{}] sent {}, acknowledged {}, delivered (unique) {}, duplicates {}, lost {}, \
             unverified {}, end-to-end p50 {:?} p99 {:?}",
            self.scenario,
            self.sent,
            self.acknowledged,
            self.delivered,
            self.duplicates,
            self.lost.len(),
            self.unverified.len(),
            self.p50,
            self.p99
        )
    }
}

/// Waits until `sink` received every acknowledged event (or `within` passed),
/// then reconciles, prints and checks the ledger: nothing lost, every
/// delivery verified under `secret`.
pub async fn settle_ledger(
    scenario: &str,
    posted: &Posted,
    sink: &WebhookSink,
    secret: &EndpointSecret,
    within: Duration,
) -> LedgerReport {
    wait_until_received(sink, &posted.acknowledged, within).await;
    let report = LedgerReport::new(
        scenario,
        posted.sent,
        &posted.acknowledged,
        &sink.received(),
        secret,
    );
    report.print();
    report.assert_nothing_lost();
    report
}
