//! The gateway dies: killed with SIGKILL mid-run, or crashed between the
//! commit of a batch and its stream append. Producers retry with idempotency
//! keys, so every event ends acknowledged exactly once, and every
//! acknowledged event is delivered.

use std::collections::HashSet;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use eventflow_test_support::traffic::{Posted, Producer, settle_ledger};
use eventflow_test_support::{Scene, eventually};

use crate::{GatewayProcess, free_port, stored_events};

const EVENTS: usize = 1500;
const CONCURRENCY: usize = 8;
/// How long a producer keeps retrying one event: longer than any restart here.
const RETRY_FOR: Duration = Duration::from_secs(60);

/// Every event was acknowledged once, under one id, and stored once: the
/// retries with idempotency keys made no second event.
async fn assert_each_event_stored_once(scene: &Scene, posted: &Posted) {
    assert_eq!(
        posted.acknowledged.len(),
        EVENTS,
        "every event is acknowledged in the end: {:?}",
        &posted.refused[..posted.refused.len().min(5)]
    );
    let unique: HashSet<&str> = posted.acknowledged.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(unique.len(), EVENTS, "one id per event");
    assert_eq!(
        stored_events(&scene.gateway).await,
        EVENTS as i64,
        "retried events are stored once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_with_sigkill_loses_no_acknowledged_event() {
    let scene = Scene::start().await;
    let _dispatcher = scene.gateway.spawn_dispatcher().await;
    let port = free_port();
    let first = GatewayProcess::start(&scene.gateway, port, &[]).await;
    let url = first.url();
    let started = Instant::now();

    let producer = Producer::retrying(&url, &scene.key, EVENTS, CONCURRENCY, RETRY_FOR);
    eventually(
        "a third of the events are acknowledged",
        Duration::from_secs(30),
        || async { producer.acknowledged() >= EVENTS / 3 },
    )
    .await;
    let status = first.kill().await;
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    let acknowledged_at_kill = producer.acknowledged();
    let killed_at = started.elapsed();

    let _second = GatewayProcess::start(&scene.gateway, port, &[]).await;
    let posted = producer.finish().await;
    println!(
        "gateway SIGKILL after {killed_at:?} with {acknowledged_at_kill} acknowledged, \
         restarted after {:?}",
        started.elapsed() - killed_at
    );
    assert_each_event_stored_once(&scene, &posted).await;
    settle_ledger(
        "gateway sigkill",
        &posted,
        &scene.sink,
        &scene.endpoint.secret,
        Duration::from_secs(60),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_commit_and_the_stream_append_loses_no_acknowledged_event() {
    let scene = Scene::start().await;
    let _dispatcher = scene.gateway.spawn_dispatcher().await;
    let port = free_port();
    // The 30th group commit aborts the process after PostgreSQL committed
    // it and before its events reach the stream or the outbox.
    let crashing = GatewayProcess::start(
        &scene.gateway,
        port,
        &[("EVENTFLOW_FAULT_CRASH_BEFORE_APPEND", "30")],
    )
    .await;
    let url = crashing.url();

    let producer = Producer::retrying(&url, &scene.key, EVENTS, CONCURRENCY, RETRY_FOR);
    let status = crashing.exited(Duration::from_secs(60)).await;
    assert_eq!(
        status.signal(),
        Some(6),
        "aborted by the fault switch: {status:?}"
    );
    let stored_at_crash = stored_events(&scene.gateway).await;
    let acknowledged_at_crash = producer.acknowledged();
    // Committed but acknowledged to no one yet, and on no stream: only the
    // dispatcher's recovery scan can find these.
    let stranded = stored_at_crash - acknowledged_at_crash as i64;

    let _restarted = GatewayProcess::start(&scene.gateway, port, &[]).await;
    let posted = producer.finish().await;
    println!(
        "crash before append: {stored_at_crash} stored, {acknowledged_at_crash} acknowledged, \
         {stranded} committed but never appended at the crash"
    );
    assert!(stranded > 0, "the crash stranded committed events");
    assert_each_event_stored_once(&scene, &posted).await;
    settle_ledger(
        "crash between commit and stream append",
        &posted,
        &scene.sink,
        &scene.endpoint.secret,
        Duration::from_secs(60),
    )
    .await;
}
