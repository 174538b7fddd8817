//! Two gateways and two dispatchers on one PostgreSQL and one Redis (one
//! deployment: the same database and key prefix), each gateway taking a
//! project's traffic: every acknowledged event is delivered, by either
//! dispatcher, and both dispatchers do part of the work.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fred::prelude::*;

use eventflow_queue::DISPATCH_GROUP;
use eventflow_test_support::traffic::{Producer, delivery_counts, settle_ledger};
use eventflow_test_support::{
    RunningService, Scene, ServiceApplication, WebhookSink, gateway_config, redis_url,
};
use ingest_gateway::Application;

const EVENTS: usize = 600;

/// A second gateway on the harness's database and Redis prefix.
async fn second_gateway(scene: &Scene) -> RunningService {
    let mut config = gateway_config(scene.gateway.db.url());
    config.service.redis_key_prefix = scene.gateway.redis_prefix.clone();
    let app = Application::build(config)
        .await
        .expect("the second gateway starts");
    RunningService::run(app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_and_two_dispatchers_on_one_database_deliver_every_acknowledged_event() {
    let scene = Scene::start().await;
    let gateway_b = second_gateway(&scene).await;
    // A second project, whose producer posts to the second gateway.
    let sink_b = WebhookSink::start().await;
    let (project_b, key_b) = scene.gateway.create_project_with_key("ingest").await;
    let endpoint_b = scene
        .gateway
        .create_endpoint(project_b, &sink_b.url("/hooks"), &["*"])
        .await;
    // A claim timeout no healthy delivery comes near: an entry taken over
    // from a live dispatcher would be sent twice.
    let dispatcher_a = scene
        .gateway
        .spawn_dispatcher_with(|config| {
            config.consumer_name = "dispatcher-a".to_owned();
            config.claim_timeout = Duration::from_secs(10);
        })
        .await;
    let dispatcher_b = scene
        .gateway
        .spawn_dispatcher_with(|config| {
            config.consumer_name = "dispatcher-b".to_owned();
            config.claim_timeout = Duration::from_secs(10);
        })
        .await;

    let retry = Duration::from_secs(30);
    let producer_a = Producer::retrying(&scene.gateway.url(""), &scene.key, EVENTS, 4, retry);
    let producer_b = Producer::retrying(&gateway_b.url(""), &key_b, EVENTS, 4, retry);
    let seen = seen_pending_by_consumer(&scene, Duration::from_secs(60)).await;
    let (posted_a, posted_b) = (producer_a.finish().await, producer_b.finish().await);

    let within = Duration::from_secs(60);
    let a = settle_ledger(
        "two gateways, two dispatchers: via gateway a",
        &posted_a,
        &scene.sink,
        &scene.endpoint.secret,
        within,
    )
    .await;
    let b = settle_ledger(
        "two gateways, two dispatchers: via gateway b",
        &posted_b,
        &sink_b,
        &endpoint_b.secret,
        within,
    )
    .await;
    assert_eq!(a.acknowledged + b.acknowledged, 2 * EVENTS);
    for endpoint in [scene.endpoint.id, endpoint_b.id] {
        let counts = delivery_counts(&scene.gateway, endpoint).await;
        assert_eq!(
            counts.succeeded, EVENTS as i64,
            "one delivery per event: {counts:?}"
        );
    }
    println!("most stream entries seen pending at once, by dispatcher: {seen:?}");
    assert!(
        seen.get("dispatcher-a").is_some_and(|n| *n > 0)
            && seen.get("dispatcher-b").is_some_and(|n| *n > 0),
        "both dispatchers took entries from the stream: {seen:?}"
    );
    dispatcher_a.shutdown().await.unwrap();
    dispatcher_b.shutdown().await.unwrap();
    gateway_b.shutdown().await.unwrap();
}

/// `XPENDING <stream> <group>`: count, first and last id, and per consumer its count.
type PendingSummary = (u64, Value, Value, Vec<(String, String)>);

/// Samples the group's pending entries per consumer (`XPENDING` summary)
/// until both sinks got every event or `within` passed; returns the most
/// seen at once for each consumer (an entry is pending from its read until
/// its deliveries are recorded).
async fn seen_pending_by_consumer(scene: &Scene, within: Duration) -> HashMap<String, u64> {
    let redis = Client::new(Config::from_url(&redis_url()).unwrap(), None, None, None);
    redis.init().await.unwrap();
    let stream = scene.gateway.queue.keys().event_stream();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let deadline = Instant::now() + within;
    while Instant::now() < deadline && scene.sink.received().len() < EVENTS {
        let summary: Result<PendingSummary, _> = redis.xpending(&stream, DISPATCH_GROUP, ()).await;
        if let Ok((_, _, _, consumers)) = summary {
            for (consumer, pending) in consumers {
                let pending: u64 = pending.parse().unwrap_or(0);
                let most = seen.entry(consumer).or_default();
                *most = (*most).max(pending);
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen
}
