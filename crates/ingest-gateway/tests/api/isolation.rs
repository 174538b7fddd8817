use eventflow_domain::EventId;
use eventflow_test_support::spawn_gateway;
use serde_json::{Value, json};

#[tokio::test]
async fn a_key_publishes_only_into_its_own_project() {
    let gateway = spawn_gateway().await;
    let (project_a, key_a) = gateway.create_project_with_key("ingest").await;
    let (project_b, _key_b) = gateway.create_project_with_key("ingest").await;

    let response = gateway
        .post_event(&key_a, &json!({"type": "a", "payload": {}}))
        .await;

    let body: Value = response.json().await.unwrap();
    let id = EventId::parse(body["id"].as_str().unwrap()).unwrap();
    assert!(gateway.store.event(project_a, id).await.unwrap().is_some());
    assert!(gateway.store.event(project_b, id).await.unwrap().is_none());
    assert_eq!(gateway.store.count_events(project_b).await.unwrap(), 0);
    let entries = gateway.queue.read_event_stream(10).await.unwrap();
    assert_eq!(entries[0].project_id, project_a);
}

#[tokio::test]
async fn idempotency_keys_are_scoped_per_project() {
    let gateway = spawn_gateway().await;
    let (_, key_a) = gateway.create_project_with_key("ingest").await;
    let (_, key_b) = gateway.create_project_with_key("ingest").await;
    let body = json!({"type": "a", "payload": {}, "idempotency_key": "shared"});

    let a: Value = gateway
        .post_event(&key_a, &body)
        .await
        .json()
        .await
        .unwrap();
    let b: Value = gateway
        .post_event(&key_b, &body)
        .await
        .json()
        .await
        .unwrap();

    assert_ne!(a["id"], b["id"]);
    assert_eq!(b["duplicate"], false);
}

#[tokio::test]
async fn a_revoked_key_is_refused_once_the_cache_expires() {
    let gateway = eventflow_test_support::spawn_gateway_with(|config| {
        config.auth_cache_ttl = std::time::Duration::from_millis(300)
    })
    .await;
    let (project, _) = gateway.create_project_with_key("ingest").await;
    let scopes = eventflow_domain::Scopes::parse_list("ingest").unwrap();
    let created = gateway
        .store
        .create_api_key(project, "to revoke", &scopes)
        .await
        .unwrap();
    let key = created.plaintext.expose().to_owned();
    assert_eq!(
        gateway
            .post_event(&key, &json!({"type": "a", "payload": {}}))
            .await
            .status(),
        202
    );

    gateway
        .store
        .revoke_api_key(created.record.id)
        .await
        .unwrap();
    // An event the gateway refuses after authenticating (no type) stores
    // nothing, so the key can be tried until its cached entry expires.
    eventflow_test_support::eventually(
        "the revoked key to be refused",
        eventflow_test_support::WITHIN,
        || async {
            gateway
                .post_event(&key, &json!({"payload": {}}))
                .await
                .status()
                == 401
        },
    )
    .await;

    let response = gateway
        .post_event(&key, &json!({"type": "a", "payload": {}}))
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 1);
}
