use eventflow_test_support::{spawn_gateway, spawn_gateway_with};
use serde_json::{Value, json};

use crate::{order_created, problem};

#[tokio::test]
async fn a_batch_answers_one_result_per_item_and_stores_only_the_valid_ones() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let events = vec![
        order_created(0),
        json!({"type": "", "payload": {}}),
        order_created(2),
        json!({"type": "a", "payload": "not an object"}),
        json!("not an event"),
        order_created(5),
    ];

    let response = gateway.post_batch(&key, &events).await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 3);
    assert_eq!(body["rejected"], 3);
    let statuses: Vec<u64> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [202, 422, 202, 422, 422, 202]);
    assert_eq!(
        body["results"][1]["error"]["errors"][0]["field"],
        "events[1].type"
    );
    assert!(
        body["results"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("evt_")
    );
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 3);
    assert_eq!(gateway.queue.event_stream_len().await.unwrap(), 3);
}

#[tokio::test]
async fn a_batch_of_1000_is_accepted_and_1001_is_refused() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let thousand: Vec<Value> = (0..1000).map(order_created).collect();

    let response = gateway.post_batch(&key, &thousand).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 1000);

    let too_many: Vec<Value> = (0..1001).map(order_created).collect();
    let response = gateway.post_batch(&key, &too_many).await;
    assert_eq!(response.status(), 422);
    problem(response).await;
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 1000);
}

#[tokio::test]
async fn duplicate_keys_inside_one_batch_resolve_to_one_event() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let same = json!({"type": "a", "payload": {"n": 1}, "idempotency_key": "k"});
    let conflicting = json!({"type": "a", "payload": {"n": 2}, "idempotency_key": "k"});

    let body: Value = gateway
        .post_batch(&key, &[same.clone(), same, conflicting])
        .await
        .json()
        .await
        .unwrap();

    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], 202);
    assert_eq!(results[1]["status"], 202);
    assert_eq!(results[0]["id"], results[1]["id"]);
    assert_eq!(results[1]["duplicate"], true);
    assert_eq!(results[2]["status"], 422);
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 1);
}

#[tokio::test]
async fn a_batch_item_with_an_oversized_payload_is_refused_alone() {
    let gateway = spawn_gateway_with(|config| config.max_event_bytes = 1024).await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let big = json!({"type": "a", "payload": {"blob": "x".repeat(2000)}});

    let body: Value = gateway
        .post_batch(&key, &[order_created(0), big])
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(body["results"][0]["status"], 202);
    assert_eq!(body["results"][1]["status"], 413);
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 1);
}

#[tokio::test]
async fn a_batch_that_is_not_an_events_list_is_refused_whole() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    for body in [
        json!([order_created(0)]),
        json!({"events": []}),
        json!({"items": [order_created(0)]}),
    ] {
        let response = gateway
            .client
            .post(gateway.url("/v1/events/batch"))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{body}");
        problem(response).await;
    }
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 0);
}
