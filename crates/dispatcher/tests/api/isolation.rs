//! One slow or dead endpoint never delays the others.

use std::time::{Duration, Instant};

use eventflow_test_support::traffic::{
    Acknowledged, DeliveryCounts, Producer, count, delivery_counts, quantile, settle_ledger,
    wait_until_received,
};
use eventflow_test_support::{TestGateway, WITHIN, WebhookSink, eventually, spawn_gateway};

/// Events per phase, and the steady rate they are sent at (200 in ~2 s).
const EVENTS: usize = 200;
const EVERY: Duration = Duration::from_millis(10);
/// The p99 a live endpoint's delivery latency must stay under.
const P99_BOUND: Duration = Duration::from_millis(500);

/// Sends a phase of events and returns each acknowledged event's live
/// delivery latency: from the 202 to the sink receiving the request (zero
/// when it arrived first).
async fn live_latencies(gateway: &TestGateway, key: &str, live: &WebhookSink) -> Vec<Duration> {
    let acknowledged: Vec<Acknowledged> = Producer::paced(gateway, key, EVENTS, EVERY)
        .finish()
        .await
        .acknowledged;
    let tally = wait_until_received(live, &acknowledged, Duration::from_secs(15)).await;
    assert!(
        tally.missing.is_empty(),
        "{} live deliveries never arrived",
        tally.missing.len()
    );
    acknowledged
        .iter()
        .map(|event| tally.first_arrival[&event.id].saturating_duration_since(event.at))
        .collect()
}

/// A loopback address nothing listens on: connections are refused at once.
async fn refused_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/hooks")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_does_not_raise_a_live_endpoints_latency() {
    let gateway = spawn_gateway().await;
    let _dispatcher = gateway
        .spawn_dispatcher_with(|config| {
            config.delivery_timeout = Duration::from_secs(1);
            config.claim_timeout = Duration::from_secs(2);
        })
        .await;

    // Baseline: a project with only a live endpoint.
    let baseline_sink = WebhookSink::start().await;
    let (baseline_project, baseline_key) = gateway.create_project_with_key("ingest").await;
    gateway
        .create_endpoint(baseline_project, &baseline_sink.url("/hooks"), &["*"])
        .await;
    let baseline = live_latencies(&gateway, &baseline_key, &baseline_sink).await;

    // The same traffic to a project whose events also go to an endpoint that
    // never answers within the timeout, and to one that refuses connections.
    let live = WebhookSink::start().await;
    let hanging = WebhookSink::start().await;
    hanging.delay(Duration::from_secs(30));
    let (project, key) = gateway.create_project_with_key("ingest").await;
    gateway
        .create_endpoint(project, &live.url("/hooks"), &["*"])
        .await;
    let hanging_endpoint = gateway
        .create_endpoint(project, &hanging.url("/hooks"), &["*"])
        .await;
    let refusing_endpoint = gateway
        .create_endpoint(project, &refused_url().await, &["*"])
        .await;
    let started = Instant::now();
    let with_dead = live_latencies(&gateway, &key, &live).await;
    let live_done_in = started.elapsed();

    // The dead endpoints' deliveries are all recorded, none succeeded: they
    // were attempted and are retrying or deferred (circuit open, saturated).
    let mut dead: Vec<DeliveryCounts> = Vec::new();
    for endpoint in [hanging_endpoint.id, refusing_endpoint.id] {
        let counts = eventually(
            "every delivery to a dead endpoint recorded",
            WITHIN,
            || async {
                let counts = delivery_counts(&gateway, endpoint).await;
                (counts.total >= with_dead.len() as i64).then_some(counts)
            },
        )
        .await;
        dead.push(counts);
    }
    let attempts_to_dead = count(
        &gateway,
        &format!(
            "SELECT count(*) FROM attempts WHERE endpoint_id IN ('{}', '{}')",
            hanging_endpoint.id.uuid(),
            refusing_endpoint.id.uuid()
        ),
    )
    .await;
    // The same attempt of a delivery made twice: it was sent again while the
    // first send was still waiting for the endpoint (a lease or claim ran out).
    let attempts_made_twice = count(
        &gateway,
        "SELECT count(*) FROM (SELECT delivery_id, attempt_number FROM attempts \
         GROUP BY 1, 2 HAVING count(*) > 1) twice",
    )
    .await;

    let (baseline_p50, baseline_p99) = (quantile(&baseline, 0.5), quantile(&baseline, 0.99));
    let (p50, p99, max) = (
        quantile(&with_dead, 0.5),
        quantile(&with_dead, 0.99),
        quantile(&with_dead, 1.0),
    );
    println!(
        "isolation: live latency alone p50 {baseline_p50:?} p99 {baseline_p99:?}; \
         beside dead endpoints p50 {p50:?} p99 {p99:?} max {max:?} (all live in {live_done_in:?}); \
         hanging {:?}, refusing {:?}, {attempts_to_dead} attempts to the dead endpoints, \
         {attempts_made_twice} made twice",
        dead[0], dead[1]
    );
    assert!(
        p99 < P99_BOUND,
        "the live endpoint's p99 latency {p99:?} exceeds {P99_BOUND:?} beside dead endpoints \
         (alone: {baseline_p99:?})"
    );
    for counts in &dead {
        assert_eq!(
            counts.total,
            with_dead.len() as i64,
            "every dead delivery is recorded"
        );
        assert_eq!(counts.succeeded, 0, "nothing reached a dead endpoint");
        assert_eq!(counts.pending + counts.failed, counts.total);
    }
    assert!(attempts_to_dead > 0, "the dead endpoints were tried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_endpoint_answering_in_10_s_leaves_nine_healthy_ones_their_latency() {
    const HEALTHY: usize = 9;
    const SLOW_ANSWER: Duration = Duration::from_secs(10);
    const HEALTHY_P99_BOUND: Duration = Duration::from_secs(1);
    let gateway = spawn_gateway().await;
    // A timeout above the slow answer: the slow endpoint really holds each
    // request for 10 s and then succeeds; it never fails.
    let _dispatcher = gateway
        .spawn_dispatcher_with(|config| {
            config.delivery_timeout = Duration::from_secs(15);
            config.claim_timeout = Duration::from_secs(40);
        })
        .await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let slow = WebhookSink::start().await;
    slow.delay(SLOW_ANSWER);
    gateway
        .create_endpoint(project, &slow.url("/hooks"), &["*"])
        .await;
    let mut healthy = Vec::new();
    for _ in 0..HEALTHY {
        let sink = WebhookSink::start().await;
        let endpoint = gateway
            .create_endpoint(project, &sink.url("/hooks"), &["*"])
            .await;
        healthy.push((sink, endpoint));
    }

    let posted = Producer::paced(&gateway, &key, 150, Duration::from_millis(20))
        .finish()
        .await;
    let mut worst_p99 = Duration::ZERO;
    for (n, (sink, endpoint)) in healthy.iter().enumerate() {
        let report = settle_ledger(
            &format!("healthy endpoint {n} beside one answering in 10 s"),
            &posted,
            sink,
            &endpoint.secret,
            Duration::from_secs(30),
        )
        .await;
        worst_p99 = worst_p99.max(report.p99);
    }
    let slow_received = slow.received().len();
    println!("slow endpoint: {slow_received} requests received; worst healthy p99 {worst_p99:?}");
    assert!(slow_received > 0, "the slow endpoint was sent deliveries");
    assert!(
        worst_p99 < HEALTHY_P99_BOUND,
        "a healthy endpoint's p99 {worst_p99:?} exceeds {HEALTHY_P99_BOUND:?} beside a 10 s one"
    );
}
