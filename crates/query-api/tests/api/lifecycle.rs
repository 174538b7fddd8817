//! The query API's own answers at its edges: metrics that made-up methods
//! and paths do not grow, gRPC without a key, control characters in names.
//! What every service does the same way (health, readiness, 405s, stopping)
//! is checked in eventflow-test-support's `tests/lifecycle.rs`.

use eventflow_proto::query::v1::GetEventRequest;
use eventflow_proto::query::v1::query_service_client::QueryServiceClient;

use crate::spawn_app;

async fn channel(grpc_url: String) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(grpc_url)
        .expect("a valid gRPC url")
        .connect()
        .await
        .expect("gRPC accepts connections")
}

#[tokio::test]
async fn made_up_methods_and_paths_do_not_grow_the_metrics() {
    let app = spawn_app().await;
    let send = async |method: &str, path: &str| app.send(method, path).await.status();
    // One of each first, so every series they need exists before measuring.
    send("WARMUP", "/warm/up").await;
    send("WARMUP", "/v1/events").await;
    send("GET", "/v1/events/evt_warm").await;
    app.get("/metrics").await;
    let before = app.get("/metrics").await.text().await.unwrap();

    for n in 0..300 {
        send(&format!("MADEUP{n}"), &format!("/made/up/{n}")).await;
        send(&format!("MADEUP{n}"), "/v1/events").await;
        send("GET", &format!("/v1/events/evt_{n}")).await;
    }

    let after = app.get("/metrics").await.text().await.unwrap();
    assert!(
        after.len() < before.len() + 2_000,
        "/metrics grew from {} to {} bytes",
        before.len(),
        after.len()
    );
    assert!(
        !after.contains("MADEUP") && !after.contains("/made/up"),
        "{after}"
    );
    assert!(after.contains(r#"method="other""#), "{after}");
    assert!(after.contains(r#"route="/v1/events/{id}""#), "{after}");
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn get_event_without_an_api_key_is_unauthenticated() {
    let app = spawn_app().await;
    let mut query = QueryServiceClient::new(channel(app.grpc_url()).await);

    let request = GetEventRequest {
        id: eventflow_domain::EventId::new().to_string(),
    };
    let status = query.get_event(request).await.unwrap_err();

    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    app.shutdown().await.unwrap();
}

/// Found by scripts/test-api-schema.sh: a NUL reached PostgreSQL, which
/// cannot store it in text, and the answer was a 500.
#[tokio::test]
async fn control_characters_in_names_are_422_problems_not_500s() {
    let gateway = eventflow_test_support::spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let (project, _) = gateway.create_project_with_key("read").await;
    let admin = eventflow_test_support::TEST_ADMIN_TOKEN;
    let post = async |path: &str, body: serde_json::Value| {
        let response = api
            .client
            .post(api.url(path))
            .bearer_auth(admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let problem: serde_json::Value = response.json().await.unwrap();
        (status, problem["errors"][0]["field"].clone())
    };

    let project_name = post("/v1/projects", serde_json::json!({"name": "a\u{0}b"})).await;
    let key_name = post(
        "/v1/api-keys",
        serde_json::json!({"project_id": project.to_string(), "scopes": ["read"], "name": "x\u{1b}[31m"}),
    )
    .await;

    assert_eq!(project_name, (422, serde_json::json!("name")));
    assert_eq!(key_name, (422, serde_json::json!("name")));
}
