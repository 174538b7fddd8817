//! No acknowledged event is lost when a dispatcher is killed, shut down or
//! sent SIGTERM mid-run, when Redis loses this deployment's keys, or when PostgreSQL is out
//! of reach for a while; and several dispatchers share the work.
//!
//! Each test posts events to a real gateway while deliveries are in flight,
//! breaks something, and then checks, by `webhook-id`, that every event the
//! gateway acknowledged (202) reached the receiver at least once and that its
//! delivery ended `succeeded` in PostgreSQL. Duplicates are allowed (delivery
//! is at least once) and printed, so a run shows how many there were.
//!
//! They run on a multi-threaded runtime, as the dispatcher does in
//! production, so that the producer, the receivers and the dispatcher do not
//! queue behind one another on a single thread when the machine is busy.

use std::collections::{HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use eventflow_queue::DISPATCH_GROUP;
use eventflow_test_support::traffic::{
    Acknowledged, Producer, assert_all_delivered, delivery_counts, settle_ledger,
};
use eventflow_test_support::{Scene, TcpProxy, TestDatabase, TestGateway, eventually, redis_url};
use fred::prelude::*;

/// Connects a plain Redis client, for what the queue API does not show.
async fn redis() -> Client {
    let client = Client::new(
        Config::from_url(&redis_url()).expect("redis url"),
        None,
        None,
        None,
    );
    client.init().await.expect("tests need Redis");
    client
}

/// Deletes every key under `prefix` (SCAN + DEL). For this deployment it is
/// the same as FLUSHDB: the stream and its consumer group vanish and reads
/// fail with NOGROUP. A real FLUSHDB would break the tests running beside.
async fn wipe_keys(redis: &Client, prefix: &str) -> i64 {
    let pattern = format!("{prefix}*");
    let mut cursor = "0".to_owned();
    let mut deleted = 0;
    loop {
        let (next, keys): (String, Vec<String>) = redis
            .scan_page(cursor, pattern.clone(), Some(1000), None)
            .await
            .expect("scan");
        if !keys.is_empty() {
            deleted += redis.del::<i64, _>(keys).await.expect("del");
        }
        if next == "0" {
            return deleted;
        }
        cursor = next;
    }
}

/// The stream entries read but not yet acknowledged, with their consumer.
async fn pending_entries(redis: &Client, gateway: &TestGateway) -> Vec<(String, String)> {
    let stream = gateway.queue.keys().event_stream();
    let pending: Result<Value, _> = redis
        .xpending(&stream, DISPATCH_GROUP, ("-", "+", 100_000))
        .await;
    let Ok(pending) = pending else {
        return Vec::new(); // no stream or no group yet
    };
    let rows: Vec<(String, String, u64, u64)> = if pending.is_null() {
        Vec::new()
    } else {
        pending.convert().expect("XPENDING rows")
    };
    rows.into_iter()
        .map(|(id, consumer, _idle, _deliveries)| (id, consumer))
        .collect()
}

/// Starts the real `dispatcher` binary on the gateway's database and Redis
/// prefix, configured only through `EVENTFLOW_*` variables.
fn start_dispatcher_process(gateway: &TestGateway) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_dispatcher"))
        .env_clear()
        .envs([
            ("EVENTFLOW_DATABASE_URL", gateway.db.url()),
            ("EVENTFLOW_REDIS_URL", redis_url().as_str()),
            ("EVENTFLOW_REDIS_KEY_PREFIX", gateway.redis_prefix.as_str()),
            ("EVENTFLOW_HTTP_ADDR", "127.0.0.1:0"),
            ("EVENTFLOW_GRPC_ADDR", "127.0.0.1:0"),
            ("EVENTFLOW_ENDPOINT_ALLOW_NETS", "127.0.0.0/8"),
            ("EVENTFLOW_RETRY_SCHEDULE", "0s,200ms,400ms"),
            ("EVENTFLOW_DELIVERY_TIMEOUT", "1s"),
            ("EVENTFLOW_CLAIM_TIMEOUT", "2s"),
            ("EVENTFLOW_RECOVERY_INTERVAL", "200ms"),
            ("EVENTFLOW_RECOVERY_GRACE", "500ms"),
            ("EVENTFLOW_LOG", "warn"),
            (
                "EVENTFLOW_SECRETS_KEY",
                eventflow_test_support::TEST_SECRETS_KEY,
            ),
        ])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the dispatcher binary starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_killed_mid_run_loses_no_acknowledged_event() {
    let Scene {
        gateway,
        sink,
        key,
        endpoint,
    } = Scene::start().await;
    sink.delay(Duration::from_millis(10));
    let redis = redis().await;
    let mut first = start_dispatcher_process(&gateway);
    let started = Instant::now();

    let producer = Producer::flood(&gateway, &key, 2000, 10, 4);
    eventually(
        "the first dispatcher delivers with entries pending",
        Duration::from_secs(25),
        || async {
            sink.received().len() >= 500 && !pending_entries(&redis, &gateway).await.is_empty()
        },
    )
    .await;
    first.start_kill().expect("SIGKILL");
    let status = first.wait().await.expect("the killed dispatcher is reaped");
    let killed_at = started.elapsed();
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    let pending_at_kill = pending_entries(&redis, &gateway).await.len();
    let received_at_kill = sink.received().len();
    let recorded_at_kill = delivery_counts(&gateway, endpoint.id).await;
    let acknowledged_at_kill = producer.acknowledged();

    let second = gateway.spawn_dispatcher().await;
    let posted = producer.finish().await;
    let acknowledged = posted.acknowledged;
    let tally = assert_all_delivered(
        &gateway,
        &sink,
        endpoint.id,
        &acknowledged,
        Duration::from_secs(25),
    )
    .await;

    println!(
        "sigkill: killed after {killed_at:?} with {acknowledged_at_kill} acknowledged, \
         {received_at_kill} requests received, {recorded_at_kill:?} recorded, \
         {pending_at_kill} entries pending; after the restart all {} acknowledged ({} turned away) delivered in {:?}, \
         {} requests, {} duplicates",
        acknowledged.len(),
        posted.refused.len(),
        started.elapsed(),
        tally.requests,
        tally.duplicates
    );
    assert!(
        pending_at_kill > 0,
        "the killed dispatcher held unacknowledged entries"
    );
    second.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_shut_down_mid_run_records_what_it_sent_and_a_restart_delivers_the_rest() {
    let Scene {
        gateway,
        sink,
        key,
        endpoint,
    } = Scene::start().await;
    sink.delay(Duration::from_millis(200));
    let redis = redis().await;
    let first = gateway.spawn_dispatcher().await;
    let started = Instant::now();

    let producer = Producer::flood(&gateway, &key, 400, 1, 4);
    sink.wait_for(40, Duration::from_secs(10)).await;
    let steps = first.steps.clone();
    let draining = Instant::now();
    first.shutdown().await.expect("a clean shutdown");
    let drained_in = draining.elapsed();

    // Everything the stopped dispatcher sent was answered, recorded and
    // acknowledged before it returned; nothing is left for a claim.
    let sent: HashSet<String> = sink
        .received()
        .iter()
        .filter_map(|request| request.header("webhook-id").map(str::to_owned))
        .collect();
    let recorded = delivery_counts(&gateway, endpoint.id).await;
    assert_eq!(
        recorded.succeeded,
        sent.len() as i64,
        "every delivery sent before the shutdown is recorded as succeeded: {recorded:?}"
    );
    let left_pending = pending_entries(&redis, &gateway).await;
    assert!(
        left_pending.is_empty(),
        "no stream entry is left pending: {left_pending:?}"
    );
    // A stopped dispatcher sends nothing more: no loop and no delivery of
    // it is left running.
    assert!(steps.stopped_working(), "work left running after the stop");
    assert_eq!(
        sink.received().len(),
        sent.len(),
        "nothing sent after stopping"
    );

    let second = gateway.spawn_dispatcher().await;
    let posted = producer.finish().await;
    let acknowledged = posted.acknowledged;
    let tally = assert_all_delivered(
        &gateway,
        &sink,
        endpoint.id,
        &acknowledged,
        Duration::from_secs(25),
    )
    .await;

    println!(
        "graceful shutdown: drained in {drained_in:?} after {} deliveries; after the restart all {} \
         acknowledged ({} turned away) delivered in {:?}, {} duplicates",
        sent.len(),
        acknowledged.len(),
        posted.refused.len(),
        started.elapsed(),
        tally.duplicates
    );
    assert_eq!(tally.duplicates, 0, "a clean shutdown sends nothing twice");
    second.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_wipe_mid_run_loses_no_acknowledged_event() {
    let Scene {
        gateway,
        sink,
        key,
        endpoint,
    } = Scene::start().await;
    sink.delay(Duration::from_millis(10));
    let redis = redis().await;
    // Few deliveries at once, so the stream backs up: the wipe then loses
    // entries nobody has read yet, as well as pending ones.
    let dispatcher = gateway
        .spawn_dispatcher_with(|config| config.max_in_flight = 8)
        .await;
    let started = Instant::now();

    let before = Producer::flood(&gateway, &key, 700, 10, 4);
    sink.wait_for(300, Duration::from_secs(15)).await;
    let backlog = gateway
        .queue
        .dispatch_backlog()
        .await
        .expect("the stream has its group");
    let received_at_wipe = sink.received().len();
    let acknowledged_at_wipe = before.acknowledged();
    let deleted = wipe_keys(&redis, &gateway.redis_prefix).await;
    assert!(deleted >= 1, "the stream was deleted");
    // Events keep coming: their appends create a stream without the group.
    let after = Producer::flood(&gateway, &key, 300, 1, 4);

    let (before, after) = (before.finish().await, after.finish().await);
    let acknowledged: Vec<Acknowledged> = before
        .acknowledged
        .into_iter()
        .chain(after.acknowledged)
        .collect();
    let refused = before.refused.len() + after.refused.len();
    let tally = assert_all_delivered(
        &gateway,
        &sink,
        endpoint.id,
        &acknowledged,
        Duration::from_secs(25),
    )
    .await;

    println!(
        "redis wipe: {deleted} keys deleted with {acknowledged_at_wipe} acknowledged, \
         {received_at_wipe} requests received, {} entries pending and {:?} unread; \
         all {} acknowledged ({} turned away) delivered in {:?}, {} requests, {} duplicates",
        backlog.pending,
        backlog.lag,
        acknowledged.len(),
        refused,
        started.elapsed(),
        tally.requests,
        tally.duplicates
    );
    assert!(
        backlog.lag.unwrap_or(0) > 0 || backlog.pending > 0,
        "the wipe lost entries of the stream: {backlog:?}"
    );
    dispatcher.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_redis_wipe_before_recovered_entries_are_read_loses_nothing() {
    let Scene {
        gateway,
        sink,
        key,
        endpoint,
    } = Scene::start().await;
    sink.delay(Duration::from_millis(20));
    let redis = redis().await;
    // Four deliveries of 20 ms at a time, read ten entries at a time: about
    // 200 deliveries a second, so what recovery re-publishes waits unread.
    let dispatcher = gateway
        .spawn_dispatcher_with(|config| {
            config.max_in_flight = 4;
            config.read_batch = 10;
        })
        .await;
    let posted = Producer::flood(&gateway, &key, 600, 10, 4).finish().await;
    assert_eq!(
        posted.acknowledged.len(),
        600,
        "the gateway took every event"
    );
    sink.wait_for(20, Duration::from_secs(15)).await;
    wipe_keys(&redis, &gateway.redis_prefix).await;

    eventually(
        "recovery re-published 300 undelivered events",
        Duration::from_secs(15),
        || async { gateway.queue.event_stream_len().await.unwrap_or(0) >= 300 },
    )
    .await;
    let republished = gateway.queue.event_stream_len().await.unwrap_or(0);
    let received_at_second_wipe = sink.received().len();
    wipe_keys(&redis, &gateway.redis_prefix).await;

    let tally = assert_all_delivered(
        &gateway,
        &sink,
        endpoint.id,
        &posted.acknowledged,
        Duration::from_secs(40),
    )
    .await;
    println!(
        "second wipe with {republished} re-published entries in the stream and \
         {received_at_second_wipe} requests received: all 600 delivered, {} duplicates",
        tally.duplicates
    );
    dispatcher.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_out_of_reach_of_the_dispatcher_loses_no_acknowledged_event() {
    let Scene {
        gateway,
        sink,
        key,
        endpoint,
    } = Scene::start().await;
    sink.delay(Duration::from_millis(5));
    // Only the dispatcher goes through the proxy; the gateway keeps its own
    // connection and goes on acknowledging.
    let proxy = TcpProxy::start(TestDatabase::server_addr()).await;
    let database_url = gateway.db.url_through(proxy.addr());
    let dispatcher = gateway
        .spawn_dispatcher_with(|config| {
            config.service.database_url = database_url;
            config.service.database_timeout = Duration::from_secs(1);
        })
        .await;
    let started = Instant::now();

    let producer = Producer::paced(&gateway, &key, 1000, Duration::from_millis(3));
    sink.wait_for(200, Duration::from_secs(15)).await;
    proxy.cut().await;
    let cut_at = started.elapsed();
    let received_at_cut = sink.received().len();
    // The outage itself: PostgreSQL stays out of reach for two seconds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received_during_outage = sink.received().len() - received_at_cut;
    let acknowledged_during_outage = producer.acknowledged();
    proxy.restore();

    let posted = producer.finish().await;
    let acknowledged = posted.acknowledged;
    let tally = assert_all_delivered(
        &gateway,
        &sink,
        endpoint.id,
        &acknowledged,
        Duration::from_secs(25),
    )
    .await;

    println!(
        "postgres outage: cut at {cut_at:?} after {received_at_cut} requests, \
         {received_during_outage} requests during the 2 s outage, \
         {acknowledged_during_outage} acknowledged by its end; all {} acknowledged ({} turned away) delivered in {:?}, \
         {} requests, {} duplicates",
        acknowledged.len(),
        posted.refused.len(),
        started.elapsed(),
        tally.requests,
        tally.duplicates
    );
    dispatcher.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dispatchers_share_the_stream_and_deliver_everything_once() {
    let Scene {
        gateway,
        sink,
        key,
        endpoint,
    } = Scene::start().await;
    sink.delay(Duration::from_millis(10));
    let redis = redis().await;
    // A claim timeout no healthy delivery comes near, even on a busy
    // machine: an entry taken over from a live dispatcher would be sent twice.
    let settings = |name: &str| {
        let name = name.to_owned();
        move |config: &mut dispatcher::Config| {
            config.consumer_name = name;
            config.claim_timeout = Duration::from_secs(10);
        }
    };
    let a = gateway
        .spawn_dispatcher_with(settings("dispatcher-a"))
        .await;
    let b = gateway
        .spawn_dispatcher_with(settings("dispatcher-b"))
        .await;
    let started = Instant::now();

    let producer = Producer::flood(&gateway, &key, 500, 1, 8);
    // Which consumer held each entry, sampled while the run goes on (an
    // entry is pending from its read until its deliveries are recorded).
    let mut taken_by: HashMap<String, String> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    for sample in 0.. {
        // Copying what the sink received costs more than a sample: look less often.
        if (sample % 20 == 0 && sink.received().len() >= 500) || Instant::now() >= deadline {
            break;
        }
        for (entry, consumer) in pending_entries(&redis, &gateway).await {
            taken_by.entry(entry).or_insert(consumer);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let posted = producer.finish().await;
    let acknowledged = posted.acknowledged;
    let tally = assert_all_delivered(
        &gateway,
        &sink,
        endpoint.id,
        &acknowledged,
        Duration::from_secs(20),
    )
    .await;

    let mut shares: HashMap<&str, usize> = HashMap::new();
    for consumer in taken_by.values() {
        *shares.entry(consumer.as_str()).or_default() += 1;
    }
    println!(
        "two dispatchers: {} entries seen pending, by consumer {shares:?}; all {} acknowledged ({} turned away) delivered in {:?}, \
         {} requests, {} duplicates",
        taken_by.len(),
        acknowledged.len(),
        posted.refused.len(),
        started.elapsed(),
        tally.requests,
        tally.duplicates
    );
    assert!(
        shares.get("dispatcher-a").copied().unwrap_or(0) > 0
            && shares.get("dispatcher-b").copied().unwrap_or(0) > 0,
        "both dispatchers took entries from the stream: {shares:?}"
    );
    assert!(
        tally.duplicates * 100 <= acknowledged.len(),
        "without failures (almost) no event is delivered twice: {} duplicates",
        tally.duplicates
    );
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

/// Sends SIGTERM to a child process, as an orchestrator stopping it does.
fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("the process runs");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "SIGTERM sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_stopped_with_sigterm_mid_delivery_finishes_what_it_sent_and_loses_nothing() {
    let Scene {
        gateway,
        sink,
        key,
        endpoint,
    } = Scene::start().await;
    sink.delay(Duration::from_millis(300));
    let redis = redis().await;
    let mut first = start_dispatcher_process(&gateway);

    let producer = Producer::flood(&gateway, &key, 400, 1, 4);
    eventually(
        "deliveries are in flight (received, not yet answered)",
        Duration::from_secs(25),
        || async {
            sink.received().len() >= 40 && !pending_entries(&redis, &gateway).await.is_empty()
        },
    )
    .await;
    let in_flight_at_sigterm = pending_entries(&redis, &gateway).await.len();
    sigterm(&first);
    let status = tokio::time::timeout(Duration::from_secs(20), first.wait())
        .await
        .expect("the dispatcher exits within 20 s of SIGTERM")
        .expect("reaped");
    assert!(status.success(), "a clean exit after SIGTERM: {status:?}");

    // What it sent was answered, recorded and acknowledged before it exited.
    let sent: HashSet<String> = sink
        .received()
        .iter()
        .filter_map(|request| request.header("webhook-id").map(str::to_owned))
        .collect();
    let recorded = delivery_counts(&gateway, endpoint.id).await;
    assert_eq!(
        recorded.succeeded,
        sent.len() as i64,
        "every delivery sent before the exit is recorded as succeeded: {recorded:?}"
    );
    let left_pending = pending_entries(&redis, &gateway).await;
    assert!(
        left_pending.is_empty(),
        "no stream entry is left pending: {left_pending:?}"
    );

    let second = gateway.spawn_dispatcher().await;
    let posted = producer.finish().await;
    println!(
        "dispatcher SIGTERM with {in_flight_at_sigterm} entries in flight, {} delivered before the exit",
        sent.len()
    );
    let report = settle_ledger(
        "dispatcher sigterm",
        &posted,
        &sink,
        &endpoint.secret,
        Duration::from_secs(40),
    )
    .await;
    assert_all_delivered(
        &gateway,
        &sink,
        endpoint.id,
        &posted.acknowledged,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(report.duplicates, 0, "a clean stop sends nothing twice");
    second.shutdown().await.unwrap();
}
