//! Issue #9, item 2: a payload nested deeper than PostgreSQL can parse is
//! refused at the edge with the limit named, and one event PostgreSQL refuses
//! never fails the other events of its group commit.

use eventflow_proto::ingest::v1::ingest_service_client::IngestServiceClient;
use eventflow_proto::ingest::v1::{PublishBatchRequest, PublishRequest, publish_result};
use eventflow_test_support::{TestGateway, spawn_gateway, spawn_gateway_with};
use serde_json::Value;
use tonic::Request;

use crate::problem;

/// `{"a":[[[…]]]}` with `levels` nested arrays: a few hundred kilobytes at
/// most, well under the body limit.
fn deep_payload(levels: usize) -> String {
    format!("{{\"a\":{}{}}}", "[".repeat(levels), "]".repeat(levels))
}

/// Deep enough that PostgreSQL's `json` input gives up with "stack depth
/// limit exceeded" (it did from about 20,000 levels).
const UNSTORABLE_LEVELS: usize = 100_000;

fn event_text(payload: &str) -> String {
    format!(r#"{{"type":"order.created","payload":{payload}}}"#)
}

async fn post_raw(gateway: &TestGateway, key: &str, path: &str, body: String) -> reqwest::Response {
    gateway
        .client
        .post(gateway.url(path))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_payload_nested_past_the_limit_gets_a_422_that_names_the_limit_and_stores_nothing() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;

    let response = post_raw(
        &gateway,
        &key,
        "/v1/events",
        event_text(&deep_payload(20_000)),
    )
    .await;

    assert_eq!(response.status(), 422);
    let body = problem(response).await;
    assert_eq!(body["errors"][0]["field"], "payload");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("deeper than the limit of 64 levels"),
        "{detail}"
    );
    // One level under the limit (the payload object itself is one) passes.
    let response = post_raw(&gateway, &key, "/v1/events", event_text(&deep_payload(63))).await;
    assert_eq!(response.status(), 202);
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 1);
}

#[tokio::test]
async fn the_depth_limit_is_configurable() {
    let gateway = spawn_gateway_with(|config| config.max_payload_depth = 3).await;
    let (_, key) = gateway.create_project_with_key("ingest").await;

    let response = post_raw(&gateway, &key, "/v1/events", event_text(&deep_payload(3))).await;

    assert_eq!(response.status(), 422);
    let detail = problem(response).await["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(detail.contains("limit of 3 levels"), "{detail}");
}

#[tokio::test]
async fn a_batch_item_nested_past_the_limit_is_refused_alone() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let items = [
        event_text(r#"{"n":1}"#),
        event_text(&deep_payload(20_000)),
        event_text(r#"{"n":3}"#),
    ];

    let response = post_raw(
        &gateway,
        &key,
        "/v1/events/batch",
        format!(r#"{{"events":[{}]}}"#, items.join(",")),
    )
    .await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 2);
    assert_eq!(body["results"][1]["status"], 422);
    assert_eq!(
        body["results"][1]["error"]["errors"][0]["field"],
        "events[1].payload"
    );
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 2);
}

#[tokio::test]
async fn grpc_publish_and_publish_batch_refuse_a_payload_nested_past_the_limit() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let mut client = IngestServiceClient::connect(format!("http://{}", gateway.grpc_addr))
        .await
        .unwrap();
    let event = |payload: String| PublishRequest {
        r#type: "order.created".into(),
        payload_json: payload,
        idempotency_key: String::new(),
        occurred_at: String::new(),
    };

    let status = client
        .publish(authorized(event(deep_payload(20_000)), &key))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("limit of 64 levels"),
        "{}",
        status.message()
    );

    let batch = PublishBatchRequest {
        events: vec![event(r#"{"n":1}"#.into()), event(deep_payload(20_000))],
    };
    let results = client
        .publish_batch(authorized(batch, &key))
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(matches!(
        results[0].outcome,
        Some(publish_result::Outcome::Accepted(_))
    ));
    let Some(publish_result::Outcome::Error(error)) = &results[1].outcome else {
        panic!("the deep item was accepted: {:?}", results[1]);
    };
    assert_eq!(error.status, 422);
    assert!(
        error.detail.contains("limit of 64 levels"),
        "{}",
        error.detail
    );
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 1);
}

fn authorized<T>(message: T, key: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    request
}

/// A gateway that lets payloads PostgreSQL cannot parse through validation,
/// so the group commit meets them; one writer, so concurrent requests share
/// its statements.
async fn gateway_without_a_depth_limit() -> TestGateway {
    spawn_gateway_with(|config| {
        config.max_payload_depth = usize::MAX;
        config.group_commit_writers = 1;
    })
    .await
}

#[tokio::test]
async fn an_event_postgresql_refuses_never_fails_another_projects_concurrent_events() {
    let gateway = gateway_without_a_depth_limit().await;
    let (victim, victim_key) = gateway.create_project_with_key("ingest").await;
    let (attacker, attacker_key) = gateway.create_project_with_key("ingest").await;
    let gateway = std::sync::Arc::new(gateway);

    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..300 {
        let (shared, key) = (gateway.clone(), victim_key.clone());
        tasks.spawn(async move {
            let body = event_text(&format!(r#"{{"n":{n}}}"#));
            ("victim", post_raw(&shared, &key, "/v1/events", body).await)
        });
        if n % 30 == 0 {
            let (shared, key) = (gateway.clone(), attacker_key.clone());
            tasks.spawn(async move {
                let body = event_text(&deep_payload(UNSTORABLE_LEVELS));
                (
                    "attacker",
                    post_raw(&shared, &key, "/v1/events", body).await,
                )
            });
        }
    }
    let mut victim_acknowledged = 0;
    while let Some(joined) = tasks.join_next().await {
        let (who, response) = joined.unwrap();
        let status = response.status();
        if who == "victim" {
            assert_eq!(status, 202, "{}", response.text().await.unwrap());
            victim_acknowledged += 1;
        } else {
            assert_eq!(status, 422);
            let body = problem(response).await;
            assert!(
                body["type"].as_str().unwrap().ends_with("event-refused"),
                "{body}"
            );
            let detail = body["detail"].as_str().unwrap();
            assert!(detail.contains("stack depth limit exceeded"), "{detail}");
        }
    }

    assert_eq!(victim_acknowledged, 300);
    assert_eq!(gateway.store.count_events(victim).await.unwrap(), 300);
    assert_eq!(gateway.store.count_events(attacker).await.unwrap(), 0);
    assert_eq!(gateway.queue.event_stream_len().await.unwrap(), 300);
}

#[tokio::test]
async fn a_batch_with_one_item_postgresql_refuses_stores_every_valid_item() {
    let gateway = gateway_without_a_depth_limit().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let mut items: Vec<String> = (0..50)
        .map(|n| event_text(&format!(r#"{{"n":{n}}}"#)))
        .collect();
    items[17] = event_text(&deep_payload(UNSTORABLE_LEVELS));

    let response = post_raw(
        &gateway,
        &key,
        "/v1/events/batch",
        format!(r#"{{"events":[{}]}}"#, items.join(",")),
    )
    .await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 49);
    assert_eq!(body["rejected"], 1);
    assert_eq!(body["results"][17]["status"], 422);
    assert_eq!(body["results"][16]["status"], 202);
    assert_eq!(body["results"][18]["status"], 202);
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 49);
    assert_eq!(gateway.queue.event_stream_len().await.unwrap(), 49);
}
