//! send, against a real gateway.

use eventflow_domain::EventId;
use eventflow_test_support::spawn_gateway;

use crate::eventflow;

#[tokio::test]
async fn send_prints_the_id_of_the_accepted_event() {
    let gateway = spawn_gateway().await;
    let (_, key) = gateway.create_project_with_key("ingest").await;
    let base = gateway.url("");

    let run = eventflow(
        None,
        &[
            "send",
            "--url",
            &base,
            "--key",
            &key,
            "--type",
            "order.created",
            "--payload",
            r#"{"a":1}"#,
            "--json",
        ],
    )
    .await;

    let accepted = run.json();
    EventId::parse(accepted["id"].as_str().unwrap()).unwrap();
    assert_eq!(accepted["duplicate"], false);
    gateway.shutdown().await.unwrap();
}

#[tokio::test]
async fn sending_again_with_the_same_idempotency_key_returns_the_same_event() {
    let gateway = spawn_gateway().await;
    let (_, key) = gateway.create_project_with_key("ingest").await;
    let base = gateway.url("");
    let args = [
        "send",
        "--url",
        &base,
        "--key",
        &key,
        "--type",
        "order.created",
        "--idempotency-key",
        "order-42",
    ];

    let first = eventflow(None, &args).await;
    let second = eventflow(None, &args).await;

    assert!(first.status.success(), "{}", first.stderr);
    let id = first.stdout.trim();
    EventId::parse(id).unwrap();
    assert!(second.stdout.starts_with(id), "{}", second.stdout);
    assert!(
        second.stdout.contains("already stored"),
        "{}",
        second.stdout
    );
    gateway.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_refused_event_exits_non_zero_with_the_problem_detail() {
    let gateway = spawn_gateway().await;
    let (_, key) = gateway.create_project_with_key("read").await;
    let base = gateway.url("");

    let run = eventflow(
        None,
        &[
            "send",
            "--url",
            &base,
            "--key",
            &key,
            "--type",
            "order.created",
        ],
    )
    .await;

    let line = run.error_line();
    assert!(line.contains("403"), "{line}");
    gateway.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_payload_that_is_not_json_is_refused_before_sending() {
    let run = eventflow(
        None,
        &[
            "send",
            "--url",
            "http://127.0.0.1:9",
            "--key",
            "efk_x",
            "--type",
            "order.created",
            "--payload",
            "{a:1}",
        ],
    )
    .await;

    assert!(run.error_line().contains("--payload"), "{}", run.stderr);
}
