use eventflow_domain::EventId;
use eventflow_proto::ingest::v1::ingest_service_client::IngestServiceClient;
use eventflow_proto::ingest::v1::{PublishBatchRequest, PublishRequest, publish_result};
use eventflow_test_support::{TestGateway, spawn_gateway};
use tonic::Request;
use tonic::transport::Channel;

async fn client(gateway: &TestGateway) -> IngestServiceClient<Channel> {
    IngestServiceClient::connect(format!("http://{}", gateway.grpc_addr))
        .await
        .unwrap()
}

fn authorized<T>(message: T, key: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    request
}

fn event(n: usize) -> PublishRequest {
    PublishRequest {
        r#type: "order.created".into(),
        payload_json: format!(r#"{{"order":{n}}}"#),
        idempotency_key: String::new(),
        occurred_at: String::new(),
    }
}

#[tokio::test]
async fn publish_stores_the_event_like_http() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;

    let response = client(&gateway)
        .await
        .publish(authorized(event(1), &key))
        .await
        .unwrap()
        .into_inner();

    let id = EventId::parse(&response.id).unwrap();
    let stored = gateway.store.event(project, id).await.unwrap().unwrap();
    assert_eq!(stored.payload, r#"{"order":1}"#);
    assert_eq!(gateway.queue.event_stream_len().await.unwrap(), 1);
}

#[tokio::test]
async fn publish_refuses_bad_keys_scopes_and_fields_with_the_right_codes() {
    let gateway = spawn_gateway().await;
    let (_, ingest_key) = gateway.create_project_with_key("ingest").await;
    let (_, read_key) = gateway.create_project_with_key("read").await;
    let mut client = client(&gateway).await;

    let missing = client.publish(Request::new(event(1))).await.unwrap_err();
    let forbidden = client
        .publish(authorized(event(1), &read_key))
        .await
        .unwrap_err();
    let mut bad = event(1);
    bad.payload_json = "{not json".into();
    let invalid = client
        .publish(authorized(bad, &ingest_key))
        .await
        .unwrap_err();

    assert_eq!(missing.code(), tonic::Code::Unauthenticated);
    assert_eq!(forbidden.code(), tonic::Code::PermissionDenied);
    assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
    assert!(
        invalid.message().contains("payload_json"),
        "{}",
        invalid.message()
    );
    assert_eq!(gateway.db.count("SELECT count(*) FROM events").await, 0);
}

#[tokio::test]
async fn publish_batch_answers_per_item() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let mut bad = event(1);
    bad.r#type = String::new();

    let response = client(&gateway)
        .await
        .publish_batch(authorized(
            PublishBatchRequest {
                events: vec![event(0), bad, event(2)],
            },
            &key,
        ))
        .await
        .unwrap()
        .into_inner();

    let kinds: Vec<bool> = response
        .results
        .iter()
        .map(|result| matches!(result.outcome, Some(publish_result::Outcome::Accepted(_))))
        .collect();
    assert_eq!(kinds, [true, false, true]);
    let Some(publish_result::Outcome::Error(error)) = &response.results[1].outcome else {
        panic!()
    };
    assert_eq!(error.status, 422);
    assert_eq!(error.errors[0].field, "events[1].type");
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 2);
}

#[tokio::test]
async fn publish_with_an_idempotency_key_is_deduplicated() {
    let gateway = spawn_gateway().await;
    let (_, key) = gateway.create_project_with_key("ingest").await;
    let mut client = client(&gateway).await;
    let mut keyed = event(1);
    keyed.idempotency_key = "g-1".into();

    let first = client
        .publish(authorized(keyed.clone(), &key))
        .await
        .unwrap()
        .into_inner();
    let second = client
        .publish(authorized(keyed, &key))
        .await
        .unwrap()
        .into_inner();

    assert_eq!(first.id, second.id);
    assert!(second.duplicate);
}
