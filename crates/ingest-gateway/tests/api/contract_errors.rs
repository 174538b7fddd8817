//! Every error status of the ingest contract, each as problem+json and with
//! nothing written.

use eventflow_test_support::{TestGateway, spawn_gateway, spawn_gateway_with};
use serde_json::json;

use crate::{order_created, problem};

async fn assert_nothing_stored(gateway: &TestGateway) {
    assert_eq!(gateway.db.count("SELECT count(*) FROM events").await, 0);
    assert_eq!(gateway.queue.event_stream_len().await.unwrap(), 0);
}

#[tokio::test]
async fn a_missing_key_is_401() {
    let gateway = spawn_gateway().await;
    let response = gateway
        .client
        .post(gateway.url("/v1/events"))
        .json(&order_created(1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body = problem(response).await;
    assert_eq!(
        body["type"],
        "https://eventflow.dev/problems/unauthenticated"
    );
    assert_eq!(body["status"], 401);
    assert_nothing_stored(&gateway).await;
}

#[tokio::test]
async fn an_unknown_or_malformed_key_is_401() {
    let gateway = spawn_gateway().await;
    let (_, key) = gateway.create_project_with_key("ingest").await;
    // The last character changed (to one it is not: random keys end in x
    // one time in 62).
    let last = if key.ends_with('x') { 'y' } else { 'x' };
    let forged = format!("{}{last}", &key[..key.len() - 1]);
    for bad in [forged.as_str(), "efk_nonsense", "Basic abc"] {
        let response = gateway.post_event(bad, &order_created(1)).await;
        assert_eq!(response.status(), 401, "{bad}");
        problem(response).await;
    }
    assert_nothing_stored(&gateway).await;
}

#[tokio::test]
async fn a_key_without_the_ingest_scope_is_403() {
    let gateway = spawn_gateway().await;
    let (_, key) = gateway.create_project_with_key("read").await;
    let response = gateway.post_event(&key, &order_created(1)).await;
    assert_eq!(response.status(), 403);
    let body = problem(response).await;
    assert!(
        body["detail"].as_str().unwrap().contains("ingest"),
        "{body}"
    );
    assert_nothing_stored(&gateway).await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let gateway = spawn_gateway_with(|config| config.max_event_bytes = 1024).await;
    let (_, key) = gateway.create_project_with_key("ingest").await;
    let big = json!({"type": "a", "payload": {"blob": "x".repeat(2000)}});
    let response = gateway.post_event(&key, &big).await;
    assert_eq!(response.status(), 413);
    let body = problem(response).await;
    assert!(body["detail"].as_str().unwrap().contains("1024"), "{body}");
    assert_nothing_stored(&gateway).await;
}

#[tokio::test]
async fn the_default_limit_is_256_kib() {
    let gateway = spawn_gateway().await;
    let (_, key) = gateway.create_project_with_key("ingest").await;
    let fits = json!({"type": "a", "payload": {"blob": "x".repeat(200 * 1024)}});
    let too_big = json!({"type": "a", "payload": {"blob": "x".repeat(300 * 1024)}});
    assert_eq!(gateway.post_event(&key, &fits).await.status(), 202);
    assert_eq!(gateway.post_event(&key, &too_big).await.status(), 413);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let gateway = spawn_gateway().await;
    let (_, key) = gateway.create_project_with_key("ingest").await;
    let response = gateway
        .client
        .post(gateway.url("/v1/events"))
        .bearer_auth(&key)
        .header("content-type", "text/plain")
        .body("type=order.created")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    problem(response).await;
    assert_nothing_stored(&gateway).await;
}

#[tokio::test]
async fn malformed_json_is_400() {
    let gateway = spawn_gateway().await;
    let (_, key) = gateway.create_project_with_key("ingest").await;
    let response = gateway
        .client
        .post(gateway.url("/v1/events"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(r#"{"type": "a", "payload": {"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body = problem(response).await;
    assert_eq!(
        body["type"],
        "https://eventflow.dev/problems/malformed-json"
    );
    assert_nothing_stored(&gateway).await;
}

#[tokio::test]
async fn invalid_fields_are_422_naming_each_field() {
    let gateway = spawn_gateway().await;
    let (_, key) = gateway.create_project_with_key("ingest").await;
    let cases = [
        (json!({"payload": {}}), "type"),
        (json!({"type": "bad type!", "payload": {}}), "type"),
        (json!({"type": 5, "payload": {}}), "type"),
        (json!({"type": "a"}), "payload"),
        (json!({"type": "a", "payload": [1, 2]}), "payload"),
        (
            json!({"type": "a", "payload": {}, "occurred_at": "yesterday"}),
            "occurred_at",
        ),
        (
            json!({"type": "a", "payload": {}, "idempotency_key": ""}),
            "idempotency_key",
        ),
    ];
    for (body, field) in cases {
        let response = gateway.post_event(&key, &body).await;
        assert_eq!(response.status(), 422, "{body}");
        let problem = problem(response).await;
        assert_eq!(problem["type"], "https://eventflow.dev/problems/validation");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body} -> {problem}");
    }
    assert_nothing_stored(&gateway).await;
}

#[tokio::test]
async fn an_unknown_field_is_422_so_typos_are_not_silently_dropped() {
    let gateway = spawn_gateway().await;
    let (_, key) = gateway.create_project_with_key("ingest").await;
    let response = gateway
        .post_event(&key, &json!({"type": "a", "data": {}}))
        .await;
    assert_eq!(response.status(), 422);
    let body = problem(response).await;
    assert!(body["detail"].as_str().unwrap().contains("data"), "{body}");
}

#[tokio::test]
async fn eventflow_event_types_are_reserved() {
    let gateway = spawn_gateway().await;
    let (_, key) = gateway.create_project_with_key("ingest").await;
    let response = gateway
        .post_event(&key, &json!({"type": "eventflow.test", "payload": {}}))
        .await;
    assert_eq!(response.status(), 422);
    let body = problem(response).await;
    assert!(
        body["detail"].as_str().unwrap().contains("reserved"),
        "{body}"
    );
    assert_nothing_stored(&gateway).await;
}
