//! gRPC `QueryService`: the HTTP reads for internal callers, with the same
//! key, scope, project and parameter checks.

use eventflow_domain::{DeliveryId, EventId};
use eventflow_proto::query::v1::query_service_client::QueryServiceClient;
use eventflow_proto::query::v1::{
    GetDeliveryRequest, GetEventRequest, ListAttemptsRequest, ListDeliveriesRequest,
    ListEventsRequest,
};
use eventflow_runtime::api_error::PROBLEM_METADATA_KEY;
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::events::{Stack, get, post_event, post_event_id, wait_for_count};

async fn client(stack: &Stack) -> QueryServiceClient<Channel> {
    let channel = Channel::from_shared(format!("http://{}", stack.api.grpc_addr))
        .expect("a valid url")
        .connect()
        .await
        .expect("gRPC accepts connections");
    QueryServiceClient::new(channel)
}

/// `message` with `authorization: Bearer <key>`.
fn authorized<T>(key: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {key}").parse().expect("ascii metadata"),
    );
    request
}

/// The problem document a status carries.
fn problem(status: &tonic::Status) -> Value {
    let bytes = status
        .metadata()
        .get_bin(PROBLEM_METADATA_KEY)
        .expect("a problem")
        .to_bytes()
        .expect("bytes");
    serde_json::from_slice(&bytes).expect("JSON")
}

#[tokio::test]
async fn grpc_reads_answer_what_http_answers() {
    let stack = Stack::start().await;
    let key = stack.key.as_str();
    let endpoint = stack.endpoint("/hook", &["order.*"]).await;
    let accepted = post_event(&stack.gateway, key, "order.created", json!({"total": 42})).await;
    let id = accepted["id"].as_str().unwrap().to_owned();
    for n in 0..4 {
        post_event(&stack.gateway, key, "invoice.paid", json!({"n": n})).await;
    }
    wait_for_count(&stack.api, key, "/v1/deliveries?status=succeeded", 1).await;
    let mut grpc = client(&stack).await;

    let detail = grpc
        .get_event(authorized(key, GetEventRequest { id: id.clone() }))
        .await
        .unwrap()
        .into_inner();
    let event = detail.event.unwrap();
    assert_eq!(event.id, id);
    assert_eq!(event.r#type, "order.created");
    assert_eq!(
        serde_json::from_str::<Value>(&event.payload_json).unwrap(),
        json!({"total": 42})
    );
    assert_eq!(event.received_at, accepted["received_at"]);
    assert_eq!(detail.deliveries.len(), 1);
    let delivery = &detail.deliveries[0];
    assert_eq!(delivery.endpoint_id, endpoint.to_string());
    assert_eq!(delivery.status, "succeeded");
    assert_eq!(delivery.last_status_code, Some(200));

    let orders = grpc
        .list_events(authorized(
            key,
            ListEventsRequest {
                r#type: "order.*".into(),
                include_payload: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(orders.events.len(), 1);
    assert_eq!(orders.events[0].payload_json, event.payload_json);
    assert_eq!(orders.next_cursor, "");

    // Pages of 2 through the 5 events: the same as HTTP's, newest first.
    let (_, http) = get(&stack.api, key, "/v1/events").await;
    let http_ids: Vec<String> = crate::events::ids(&http);
    let mut walked = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = grpc
            .list_events(authorized(
                key,
                ListEventsRequest {
                    limit: Some(2),
                    cursor: cursor.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.events.iter().all(|e| e.payload_json.is_empty()));
        walked.extend(page.events.into_iter().map(|e| e.id));
        if page.next_cursor.is_empty() {
            break;
        }
        cursor = page.next_cursor;
    }
    assert_eq!(walked, http_ids);

    let deliveries = grpc
        .list_deliveries(authorized(
            key,
            ListDeliveriesRequest {
                endpoint_id: endpoint.to_string(),
                status: "succeeded".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deliveries.deliveries.len(), 1);
    assert_eq!(deliveries.deliveries[0], *delivery);
    let one = grpc
        .get_delivery(authorized(
            key,
            GetDeliveryRequest {
                id: delivery.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one, *delivery);

    let attempts = grpc
        .list_attempts(authorized(
            key,
            ListAttemptsRequest {
                delivery_id: delivery.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(attempts.attempts.len(), 1);
    let attempt = &attempts.attempts[0];
    assert_eq!(attempt.attempt_number, 1);
    assert_eq!(attempt.status_code, Some(200));
    assert_eq!(attempt.delivery_id, delivery.id);
    assert!(attempt.duration_ms >= 0.0);
}

#[tokio::test]
async fn grpc_checks_the_key_its_scope_its_project_and_every_argument() {
    let stack = Stack::start().await;
    let id = post_event_id(&stack.gateway, &stack.key, "order.created").await;
    let ingest = stack.gateway.create_key(stack.project, "ingest").await;
    let (_, other) = stack.gateway.create_project_with_key("read").await;
    let mut grpc = client(&stack).await;
    let get_event = |key: Option<&str>, id: &str| {
        let message = GetEventRequest { id: id.to_owned() };
        match key {
            Some(key) => authorized(key, message),
            None => tonic::Request::new(message),
        }
    };

    let status = grpc.get_event(get_event(None, &id)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let status = grpc
        .get_event(get_event(Some("nope"), &id))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let status = grpc
        .get_event(get_event(Some(&ingest), &id))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    let status = grpc
        .get_event(get_event(Some(&other), &id))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert!(!status.message().contains(&id));
    let status = grpc
        .get_event(get_event(Some(&other), "evt_x"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let foreign = grpc
        .list_events(authorized(&other, ListEventsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(foreign.events.is_empty());

    let status = grpc
        .list_events(authorized(
            &stack.key,
            ListEventsRequest {
                r#type: "bad!".into(),
                since: "yesterday".into(),
                status: "wat".into(),
                limit: Some(0),
                cursor: "garbage".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let fields: Vec<String> = problem(&status)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["type", "since", "status", "limit", "cursor"]);

    let status = grpc
        .list_deliveries(authorized(
            &stack.key,
            ListDeliveriesRequest {
                limit: Some(100_000),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let status = grpc
        .list_attempts(authorized(
            &other,
            ListAttemptsRequest {
                delivery_id: DeliveryId::new().to_string(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    let status = grpc
        .list_attempts(authorized(
            &stack.key,
            ListAttemptsRequest {
                delivery_id: "dlv_nope".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(problem(&status)["errors"][0]["field"], "delivery_id");
    let status = grpc
        .get_delivery(authorized(
            &stack.key,
            GetDeliveryRequest {
                id: EventId::new().to_string(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
}
