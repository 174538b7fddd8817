//! send: one event from flags, many as JSON lines.

use eventflow_domain::EventId;
use serde_json::json;

use crate::{Stack, finish};

#[tokio::test]
async fn send_prints_the_id_of_the_accepted_event_and_honours_idempotency_keys() {
    let stack = Stack::start().await;
    let args = [
        "send",
        "--type",
        "order.created",
        "--payload",
        r#"{"a":1}"#,
        "--idempotency-key",
        "order-42",
    ];

    let first = stack.run(&[&args[..], &["--json"]].concat()).await.json();
    let second = stack.run(&args).await;

    let id = first["id"].as_str().unwrap();
    EventId::parse(id).unwrap();
    assert_eq!(first["duplicate"], false);
    assert!(second.stdout.starts_with(id), "{}", second.stdout);
    assert!(
        second.stdout.contains("already stored"),
        "{}",
        second.stdout
    );
}

#[tokio::test]
async fn a_refused_event_exits_with_the_problem_and_a_bad_payload_is_caught_first() {
    let stack = Stack::start().await;
    let read_only = stack.gateway.create_key(stack.project_id, "read").await;

    let refused = stack
        .run_with_key(&read_only, &["send", "--type", "order.created"])
        .await;
    let not_json = stack
        .run(&["send", "--type", "order.created", "--payload", "{a:1}"])
        .await;

    assert!(refused.error_line(4).contains("403"), "{}", refused.stderr);
    assert!(
        not_json.error_line(3).contains("--payload"),
        "{}",
        not_json.stderr
    );
}

#[tokio::test]
async fn ten_thousand_json_lines_on_stdin_are_all_accepted_and_stored() {
    let stack = Stack::start().await;
    let lines: String = (0..10_000)
        .map(|n| format!("{}\n", json!({"type": "bulk.loaded", "payload": {"n": n}})))
        .collect();

    let run = finish(
        stack.command_with_key(&stack.key, &["send", "--json"]),
        Some(lines.into_bytes()),
    )
    .await;

    let summary = run.json();
    assert_eq!(summary["accepted"], 10_000, "{summary}");
    assert_eq!(summary["rejected"], 0, "{summary}");
    assert!(summary["events_per_second"].as_f64().unwrap() > 0.0);
    let stored = stack
        .gateway
        .db
        .count("SELECT count(*) FROM events WHERE event_type = 'bulk.loaded'")
        .await;
    assert_eq!(stored, 10_000);
}

#[tokio::test]
async fn rejected_lines_are_reported_with_their_line_and_reason() {
    let stack = Stack::start().await;
    let lines = "{\"type\":\"a.b\",\"payload\":{}}\nnot json\n\n{\"type\":\"\",\"payload\":{}}\n";

    let run = finish(
        stack.command_with_key(&stack.key, &["send", "--json", "--batch-size", "2"]),
        Some(lines.as_bytes().to_vec()),
    )
    .await;

    assert_eq!(run.status.code(), Some(3), "{}", run.stderr);
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(summary["accepted"], 1, "{summary}");
    assert_eq!(summary["rejected"], 2, "{summary}");
    assert_eq!(summary["refusals"][0]["line"], 2);
    assert!(
        summary["refusals"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not JSON")
    );
    assert_eq!(summary["refusals"][1]["line"], 4);
    assert!(
        summary["refusals"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("type"),
        "{summary}"
    );
}
