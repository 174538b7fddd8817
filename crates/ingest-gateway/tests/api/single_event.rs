use eventflow_domain::{EventId, ProjectId};
use eventflow_test_support::spawn_gateway;
use serde_json::{Value, json};

use crate::order_created;

#[tokio::test]
async fn an_event_is_acknowledged_once_stored_and_announced_on_the_stream() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;

    let response = gateway.post_event(&key, &order_created(1)).await;

    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    let id = EventId::parse(body["id"].as_str().unwrap()).expect("an evt_ id");
    assert_eq!(body["duplicate"], false);
    let stored = gateway
        .store
        .event(project, id)
        .await
        .unwrap()
        .expect("event row exists");
    assert_eq!(stored.event_type, "order.created");
    let payload: Value = serde_json::from_str(&stored.payload).unwrap();
    assert_eq!(payload, json!({"order": 1, "total": 12.5}));
    let entries = gateway.queue.read_event_stream(10).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].event_id, id);
    assert_eq!(entries[0].project_id, project);
}

#[tokio::test]
async fn the_payload_is_stored_byte_for_byte() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let raw =
        r#"{"type":"a.b","payload":{"z": 1,  "a": [1.50, "é"], "big": 12345678901234567890}}"#;

    let response = gateway
        .client
        .post(gateway.url("/v1/events"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 202);
    let id: Value = response.json().await.unwrap();
    let id = EventId::parse(id["id"].as_str().unwrap()).unwrap();
    let stored = gateway.store.event(project, id).await.unwrap().unwrap();
    assert_eq!(
        stored.payload,
        r#"{"z": 1,  "a": [1.50, "é"], "big": 12345678901234567890}"#
    );
}

#[tokio::test]
async fn occurred_at_is_kept_when_given_and_defaults_to_the_receive_time() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;

    let given = gateway
        .post_event(
            &key,
            &json!({"type": "a", "payload": {}, "occurred_at": "2026-01-02T03:04:05.678+01:00"}),
        )
        .await;
    let defaulted = gateway
        .post_event(&key, &json!({"type": "a", "payload": {}}))
        .await;

    let given = stored(&gateway, project, given).await;
    assert_eq!(given.occurred_at.unix_timestamp(), 1_767_319_445);
    let defaulted = stored(&gateway, project, defaulted).await;
    assert_eq!(defaulted.occurred_at, defaulted.received_at);
}

#[tokio::test]
async fn the_producers_trace_is_kept_with_the_event() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";

    let response = gateway
        .client
        .post(gateway.url("/v1/events"))
        .bearer_auth(&key)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&order_created(1))
        .send()
        .await
        .unwrap();

    let event = stored(&gateway, project, response).await;
    let traceparent = event.traceparent.expect("traceparent stored");
    assert!(traceparent.contains(trace_id), "{traceparent}");
}

async fn stored(
    gateway: &eventflow_test_support::TestGateway,
    project: ProjectId,
    response: reqwest::Response,
) -> eventflow_store::StoredEvent {
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    let id = EventId::parse(body["id"].as_str().unwrap()).unwrap();
    gateway.store.event(project, id).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_thousand_concurrent_posts_store_a_thousand_events_and_stream_entries() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;

    let posts = (0..1000).map(|n| {
        let (gateway, key) = (&gateway, &key);
        async move {
            gateway
                .post_event(key, &order_created(n))
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(posts).await;

    assert!(statuses.iter().all(|status| *status == 202), "{statuses:?}");
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 1000);
    assert_eq!(gateway.queue.event_stream_len().await.unwrap(), 1000);
}
