//! An event posted to the gateway reaches its endpoint, signed, once.

use std::time::Duration;

use eventflow_domain::{DeliveryId, EventId, verify};
use eventflow_store::DeliveryStatus;
use eventflow_test_support::{WebhookSink, spawn_gateway};
use serde_json::{Value, json};

use crate::scenario::wait_for_status;

#[tokio::test]
async fn an_event_is_delivered_signed_to_its_endpoint_and_recorded() {
    let gateway = spawn_gateway().await;
    let _dispatcher = gateway.spawn_dispatcher().await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project, &sink.url("/hooks"), &["order.*"])
        .await;

    let response = gateway
        .post_event(
            &key,
            &json!({"type": "order.created", "payload": {"order": 7}}),
        )
        .await;
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let received = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.path, "/hooks");
    assert_eq!(request.header("webhook-id"), Some(id.as_str()));
    let body = request.json();
    assert_eq!(body["type"], "order.created");
    assert_eq!(body["data"], json!({"order": 7}));
    let timestamp: i64 = request
        .header("webhook-timestamp")
        .unwrap()
        .parse()
        .unwrap();
    let signature = request.header("webhook-signature").unwrap();
    assert!(verify(
        &endpoint.secret,
        &id,
        timestamp,
        request.body.as_bytes(),
        signature
    ));

    let event_id = EventId::parse(&id).unwrap();
    let delivery = DeliveryId::for_event_endpoint(event_id, endpoint.id);
    wait_for_status(&gateway, delivery, DeliveryStatus::Succeeded).await;
    let attempts = gateway.store.delivery_attempts(delivery).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status_code, Some(200));
}
