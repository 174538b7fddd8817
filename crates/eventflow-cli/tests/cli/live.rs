//! tail, listen and status against a running stack.

use std::time::Duration;

use serde_json::Value;

use crate::{Running, Stack, TempDir, command, finish};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn tail_sees_an_event_sent_after_it_started_and_its_delivery() {
    let stack = Stack::start().await;
    let sink = eventflow_test_support::WebhookSink::start().await;
    stack
        .run(&[
            "endpoints",
            "create",
            "--url",
            &sink.url("/hooks"),
            "--json",
        ])
        .await
        .json();
    let mut tail = Running::spawn(stack.command_with_key(
        &stack.key,
        &["tail", "--json", "--interval", "100ms", "--type", "order.*"],
    ));
    // Once the tail shows a first event, it is following: what is sent
    // from then on arrives after at least one poll.
    let first = stack
        .run(&["send", "--type", "order.created", "--json"])
        .await
        .json();
    let shown = tail.wait_for(WAIT, |line| line["kind"] == "event").await;
    assert_eq!(shown["id"], first["id"]);

    let other = stack
        .run(&["send", "--type", "user.created", "--json"])
        .await
        .json();
    let sent = stack
        .run(&["send", "--type", "order.created", "--json"])
        .await
        .json();

    let event = tail.wait_for(WAIT, |line| line["kind"] == "event").await;
    assert_eq!(event["id"], sent["id"], "the filter hides {}", other["id"]);
    assert_eq!(event["type"], "order.created");
    let delivered = tail
        .wait_for(WAIT, |line| {
            line["kind"] == "delivery"
                && line["status"] == "succeeded"
                && line["event_id"] == sent["id"]
        })
        .await;
    assert_eq!(delivered["event_id"], sent["id"]);
    assert_eq!(delivered["attempt_count"], 1);
    assert!(delivered["latency_ms"].as_f64().is_some(), "{delivered}");
    assert!(tail.terminate().await.success());
}

#[tokio::test]
async fn listen_verifies_a_real_delivery_and_removes_its_endpoint_on_exit() {
    let stack = Stack::start().await;
    let mut listen = Running::spawn(stack.command_with_key(&stack.key, &["listen", "--json"]));
    let ready = listen.next_json(WAIT).await;
    let endpoint_id = ready["endpoint_id"].as_str().unwrap().to_owned();
    assert!(
        ready["listening"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );

    let sent = stack
        .run(&[
            "send",
            "--type",
            "order.created",
            "--payload",
            r#"{"order_id":7}"#,
            "--json",
        ])
        .await
        .json();

    let received = listen.next_json(WAIT).await;
    assert_eq!(received["verified"], true, "{received}");
    assert_eq!(received["id"], sent["id"]);
    assert_eq!(received["type"], "order.created");
    assert_eq!(received["data"], serde_json::json!({"order_id": 7}));
    assert_eq!(received["answered"], 204);
    assert!(listen.terminate().await.success());
    let gone = stack.run(&["endpoints", "get", &endpoint_id]).await;
    assert_eq!(
        gone.status.code(),
        Some(5),
        "removed on exit: {}",
        gone.stdout
    );
}

#[tokio::test]
async fn listen_forwards_verified_deliveries_and_answers_with_the_targets_status() {
    let stack = Stack::start().await;
    let app = eventflow_test_support::WebhookSink::start().await;
    let target = app.url("/webhooks");
    let mut listen = Running::spawn(
        stack.command_with_key(&stack.key, &["listen", "--json", "--forward-to", &target]),
    );
    listen.next_json(WAIT).await;

    stack
        .run(&["send", "--type", "order.created", "--json"])
        .await
        .json();

    let received = listen.next_json(WAIT).await;
    assert_eq!(received["verified"], true);
    assert_eq!(received["forwarded"], "200", "the target's status");
    assert_eq!(received["answered"], 200);
    let forwarded = app.wait_for(1, WAIT).await;
    assert!(forwarded[0].header("webhook-signature").is_some());
    assert!(listen.terminate().await.success());
}

#[tokio::test]
async fn status_reports_a_healthy_stack_and_exits_7_when_a_service_is_down() {
    let stack = Stack::start().await;

    let status = stack.run(&["status", "--json"]).await.json();

    assert_eq!(status["healthy"], true, "{status}");
    let states: Vec<&Value> = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["state"])
        .collect();
    assert_eq!(states, ["ready", "ready", "ready"], "{status}");
    assert_eq!(status["deliveries_failed"], 0);

    let home = TempDir::new();
    let mut down = command(&home.0);
    down.args([
        "status",
        "--gateway-url",
        "http://127.0.0.1:9",
        "--api-url",
        &stack.query.url(""),
    ])
    .env("EVENTFLOW_DISPATCHER_URL", stack.dispatcher.url(""));
    let run = finish(down, None).await;
    assert_eq!(run.status.code(), Some(7), "{}", run.stderr);
    assert!(
        run.stdout.contains("ingest-gateway  down"),
        "{}",
        run.stdout
    );
}
