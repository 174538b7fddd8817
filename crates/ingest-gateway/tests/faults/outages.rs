//! Redis out of reach of both the gateway and the dispatcher while events
//! keep coming: the gateway goes on acknowledging (PostgreSQL decides), the
//! outbox keeps what could not be appended, and once Redis is back every
//! acknowledged event is delivered.
//!
//! The outage lasts `EVENTFLOW_FAULT_REDIS_OUTAGE_SECS` seconds (default 15,
//! so the default test run stays short; set 60 for the full minute).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use eventflow_test_support::traffic::{Producer, settle_ledger};
use eventflow_test_support::{
    Scene, TcpProxy, TestDatabase, gateway_config, redis_url, spawn_gateway_on,
};

fn outage() -> Duration {
    let seconds = std::env::var("EVENTFLOW_FAULT_REDIS_OUTAGE_SECS")
        .ok()
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or(15);
    Duration::from_secs(seconds)
}

pub fn redis_addr() -> SocketAddr {
    let url = redis_url();
    let host_port = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    host_port
        .parse()
        .expect("the test Redis URL is redis://<ip>:<port>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_out_of_reach_during_ingest_and_delivery_loses_no_acknowledged_event() {
    let outage = outage();
    let proxy = TcpProxy::start(redis_addr()).await;
    let through_proxy = format!("redis://{}", proxy.addr());
    let db = TestDatabase::create().await;
    let mut config = gateway_config(db.url());
    config.service.redis_url = through_proxy.clone();
    config.outbox_relay_interval = Duration::from_millis(500);
    let gateway = spawn_gateway_on(db, config, |_| {}).await;
    let scene = Scene::on(gateway).await;
    let _dispatcher = scene
        .gateway
        .spawn_dispatcher_with(|config| config.service.redis_url = through_proxy)
        .await;
    let started = Instant::now();

    // 40 events a second, before, during and after the outage.
    let every = Duration::from_millis(25);
    let total = ((outage + Duration::from_secs(6)).as_millis() / every.as_millis()) as usize;
    let producer = Producer::paced(&scene.gateway, &scene.key, total, every);
    scene.sink.wait_for(40, Duration::from_secs(20)).await;
    proxy.cut().await;
    let cut_at = started.elapsed();
    let acknowledged_at_cut = producer.acknowledged();
    let received_at_cut = scene.sink.received().len();
    // The outage itself.
    tokio::time::sleep(outage).await;
    let acknowledged_during = producer.acknowledged() - acknowledged_at_cut;
    let received_during = scene.sink.received().len() - received_at_cut;
    proxy.restore();

    let posted = producer.finish().await;
    println!(
        "redis outage of {outage:?} from {cut_at:?}: {acknowledged_during} acknowledged and \
         {received_during} delivered during it"
    );
    assert!(
        acknowledged_during > 0,
        "the gateway acknowledges events while Redis is out of reach"
    );
    settle_ledger(
        &format!("redis unreachable {outage:?}"),
        &posted,
        &scene.sink,
        &scene.endpoint.secret,
        Duration::from_secs(60),
    )
    .await;
}
