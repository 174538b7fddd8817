//! Dry run (the restore drill's dispatcher): nothing is delivered, and the
//! same work is still there for a real dispatcher afterwards.

use std::time::Duration;

use eventflow_test_support::{WITHIN, WebhookSink, eventually, spawn_gateway};
use serde_json::json;

#[tokio::test]
async fn a_dry_run_dispatcher_delivers_nothing_and_leaves_the_work_for_a_real_one() {
    let gateway = spawn_gateway().await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    gateway
        .create_endpoint(project, &sink.url("/hooks"), &["*"])
        .await;
    let dry = gateway
        .spawn_dispatcher_with(|config| config.dry_run = true)
        .await;
    let response = gateway
        .post_event(&key, &json!({"type": "order.created", "payload": {}}))
        .await;
    assert_eq!(response.status(), 202);

    // A dry run's only work is its report: once that returned, no loop runs
    // that could deliver (a real dispatcher's loops run until it stops).
    eventually("the dry run to finish its report", WITHIN, || async {
        dry.steps.stopped_working()
    })
    .await;
    let received = sink.received();
    assert!(received.is_empty(), "a dry run delivered {received:?}");
    let deliveries = gateway.db.count("SELECT count(*) FROM deliveries").await;
    assert_eq!(deliveries, 0, "a dry run wrote deliveries");
    dry.shutdown().await.unwrap();

    let _dispatcher = gateway.spawn_dispatcher().await;
    let received = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(
        received.len(),
        1,
        "a real dispatcher delivers what the dry run left"
    );
}
