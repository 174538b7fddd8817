//! Issue #9, item 8: endpoint signing secrets are encrypted at rest with
//! `EVENTFLOW_SECRETS_KEY`; deliveries still verify with the secret the API
//! reveals; the key rotates; a wrong key fails clearly.

use std::time::Duration;

use eventflow_domain::SecretsKeyring;
use eventflow_test_support::{
    ServiceApplication, TEST_SECRETS_KEY, TestGateway, WebhookSink, spawn_gateway,
};
use reqwest::Method;
use serde_json::json;

use crate::api_keys::send;
use crate::endpoints::{create, delivering, post_event, verifies};

/// The endpoint's row as PostgreSQL holds it, every column as text.
async fn stored_row(gateway: &TestGateway, id: &str) -> String {
    let uuid = eventflow_domain::EndpointId::parse(id).unwrap().uuid();
    let client = gateway.db.client().await;
    let row = client
        .query_one(
            "SELECT row_to_json(e)::text FROM endpoints e WHERE id = $1",
            &[&uuid],
        )
        .await
        .unwrap();
    row.get(0)
}

/// The random part of a `whsec_…` secret.
fn random_part(secret: &str) -> &str {
    &secret["whsec_".len()..]
}

#[tokio::test]
async fn the_row_holds_no_plaintext_secret_and_deliveries_verify_with_the_revealed_one() {
    let gateway = spawn_gateway().await;
    let (_dispatcher, api) = delivering(&gateway).await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("read,admin").await;
    let ingest = gateway.create_key(project, "ingest").await;
    let created = create(&api, &key, json!({"url": sink.url("/hooks")})).await;
    let id = created["id"].as_str().unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();

    let row = stored_row(&gateway, id).await;
    assert!(!row.contains(random_part(&secret)), "{row}");
    assert!(row.contains("\"secret\":null"), "{row}");
    assert!(row.contains("efsec1:"), "{row}");
    let (_, revealed) = send(
        &api,
        Method::GET,
        &format!("/v1/endpoints/{id}/secret"),
        &key,
        None,
    )
    .await;
    assert_eq!(revealed["secret"], secret.as_str());
    post_event(&gateway, &ingest, "order.created").await;
    let received = sink.wait_for(1, Duration::from_secs(10)).await;
    assert!(verifies(&received[0], &secret));

    let (status, rotated) = send(
        &api,
        Method::POST,
        &format!("/v1/endpoints/{id}/secret/rotate"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let newest = rotated["secret"].as_str().unwrap();
    let row = stored_row(&gateway, id).await;
    assert!(!row.contains(random_part(newest)), "{row}");
    assert!(
        !row.contains(random_part(&secret)),
        "the previous secret is sealed too: {row}"
    );
    assert!(row.contains("\"previous_secret\":null"), "{row}");
}

#[tokio::test]
async fn a_rotated_key_reseals_at_start_a_plaintext_row_gets_sealed_and_a_wrong_key_stops_the_service()
 {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("read,admin").await;
    // Sealed with the test key by the store.
    let sealed_before = gateway
        .create_endpoint(project, "https://example.com/a", &["*"])
        .await;
    // A row from before schema v5: its secret in plaintext.
    let legacy = eventflow_domain::EndpointId::new();
    let legacy_secret = eventflow_domain::EndpointSecret::generate();
    gateway
        .db
        .client()
        .await
        .execute(
            "INSERT INTO endpoints (id, project_id, url, secret) VALUES ($1, $2, 'https://example.com/b', $3)",
            &[&legacy.uuid(), &project.uuid(), &legacy_secret.as_str()],
        )
        .await
        .unwrap();

    let (new_keyring, new_key) = SecretsKeyring::generate();
    let api = gateway
        .spawn_query_api_with(|config| {
            config.dispatcher_grpc_url = "http://127.0.0.1:1".to_owned();
            config.secrets_key =
                Some(SecretsKeyring::parse(&format!("{new_key},{TEST_SECRETS_KEY}")).unwrap());
        })
        .await;

    for (id, secret) in [
        (
            sealed_before.id.to_string(),
            sealed_before.secret.as_str().to_owned(),
        ),
        (legacy.to_string(), legacy_secret.as_str().to_owned()),
    ] {
        let row = stored_row(&gateway, &id).await;
        assert!(!row.contains(random_part(&secret)), "{row}");
        assert!(
            row.contains(&format!("efsec1:{}:", new_keyring.sealing_key_id())),
            "resealed with the new key: {row}"
        );
        let (status, revealed) = send(
            &api,
            Method::GET,
            &format!("/v1/endpoints/{id}/secret"),
            &key,
            None,
        )
        .await;
        assert_eq!(status, 200, "{revealed}");
        assert_eq!(revealed["secret"], secret.as_str());
    }

    // The old key alone no longer opens what the new key sealed.
    let mut config = gateway.query_api_config();
    config.secrets_key = Some(SecretsKeyring::parse(TEST_SECRETS_KEY).unwrap());
    let error = query_api::Application::build(config).await.err().unwrap();
    let message = format!("{error:#}");
    assert!(
        message.contains("EVENTFLOW_SECRETS_KEY does not list"),
        "{message}"
    );
    assert!(message.contains(new_keyring.sealing_key_id()), "{message}");
    // Without a key the service does not start.
    let mut config = gateway.query_api_config();
    config.secrets_key = None;
    let error = query_api::Application::build(config).await.err().unwrap();
    assert!(
        format!("{error:#}").contains("EVENTFLOW_SECRETS_KEY"),
        "{error:#}"
    );
}
