//! What every service does the same way, checked against each of the three
//! (ingest gateway, dispatcher, query API), each started through its real
//! `Application` on port 0: liveness and readiness, gRPC health, metrics,
//! 405 problems naming the allowed methods, a stop that closes the
//! listeners, start-up errors that name the setting at fault, and a failed
//! build that leaves nothing running.
//!
//! Every check is one function taking the [`Service`]; `for_each_service!`
//! makes one test per service of it, so they run side by side.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use eventflow_test_support::{
    RunningService, ServiceApplication, TcpProxy, TestDatabase, WITHIN, dispatcher_config,
    eventually, gateway_config, prepare_service, query_api_config, unique_redis_prefix,
};
use serde_json::json;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// One of the three services.
#[derive(Debug, Clone, Copy)]
enum Service {
    Gateway,
    Dispatcher,
    QueryApi,
}

/// Where a service finds its dependencies, when not the test defaults.
#[derive(Debug, Default)]
struct Reach {
    database_url: Option<String>,
    redis_url: Option<String>,
    http_addr: Option<std::net::SocketAddr>,
}

/// How long a service waits for an unreachable dependency.
const DEPENDENCY_TIMEOUT: Duration = Duration::from_millis(500);

impl Service {
    /// The gRPC service its health reports on.
    fn grpc_service(self) -> &'static str {
        match self {
            Self::Gateway => "eventflow.ingest.v1.IngestService",
            Self::Dispatcher => "eventflow.dispatch.v1.DispatchControl",
            Self::QueryApi => "eventflow.query.v1.QueryService",
        }
    }

    /// Routes of its own answering 405, with the methods they allow.
    fn own_routes(self) -> &'static [(&'static str, &'static str, &'static str)] {
        match self {
            Self::Gateway => &[
                ("TRACE", "/v1/events", "POST"),
                ("GET", "/v1/events", "POST"),
                ("DELETE", "/v1/events/batch", "POST"),
            ],
            Self::Dispatcher => &[],
            Self::QueryApi => &[
                ("TRACE", "/v1/events", "GET"),
                ("DELETE", "/v1/stats", "GET"),
                (
                    "PUT",
                    "/v1/endpoints/ep_0192f3a0c0de7abc8def0123456789ab",
                    "DELETE, GET, PATCH",
                ),
                ("TRACE", "/openapi.json", "GET"),
            ],
        }
    }

    /// Builds it on `db` (reached as `reach` says) and starts it; the
    /// error of `Application::build` if that fails.
    async fn try_start(self, db: &TestDatabase, reach: Reach) -> anyhow::Result<RunningService> {
        let Reach {
            database_url,
            redis_url,
            http_addr,
        } = reach;
        let prefix = unique_redis_prefix();
        prepare_service();
        macro_rules! start {
            ($app:ty, $config:expr) => {{
                let mut config = $config;
                if let Some(database_url) = database_url {
                    config.service.database_url = database_url;
                    config.service.database_timeout = DEPENDENCY_TIMEOUT;
                }
                if let Some(redis_url) = redis_url {
                    config.service.redis_url = redis_url;
                    config.service.redis_timeout = DEPENDENCY_TIMEOUT;
                }
                if let Some(http_addr) = http_addr {
                    config.service.http_addr = http_addr;
                }
                let app = <$app>::build(config).await?;
                Ok(RunningService::run(app))
            }};
        }
        match self {
            Self::Gateway => start!(ingest_gateway::Application, gateway_config(db.url())),
            Self::Dispatcher => start!(
                dispatcher::Application,
                dispatcher_config(db.url(), &prefix)
            ),
            Self::QueryApi => start!(query_api::Application, query_api_config(db.url(), &prefix)),
        }
    }

    /// Starts it on a fresh database of its own.
    async fn start(self) -> RunningService {
        let db = TestDatabase::create().await;
        let service = self.try_start(&db, Reach::default()).await;
        service.expect("the service starts").owning(db)
    }

    /// The error `Application::build` gives when `reach` is out of reach.
    async fn start_error(self, reach: Reach) -> String {
        let db = TestDatabase::create().await;
        let error = self.try_start(&db, reach).await.err().expect("build fails");
        format!("{error:#}")
    }
}

/// One test per service of each check.
macro_rules! for_each_service {
    ($($check:ident),* $(,)?) => {$(
        mod $check {
            #[tokio::test]
            async fn gateway() {
                super::$check(super::Service::Gateway).await;
            }

            #[tokio::test]
            async fn dispatcher() {
                super::$check(super::Service::Dispatcher).await;
            }

            #[tokio::test]
            async fn query_api() {
                super::$check(super::Service::QueryApi).await;
            }
        }
    )*};
}

for_each_service!(
    healthz_and_readyz_answer_ok_when_postgres_and_redis_do,
    readyz_and_grpc_health_name_postgres_when_it_stops_answering,
    grpc_health_turns_serving_once_the_dependencies_answer,
    metrics_are_served_in_prometheus_text,
    unsupported_methods_are_405_problems_naming_the_allowed_methods,
    run_until_returns_after_the_signal_and_stops_listening,
    start_up_names_the_setting_of_an_unreachable_dependency,
    a_build_on_a_taken_port_fails_and_leaves_nothing_running,
);

async fn health_client(service: &RunningService) -> HealthClient<tonic::transport::Channel> {
    let channel = tonic::transport::Channel::from_shared(service.grpc_url())
        .expect("a valid gRPC url")
        .connect()
        .await
        .expect("gRPC accepts connections");
    HealthClient::new(channel)
}

async fn grpc_status(
    health: &HealthClient<tonic::transport::Channel>,
    grpc_service: &str,
) -> ServingStatus {
    let request = HealthCheckRequest {
        service: grpc_service.to_owned(),
    };
    let response = health
        .clone()
        .check(request)
        .await
        .expect("health answers")
        .into_inner();
    ServingStatus::try_from(response.status).expect("a known status")
}

async fn wait_for_grpc_status(
    health: &HealthClient<tonic::transport::Channel>,
    grpc_service: &str,
    expected: ServingStatus,
) {
    let what = format!("{grpc_service} to turn {expected:?}");
    eventually(&what, WITHIN, || async {
        grpc_status(health, grpc_service).await == expected
    })
    .await;
}

async fn healthz_and_readyz_answer_ok_when_postgres_and_redis_do(service: Service) {
    let app = service.start().await;

    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body, json!({"postgres": "ok", "redis": "ok"}));
    app.shutdown().await.unwrap();
}

async fn readyz_and_grpc_health_name_postgres_when_it_stops_answering(service: Service) {
    let db = TestDatabase::create().await;
    let proxy = TcpProxy::start(TestDatabase::server_addr()).await;
    let reach = Reach {
        database_url: Some(db.url_through(proxy.addr())),
        ..Reach::default()
    };
    let app = service.try_start(&db, reach).await.unwrap().owning(db);
    let health = health_client(&app).await;
    let grpc_service = service.grpc_service();
    wait_for_grpc_status(&health, grpc_service, ServingStatus::Serving).await;

    proxy.cut().await;
    let response = app.get("/readyz").await;

    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, json!({"postgres": "unavailable", "redis": "ok"}));
    wait_for_grpc_status(&health, grpc_service, ServingStatus::NotServing).await;

    proxy.restore();
    wait_for_grpc_status(&health, grpc_service, ServingStatus::Serving).await;
    app.shutdown().await.unwrap();
}

async fn grpc_health_turns_serving_once_the_dependencies_answer(service: Service) {
    let app = service.start().await;
    let health = health_client(&app).await;

    wait_for_grpc_status(&health, service.grpc_service(), ServingStatus::Serving).await;

    assert_eq!(grpc_status(&health, "").await, ServingStatus::Serving);
    app.shutdown().await.unwrap();
}

async fn metrics_are_served_in_prometheus_text(service: Service) {
    let app = service.start().await;
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

async fn unsupported_methods_are_405_problems_naming_the_allowed_methods(service: Service) {
    let app = service.start().await;
    let shared: &[(&str, &str, &str)] = &[
        ("TRACE", "/healthz", "GET"),
        ("POST", "/metrics", "GET"),
        ("MADEUP", "/nowhere", ""),
    ];

    for (method, path, allow) in shared.iter().chain(service.own_routes()) {
        let response = app.send(method, path).await;
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], *allow, "{method} {path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{method} {path}"
        );
    }
    let unknown = app.get("/nowhere").await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.headers()["content-type"],
        "application/problem+json"
    );
    app.shutdown().await.unwrap();
}

async fn run_until_returns_after_the_signal_and_stops_listening(service: Service) {
    let app = service.start().await;
    let (http_url, client) = (app.url("/healthz"), app.client.clone());
    assert_eq!(app.get("/healthz").await.status(), 200);

    app.shutdown().await.unwrap();

    assert!(
        client.get(http_url).send().await.is_err(),
        "HTTP still accepts after shutdown"
    );
}

async fn start_up_names_the_setting_of_an_unreachable_dependency(service: Service) {
    let unreachable = [
        (
            Reach {
                database_url: Some("postgres://postgres@127.0.0.1:1/nowhere".to_owned()),
                ..Reach::default()
            },
            "EVENTFLOW_DATABASE_URL",
        ),
        (
            Reach {
                redis_url: Some("redis://127.0.0.1:1".to_owned()),
                ..Reach::default()
            },
            "EVENTFLOW_REDIS_URL",
        ),
    ];

    for (reach, setting) in unreachable {
        let error = service.start_error(reach).await;
        assert!(error.contains(setting), "{error}");
    }
}

async fn a_build_on_a_taken_port_fails_and_leaves_nothing_running(service: Service) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let db = TestDatabase::create().await;
    let alive = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let alive_before = alive();

    let reach = Reach {
        http_addr: Some(taken.local_addr().unwrap()),
        ..Reach::default()
    };
    let error = service
        .try_start(&db, reach)
        .await
        .err()
        .expect("build fails");

    assert!(
        format!("{error:#}").contains("EVENTFLOW_HTTP_ADDR"),
        "{error:#}"
    );
    assert_eq!(alive(), alive_before, "the failed build left tasks running");
}
