use eventflow_test_support::spawn_gateway;
use serde_json::{Value, json};

use crate::problem;

#[tokio::test]
async fn the_same_idempotency_key_returns_the_same_event() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let body = json!({"type": "a", "payload": {"n": 1}, "idempotency_key": "order-1"});

    let first: Value = gateway.post_event(&key, &body).await.json().await.unwrap();
    let second = gateway.post_event(&key, &body).await;

    assert_eq!(second.status(), 202);
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    assert_eq!(first["duplicate"], false);
    assert_eq!(second["duplicate"], true);
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 1);
    assert_eq!(gateway.queue.event_stream_len().await.unwrap(), 1);
}

#[tokio::test]
async fn the_idempotency_key_header_works_like_the_field() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let post = || {
        gateway
            .client
            .post(gateway.url("/v1/events"))
            .bearer_auth(&key)
            .header("Idempotency-Key", "hdr-1")
            .json(&json!({"type": "a", "payload": {}}))
            .send()
    };

    let first: Value = post().await.unwrap().json().await.unwrap();
    let second: Value = post().await.unwrap().json().await.unwrap();

    assert_eq!(first["id"], second["id"]);
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 1);
}

#[tokio::test]
async fn the_same_key_with_a_different_body_is_422() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let first: Value = gateway
        .post_event(
            &key,
            &json!({"type": "a", "payload": {"n": 1}, "idempotency_key": "k"}),
        )
        .await
        .json()
        .await
        .unwrap();

    let response = gateway
        .post_event(
            &key,
            &json!({"type": "a", "payload": {"n": 2}, "idempotency_key": "k"}),
        )
        .await;

    assert_eq!(response.status(), 422);
    let body = problem(response).await;
    assert_eq!(
        body["type"],
        "https://eventflow.dev/problems/idempotency-key-reused"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(first["id"].as_str().unwrap())
    );
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 1);
}

#[tokio::test]
async fn a_retry_with_reordered_keys_is_still_the_same_request() {
    let gateway = spawn_gateway().await;
    let (_, key) = gateway.create_project_with_key("ingest").await;
    let send = |raw: &'static str| {
        gateway
            .client
            .post(gateway.url("/v1/events"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(raw)
            .send()
    };

    let first: Value = send(r#"{"type":"a","payload":{"x":1,"y":2},"idempotency_key":"k"}"#)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = send(r#"{"idempotency_key":"k","payload":{"y":2, "x":1},"type":"a"}"#)
        .await
        .unwrap();

    assert_eq!(second.status(), 202);
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
}

#[tokio::test]
async fn a_hundred_concurrent_posts_with_one_key_make_exactly_one_event() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let body = json!({"type": "a", "payload": {"n": 1}, "idempotency_key": "race"});

    let posts = (0..100).map(|_| async {
        let response = gateway.post_event(&key, &body).await;
        assert_eq!(response.status(), 202);
        response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    });
    let ids = futures_util::future::join_all(posts).await;

    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 1);
    assert_eq!(gateway.queue.event_stream_len().await.unwrap(), 1);
}
