//! query-api integration tests: one binary, one module per feature. Every
//! test starts the real `Application` on port 0 against a fresh database and
//! its own Redis key prefix.

// Helpers here panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used)]

mod api_keys;
mod deliveries;
mod endpoints;
mod events;
mod grpc;
mod isolation;
mod lifecycle;
mod projects;
mod stats;

use std::net::SocketAddr;
use std::time::Duration;

use eventflow_test_support::{TestDatabase, redis_url, unique_redis_prefix};
use query_api::{Application, Config};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running query API.
pub struct TestApp {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub client: reqwest::Client,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    // Kept alive as long as the app uses it.
    _db: TestDatabase,
}

/// The settings a test query API starts from.
pub fn test_config(database_url: &str) -> Config {
    let mut config = Config::with_urls(database_url, &redis_url()).expect("query-api defaults");
    config.redis_key_prefix = unique_redis_prefix();
    config.http_addr = "127.0.0.1:0".parse().expect("address");
    config.grpc_addr = "127.0.0.1:0".parse().expect("address");
    config.shutdown_timeout = Duration::from_secs(5);
    config
}

/// Starts a query API with default test settings on a fresh database.
pub async fn spawn_app() -> TestApp {
    let db = TestDatabase::create().await;
    let config = test_config(db.url());
    spawn_app_on(db, config).await
}

/// Starts a query API through `Application::build` and `run_until`.
pub async fn spawn_app_on(db: TestDatabase, config: Config) -> TestApp {
    eventflow_runtime::telemetry::init_for_tests();
    eventflow_runtime::tls::install_crypto_provider();
    let app = Application::build(config).await.expect("query-api starts");
    let (http_addr, grpc_addr) = (app.http_addr(), app.grpc_addr());
    let stop = CancellationToken::new();
    let task = tokio::spawn(app.run_until(stop.clone().cancelled_owned()));
    TestApp {
        http_addr,
        grpc_addr,
        client: reqwest::Client::new(),
        stop,
        task,
        _db: db,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http_addr)
    }

    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request reaches the query API")
    }

    /// Sends the stop signal and returns what `run_until` returned.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("run_until returns within the shutdown timeout")
            .expect("run_until does not panic")
    }
}
