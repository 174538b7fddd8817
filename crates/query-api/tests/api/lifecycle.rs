//! Starting, answering and stopping.

use std::time::{Duration, Instant};

use eventflow_proto::query::v1::GetEventRequest;
use eventflow_proto::query::v1::query_service_client::QueryServiceClient;
use eventflow_test_support::TestDatabase;
use query_api::Application;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::{spawn_app, test_config};

const QUERY_SERVICE: &str = "eventflow.query.v1.QueryService";

async fn channel(grpc_url: String) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(grpc_url)
        .expect("a valid gRPC url")
        .connect()
        .await
        .expect("gRPC accepts connections")
}

async fn grpc_status(
    health: &mut HealthClient<tonic::transport::Channel>,
    service: &str,
) -> ServingStatus {
    let request = HealthCheckRequest {
        service: service.to_owned(),
    };
    let response = health
        .check(request)
        .await
        .expect("health answers")
        .into_inner();
    ServingStatus::try_from(response.status).expect("a known status")
}

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;

    let response = app.get("/healthz").await;

    assert_eq!(response.status(), 200);
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn readyz_answers_ok_when_postgres_and_redis_answer() {
    let app = spawn_app().await;

    let response = app.get("/readyz").await;

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"postgres": "ok", "redis": "ok"}));
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn metrics_are_served_in_prometheus_text() {
    let app = spawn_app().await;
    app.get("/healthz").await;

    let response = app.get("/metrics").await;

    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("http_server_request_duration_seconds"),
        "{body}"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn made_up_methods_and_paths_do_not_grow_the_metrics() {
    let app = spawn_app().await;
    let send = async |method: &str, path: &str| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        app.client
            .request(method, app.url(path))
            .send()
            .await
            .unwrap()
            .status()
    };
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
async fn grpc_health_turns_serving_once_the_dependencies_answer() {
    let app = spawn_app().await;
    let mut health = HealthClient::new(channel(app.grpc_url()).await);

    let deadline = Instant::now() + Duration::from_secs(6);
    while grpc_status(&mut health, QUERY_SERVICE).await != ServingStatus::Serving {
        assert!(
            Instant::now() < deadline,
            "query service never turned SERVING"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert_eq!(grpc_status(&mut health, "").await, ServingStatus::Serving);
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

#[tokio::test]
async fn run_until_returns_after_the_signal_and_stops_listening() {
    let app = spawn_app().await;
    let (http_url, client) = (app.url("/healthz"), app.client.clone());
    assert_eq!(app.get("/healthz").await.status(), 200);

    app.shutdown().await.unwrap();

    assert!(
        client.get(http_url).send().await.is_err(),
        "HTTP still accepts after shutdown"
    );
}

#[tokio::test]
async fn build_names_the_setting_when_redis_is_unreachable() {
    let db = TestDatabase::create().await;
    let mut config = test_config(db.url());
    config.redis_url = "redis://127.0.0.1:1".to_owned();
    config.redis_timeout = Duration::from_millis(500);

    let error = Application::build(config).await.err().expect("build fails");

    assert!(
        format!("{error:#}").contains("EVENTFLOW_REDIS_URL"),
        "{error:#}"
    );
}

#[tokio::test]
async fn trace_and_unknown_methods_are_405_problems_naming_the_allowed_methods() {
    let app = spawn_app().await;
    let send = async |method: &str, path: &str| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .client
            .request(method, app.url(path))
            .send()
            .await
            .unwrap();
        let allow = response
            .headers()
            .get("allow")
            .map(|value| value.to_str().unwrap().to_owned());
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        (response.status().as_u16(), allow, content_type)
    };

    for (method, path, allow) in [
        ("TRACE", "/v1/events", Some("GET")),
        ("DELETE", "/v1/stats", Some("GET")),
        (
            "PUT",
            "/v1/endpoints/ep_0192f3a0c0de7abc8def0123456789ab",
            Some("DELETE, GET, PATCH"),
        ),
        ("TRACE", "/openapi.json", Some("GET")),
        ("MADEUP", "/nowhere", Some("")),
    ] {
        let (status, allowed, content_type) = send(method, path).await;
        assert_eq!(status, 405, "{method} {path}");
        assert_eq!(allowed.as_deref(), allow, "{method} {path}");
        assert_eq!(content_type, "application/problem+json", "{method} {path}");
    }
    let (status, _, content_type) = send("GET", "/nowhere").await;
    assert_eq!(status, 404);
    assert_eq!(content_type, "application/problem+json");
    app.shutdown().await.unwrap();
}

/// Found by scripts/test-api-schema.sh: a NUL reached PostgreSQL, which
/// cannot store it in text, and the answer was a 500.
#[tokio::test]
async fn control_characters_in_names_are_400_problems_not_500s() {
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

    assert_eq!(project_name, (400, serde_json::json!("name")));
    assert_eq!(key_name, (400, serde_json::json!("name")));
}
