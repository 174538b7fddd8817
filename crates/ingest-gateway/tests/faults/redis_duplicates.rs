//! A short Redis outage during ingest must not multiply deliveries.
//!
//! Found by the data-lifecycle test (docs/runbooks/redis.md): after Redis was
//! out of reach for ~2 s, each event acknowledged during the outage reached
//! the receiver about 9 times. Delivery is at least once, so a duplicate is
//! allowed, but only a bounded one: an event reaches the stream twice at most
//! when Redis applied the gateway's append but its reply was lost (the event
//! also goes to the outbox and is relayed). The dispatcher then delivers it at
//! most twice. So every acknowledged event must arrive, none more than twice,
//! whatever the outage's length and however often the outbox relay retried.

use std::collections::HashMap;
use std::time::Duration;

use eventflow_test_support::traffic::{Producer, count, settle_ledger};
use eventflow_test_support::{
    Scene, TcpProxy, TestDatabase, eventually, gateway_config, spawn_gateway_on,
};

use crate::outages::redis_addr;

/// Most successful deliveries one event may get (see the module comment).
const MAX_DELIVERIES_PER_EVENT: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_redis_outage_delivers_each_event_at_most_twice() {
    let proxy = TcpProxy::start(redis_addr()).await;
    let through_proxy = format!("redis://{}", proxy.addr());
    let db = TestDatabase::create().await;
    let mut config = gateway_config(db.url());
    config.service.redis_url = through_proxy.clone();
    // As in the lifecycle test: the relay retries several times during the outage.
    config.outbox_relay_interval = Duration::from_millis(200);
    config.service.redis_timeout = Duration::from_millis(500);
    let gateway = spawn_gateway_on(db, config, |_| {}).await;
    let scene = Scene::on(gateway).await;
    let _dispatcher = scene
        .gateway
        .spawn_dispatcher_with(|config| {
            config.service.redis_url = through_proxy;
            config.service.redis_timeout = Duration::from_millis(500);
        })
        .await;

    // 20 events a second, before, during and after the outage.
    let producer = Producer::paced(&scene.gateway, &scene.key, 160, Duration::from_millis(50));
    scene.sink.wait_for(20, Duration::from_secs(20)).await;
    proxy.cut().await;
    let acknowledged_at_cut = producer.acknowledged();
    // The outage lasts until 20 more events were acknowledged (about 1 s at
    // this pace, longer on a busy machine) and the relay has tried a few times.
    eventually(
        "events are acknowledged while Redis is out of reach",
        Duration::from_secs(30),
        || async { producer.acknowledged() >= acknowledged_at_cut + 20 },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await; // let the outbox relay retry ~5 more times
    let acknowledged_during = producer.acknowledged() - acknowledged_at_cut;
    proxy.restore();

    let posted = producer.finish().await;
    let report = settle_ledger(
        "redis unreachable during ingest",
        &posted,
        &scene.sink,
        &scene.endpoint.secret,
        Duration::from_secs(60),
    )
    .await;
    // Late duplicates arrive after the first copies: count once every stream
    // entry was handled, the outbox is empty and no delivery is left to retry.
    eventually(
        "the dispatcher has nothing left to do",
        Duration::from_secs(30),
        || async {
            let backlog = scene.gateway.queue.dispatch_backlog().await;
            let drained = matches!(backlog, Ok(b) if b.pending == 0 && b.lag == Some(0));
            let unfinished = count(
                &scene.gateway,
                "SELECT (SELECT count(*) FROM deliveries WHERE status <> 'succeeded') \
                      + (SELECT count(*) FROM event_outbox)",
            )
            .await;
            drained && unfinished == 0
        },
    )
    .await;
    let per_event = deliveries_per_webhook_id(&scene.sink.received());
    let worst = per_event.values().copied().max().unwrap_or(0);
    let repeated = per_event.values().filter(|&&count| count > 1).count();
    println!(
        "{acknowledged_during} events acknowledged during the outage; {} delivered, \
         {} duplicates, {repeated} events delivered more than once, at most {worst} times",
        report.delivered, report.duplicates
    );
    assert!(
        worst <= MAX_DELIVERIES_PER_EVENT,
        "an event was delivered {worst} times (bound {MAX_DELIVERIES_PER_EVENT}); \
         {} duplicates for {acknowledged_during} events acknowledged during the outage",
        report.duplicates
    );
}

/// Successful deliveries (the sink answers 200) per `webhook-id`.
fn deliveries_per_webhook_id(
    received: &[eventflow_test_support::Received],
) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for request in received {
        let id = request.header("webhook-id").unwrap().to_owned();
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}
