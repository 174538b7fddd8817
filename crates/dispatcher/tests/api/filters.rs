//! An endpoint receives only the events its filters select: by event type
//! (an exact type, `prefix.*`, `*`) and by payload (a JSON predicate).
//!
//! Absence is proven without sleeping: every test has a "barrier" endpoint
//! subscribed to `*`. Once the barrier has received every event and the
//! stream holds no entry still being worked on, the dispatcher has decided
//! every event's fan-out and recorded every delivery it started.

use eventflow_domain::EndpointId;
use eventflow_test_support::{TestGateway, WITHIN, WebhookSink, eventually, spawn_gateway};
use serde_json::{Value, json};

use crate::scenario::{post_event, refresh_endpoint_cache, update_endpoint};

/// Waits until the barrier path has received `events` requests and every
/// stream entry read has been acknowledged (its deliveries all recorded).
async fn wait_until_dispatched(gateway: &TestGateway, sink: &WebhookSink, events: usize) {
    let barrier = |sink: &WebhookSink| {
        sink.received()
            .iter()
            .filter(|request| request.path == "/all")
            .count()
    };
    eventually(
        "the barrier endpoint to receive every event",
        WITHIN,
        || async { (barrier(sink) >= events).then_some(()) },
    )
    .await;
    gateway.wait_until_stream_drained().await;
    assert_eq!(barrier(sink), events, "the barrier gets each event once");
}

/// The `n` field of each event body the sink received on `path`, in order.
fn numbers_received_on(sink: &WebhookSink, path: &str) -> Vec<i64> {
    let mut numbers: Vec<i64> = sink
        .received()
        .iter()
        .filter(|request| request.path == path)
        .map(|request| request.json()["data"]["n"].as_i64().expect("n"))
        .collect();
    numbers.sort_unstable();
    numbers
}

/// The event types the sink received on `path`, sorted.
fn types_received_on(sink: &WebhookSink, path: &str) -> Vec<String> {
    let mut types: Vec<String> = sink
        .received()
        .iter()
        .filter(|request| request.path == path)
        .map(|request| request.json()["type"].as_str().expect("type").to_owned())
        .collect();
    types.sort();
    types
}

async fn set_payload_filter(gateway: &TestGateway, endpoint: EndpointId, filter: &Value) {
    let literal = filter.to_string().replace('\'', "''");
    update_endpoint(gateway, endpoint, &format!("payload_filter = '{literal}'")).await;
}

#[tokio::test]
async fn only_events_whose_type_an_endpoint_subscribed_to_are_delivered_to_it() {
    let gateway = spawn_gateway().await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    gateway
        .create_endpoint(project, &sink.url("/exact"), &["order.created"])
        .await;
    gateway
        .create_endpoint(project, &sink.url("/prefix"), &["order.*"])
        .await;
    gateway
        .create_endpoint(
            project,
            &sink.url("/either"),
            &["invoice.paid", "order.item.added"],
        )
        .await;
    gateway
        .create_endpoint(project, &sink.url("/all"), &["*"])
        .await;
    let _dispatcher = gateway.spawn_dispatcher().await;

    let types = [
        "order.created",
        "order.item.added",
        "orders.created",
        "order",
        "invoice.paid",
        "Order.created",
    ];
    for event_type in types {
        post_event(&gateway, &key, &json!({"type": event_type, "payload": {}})).await;
    }
    wait_until_dispatched(&gateway, &sink, types.len()).await;

    assert_eq!(types_received_on(&sink, "/exact"), ["order.created"]);
    assert_eq!(
        types_received_on(&sink, "/prefix"),
        ["order.created", "order.item.added"]
    );
    assert_eq!(
        types_received_on(&sink, "/either"),
        ["invoice.paid", "order.item.added"]
    );
    let mut everything = types.map(str::to_owned).to_vec();
    everything.sort();
    assert_eq!(types_received_on(&sink, "/all"), everything);
}

#[tokio::test]
async fn an_event_of_a_type_no_endpoint_subscribed_to_is_delivered_nowhere() {
    let gateway = spawn_gateway().await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    gateway
        .create_endpoint(project, &sink.url("/orders"), &["order.*"])
        .await;
    let _dispatcher = gateway.spawn_dispatcher().await;

    let ignored = post_event(
        &gateway,
        &key,
        &json!({"type": "user.signed_up", "payload": {}}),
    )
    .await;
    post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {}}),
    )
    .await;

    // The later event arrived and nothing is left in the stream, so the
    // earlier one has been decided too.
    sink.wait_for(1, WITHIN).await;
    gateway.wait_until_stream_drained().await;
    assert_eq!(types_received_on(&sink, "/orders"), ["order.created"]);
    assert!(
        gateway
            .store
            .event_deliveries(ignored)
            .await
            .unwrap()
            .is_empty(),
        "no delivery is recorded for an event nobody subscribed to"
    );
}

#[tokio::test]
async fn only_events_whose_payload_matches_an_endpoint_filter_are_delivered_to_it() {
    let gateway = spawn_gateway().await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let big = gateway
        .create_endpoint(project, &sink.url("/big"), &["order.*"])
        .await;
    let known_customers = gateway
        .create_endpoint(project, &sink.url("/known"), &["order.*"])
        .await;
    let not_test = gateway
        .create_endpoint(project, &sink.url("/real"), &["order.*"])
        .await;
    gateway
        .create_endpoint(project, &sink.url("/all"), &["*"])
        .await;
    set_payload_filter(&gateway, big.id, &json!({"field": "total", "gt": 100})).await;
    set_payload_filter(
        &gateway,
        known_customers.id,
        &json!({"and": [
            {"field": "currency", "in": ["EUR", "USD"]},
            {"field": "customer.tier", "exists": true},
        ]}),
    )
    .await;
    set_payload_filter(
        &gateway,
        not_test.id,
        &json!({"not": {"field": "test", "eq": true}}),
    )
    .await;
    let _dispatcher = gateway.spawn_dispatcher().await;

    let payloads = [
        json!({"n": 1, "total": 150, "currency": "EUR", "customer": {"tier": "gold"}}),
        json!({"n": 2, "total": 50, "currency": "USD", "customer": {"tier": null}}),
        json!({"n": 3, "total": 500.5, "currency": "GBP", "customer": {"tier": "gold"}}),
        json!({"n": 4, "total": "200", "currency": "EUR", "customer": {}}),
        json!({"n": 5, "total": 100, "test": true}),
    ];
    for payload in &payloads {
        post_event(
            &gateway,
            &key,
            &json!({"type": "order.created", "payload": payload}),
        )
        .await;
    }
    wait_until_dispatched(&gateway, &sink, payloads.len()).await;

    // total > 100: a number, strictly greater; the string "200" is not a number.
    assert_eq!(numbers_received_on(&sink, "/big"), [1, 3]);
    // EUR or USD, and a tier present (even as null).
    assert_eq!(numbers_received_on(&sink, "/known"), [1, 2]);
    assert_eq!(numbers_received_on(&sink, "/real"), [1, 2, 3, 4]);
    assert_eq!(numbers_received_on(&sink, "/all"), [1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn a_payload_filter_changed_while_running_applies_to_later_events() {
    let gateway = spawn_gateway().await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let filtered = gateway
        .create_endpoint(project, &sink.url("/filtered"), &["order.*"])
        .await;
    gateway
        .create_endpoint(project, &sink.url("/all"), &["*"])
        .await;
    let dispatcher = gateway.spawn_dispatcher().await;

    post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {"n": 1}}),
    )
    .await;
    wait_until_dispatched(&gateway, &sink, 1).await;
    set_payload_filter(&gateway, filtered.id, &json!({"field": "vip", "eq": true})).await;
    refresh_endpoint_cache(&dispatcher, project).await;
    post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {"n": 2}}),
    )
    .await;
    post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {"n": 3, "vip": true}}),
    )
    .await;
    wait_until_dispatched(&gateway, &sink, 3).await;

    assert_eq!(numbers_received_on(&sink, "/filtered"), [1, 3]);
}
