//! API keys with `expires_at` (issue #9, item 9): refused from that instant
//! on, even while the auth cache still holds them.

use std::time::Duration;

use eventflow_domain::Scopes;
use eventflow_test_support::{WITHIN, eventually, spawn_gateway_with};
use serde_json::json;

use crate::problem;

#[tokio::test]
async fn a_cached_key_is_refused_with_a_401_saying_it_expired_once_its_expiry_passes() {
    // A cache TTL far longer than the test: only the expiry check can stop the key.
    let gateway =
        spawn_gateway_with(|config| config.auth_cache_ttl = Duration::from_secs(600)).await;
    let project = gateway.store.create_project("p", None, None).await.unwrap();
    let expires_at = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let created = gateway
        .store
        .create_expiring_api_key(
            project.id,
            "short-lived",
            &Scopes::parse_list("ingest").unwrap(),
            Some(expires_at),
        )
        .await
        .unwrap();
    let key = created.plaintext.expose().to_owned();
    let event = json!({"type": "a", "payload": {}});
    assert_eq!(gateway.post_event(&key, &event).await.status(), 202);

    let refused = eventually(
        "the key to stop working past its expiry",
        WITHIN,
        || async {
            let response = gateway.post_event(&key, &event).await;
            (response.status() != 202).then_some(response)
        },
    )
    .await;

    assert!(time::OffsetDateTime::now_utc() >= expires_at);
    assert_eq!(refused.status(), 401);
    let body = problem(refused).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("expired"), "{detail}");
    let stored = gateway.store.count_events(project.id).await.unwrap();
    assert!(stored >= 1);
}

#[tokio::test]
async fn a_key_without_expiry_keeps_working() {
    let gateway = spawn_gateway_with(|_| {}).await;
    let (_, key) = gateway.create_project_with_key("ingest").await;
    let event = json!({"type": "a", "payload": {}});
    assert_eq!(gateway.post_event(&key, &event).await.status(), 202);
}
