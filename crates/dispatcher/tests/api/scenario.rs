//! Steps the delivery tests share: posting an event and learning its id,
//! changing an endpoint the way the query API does (in PostgreSQL, then
//! telling the dispatcher), and waiting, with a deadline, for what the
//! dispatcher recorded.

use eventflow_domain::{DeliveryId, EndpointId, EventId, ProjectId};
use eventflow_proto::dispatch::v1::RefreshEndpointCacheRequest;
use eventflow_proto::dispatch::v1::dispatch_control_client::DispatchControlClient;
use eventflow_runtime::internal_auth::{AttachInternalToken, InternalToken};
use eventflow_store::{AttemptRecord, DeliveryState, DeliveryStatus};
use eventflow_test_support::{
    TestDispatcher, TestGateway, WITHIN, eventually, test_internal_token,
};
use serde_json::Value;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Posts an event through the gateway and returns the id it was given.
pub async fn post_event(gateway: &TestGateway, key: &str, event: &Value) -> EventId {
    let response = gateway.post_event(key, event).await;
    assert_eq!(response.status(), 202, "the gateway accepts {event}");
    let accepted: Value = response.json().await.expect("a JSON answer");
    EventId::parse(accepted["id"].as_str().expect("an event id")).expect("an evt_ id")
}

/// The delivery of `event` to `endpoint`.
pub fn delivery_of(event: EventId, endpoint: EndpointId) -> DeliveryId {
    DeliveryId::for_event_endpoint(event, endpoint)
}

/// The recorded state of one delivery, if it has been recorded.
pub async fn delivery_state(gateway: &TestGateway, delivery: DeliveryId) -> Option<DeliveryState> {
    let event = EventId::from_uuid(delivery_event_uuid(gateway, delivery).await?);
    gateway
        .store
        .event_deliveries(event)
        .await
        .expect("deliveries readable")
        .into_iter()
        .find(|state| state.id == delivery)
}

async fn delivery_event_uuid(gateway: &TestGateway, delivery: DeliveryId) -> Option<uuid::Uuid> {
    let client = gateway.db.client().await;
    client
        .query_opt(
            "SELECT event_id FROM deliveries WHERE id = $1",
            &[&delivery.uuid()],
        )
        .await
        .expect("deliveries readable")
        .map(|row| row.get(0))
}

/// Waits until the delivery has `status`, and returns its state.
pub async fn wait_for_status(
    gateway: &TestGateway,
    delivery: DeliveryId,
    status: DeliveryStatus,
) -> DeliveryState {
    let what = format!("delivery {delivery} to be {}", status.as_str());
    eventually(&what, WITHIN, || async {
        delivery_state(gateway, delivery)
            .await
            .filter(|state| state.status == status)
    })
    .await
}

/// Takes due-delivery steps of a stepped dispatcher (whose retries happen
/// only in steps) until the delivery has `status`, and returns its state.
pub async fn step_until_status(
    gateway: &TestGateway,
    dispatcher: &TestDispatcher,
    delivery: DeliveryId,
    status: DeliveryStatus,
) -> DeliveryState {
    let what = format!("delivery {delivery} to be {} in steps", status.as_str());
    eventually(&what, WITHIN, || async {
        take_due_step(dispatcher).await;
        delivery_state(gateway, delivery)
            .await
            .filter(|state| state.status == status)
    })
    .await
}

/// Takes one step of the dispatcher's due-delivery loop; returns how many
/// deliveries it started.
pub async fn take_due_step(dispatcher: &TestDispatcher) -> usize {
    dispatcher
        .steps
        .deliver_due_batch()
        .await
        .expect("due deliveries are read")
}

/// Returns the recorded attempts of a delivery, oldest first.
pub async fn attempts(gateway: &TestGateway, delivery: DeliveryId) -> Vec<AttemptRecord> {
    gateway
        .store
        .delivery_attempts(delivery)
        .await
        .expect("attempts readable")
}

/// Sets columns of an endpoint, as the query API does: `assignments` is the
/// SQL after `SET`, such as `paused = true`.
pub async fn update_endpoint(gateway: &TestGateway, endpoint: EndpointId, assignments: &str) {
    let client = gateway.db.client().await;
    let updated = client
        .execute(
            &format!("UPDATE endpoints SET {assignments}, updated_at = now() WHERE id = $1"),
            &[&endpoint.uuid()],
        )
        .await
        .expect("the endpoint update is valid SQL");
    assert_eq!(updated, 1, "endpoint {endpoint} exists");
}

/// A `DispatchControl` client sending a chosen internal token (or none).
pub type Control = DispatchControlClient<InterceptedService<Channel, AttachInternalToken>>;

/// A client of the dispatcher's `DispatchControl` presenting `token`.
pub async fn control_with(dispatcher: &TestDispatcher, token: Option<&InternalToken>) -> Control {
    let channel = Channel::from_shared(dispatcher.grpc_url())
        .expect("a valid URL")
        .connect()
        .await
        .expect("the dispatcher accepts gRPC connections");
    DispatchControlClient::with_interceptor(channel, AttachInternalToken::new(token))
}

/// A client of the dispatcher's `DispatchControl` with the tests' internal token.
pub async fn control(dispatcher: &TestDispatcher) -> Control {
    control_with(dispatcher, Some(&test_internal_token())).await
}

/// Tells the dispatcher the project's endpoints changed.
pub async fn refresh_endpoint_cache(dispatcher: &TestDispatcher, project: ProjectId) {
    control(dispatcher)
        .await
        .refresh_endpoint_cache(RefreshEndpointCacheRequest {
            project_id: project.to_string(),
        })
        .await
        .expect("the endpoint cache refreshes");
}
