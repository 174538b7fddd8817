//! Starting, answering and stopping.

use std::time::{Duration, Instant};

use dispatcher::Application;
use eventflow_proto::dispatch::v1::RefreshEndpointCacheRequest;
use eventflow_test_support::{TcpProxy, TestDatabase};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::{spawn_app, spawn_app_on, test_config};

const DISPATCH_CONTROL: &str = "eventflow.dispatch.v1.DispatchControl";

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

async fn wait_for_status(
    health: &mut HealthClient<tonic::transport::Channel>,
    expected: ServingStatus,
) {
    let deadline = Instant::now() + Duration::from_secs(6);
    while grpc_status(health, DISPATCH_CONTROL).await != expected {
        assert!(
            Instant::now() < deadline,
            "dispatch control never turned {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn health_client(grpc_url: String) -> HealthClient<tonic::transport::Channel> {
    let channel = tonic::transport::Channel::from_shared(grpc_url)
        .expect("a valid gRPC url")
        .connect()
        .await
        .expect("gRPC accepts connections");
    HealthClient::new(channel)
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
async fn readyz_and_grpc_health_name_postgres_when_it_stops_answering() {
    let db = TestDatabase::create().await;
    let proxy = TcpProxy::start(TestDatabase::server_addr()).await;
    let mut config = test_config(&db.url_through(proxy.addr()));
    config.database_timeout = Duration::from_millis(500);
    let app = spawn_app_on(db, config).await;
    let mut health = health_client(app.grpc_url()).await;
    wait_for_status(&mut health, ServingStatus::Serving).await;

    proxy.cut().await;
    let response = app.get("/readyz").await;

    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"postgres": "unavailable", "redis": "ok"})
    );
    wait_for_status(&mut health, ServingStatus::NotServing).await;

    proxy.restore();
    wait_for_status(&mut health, ServingStatus::Serving).await;
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
async fn unknown_paths_get_a_problem_404() {
    let app = spawn_app().await;

    let response = app.get("/nowhere").await;

    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn grpc_health_turns_serving_once_the_dependencies_answer() {
    let app = spawn_app().await;
    let mut health = health_client(app.grpc_url()).await;

    wait_for_status(&mut health, ServingStatus::Serving).await;

    assert_eq!(grpc_status(&mut health, "").await, ServingStatus::Serving);
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn refresh_endpoint_cache_succeeds_for_every_project_or_one() {
    let app = spawn_app().await;
    let mut control = crate::scenario::control(&app).await;

    let all = RefreshEndpointCacheRequest {
        project_id: String::new(),
    };
    control.refresh_endpoint_cache(all).await.unwrap();
    let one = RefreshEndpointCacheRequest {
        project_id: eventflow_domain::ProjectId::new().to_string(),
    };
    control.refresh_endpoint_cache(one).await.unwrap();

    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn refresh_endpoint_cache_refuses_a_malformed_project_id() {
    let app = spawn_app().await;
    let mut control = crate::scenario::control(&app).await;

    let request = RefreshEndpointCacheRequest {
        project_id: "ep_123".to_owned(),
    };
    let status = control.refresh_endpoint_cache(request).await.unwrap_err();

    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("invalid project id"),
        "{}",
        status.message()
    );
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
async fn build_names_the_setting_when_postgres_is_unreachable() {
    let db = TestDatabase::create().await;
    let mut config = test_config(db.url());
    config.database_url = "postgres://postgres@127.0.0.1:1/nowhere".to_owned();
    config.database_timeout = Duration::from_millis(500);

    let error = Application::build(config).await.err().expect("build fails");

    assert!(
        format!("{error:#}").contains("EVENTFLOW_DATABASE_URL"),
        "{error:#}"
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
    for (method, path, allow) in [
        ("TRACE", "/healthz", "GET"),
        ("POST", "/metrics", "GET"),
        ("MADEUP", "/nowhere", ""),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{method} {path}"
        );
    }
    assert_eq!(app.get("/nowhere").await.status(), 404);
    app.shutdown().await.unwrap();
}
