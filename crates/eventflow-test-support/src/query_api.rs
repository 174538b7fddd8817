//! The query API started through its real `Application`, on port 0, next to a
//! gateway (same database and Redis prefix) with a known admin token.

use std::net::SocketAddr;
use std::time::Duration;

use eventflow_domain::SecretString;
use query_api::{Application, Config};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{TestGateway, redis_url};

/// The admin token test query APIs accept.
pub const TEST_ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A running query API.
pub struct TestQueryApi {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub client: reqwest::Client,
    stop: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestQueryApi {
    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http_addr)
    }

    /// Asks the query API to stop and waits until it has drained.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }
}

impl Drop for TestQueryApi {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl TestGateway {
    /// Test settings for a query API sharing this gateway's database and Redis prefix.
    pub fn query_api_config(&self) -> Config {
        let mut config =
            Config::with_urls(self.db.url(), &redis_url()).expect("query-api defaults");
        config.redis_key_prefix = self.redis_prefix.clone();
        config.http_addr = "127.0.0.1:0".parse().expect("address");
        config.grpc_addr = "127.0.0.1:0".parse().expect("address");
        config.database_pool_size = 4;
        config.shutdown_timeout = Duration::from_secs(5);
        config.admin_token = Some(SecretString::new(TEST_ADMIN_TOKEN.to_owned()));
        config.auth_cache_ttl = Duration::from_millis(300);
        config
    }

    /// Starts a query API next to this gateway after `adjust` changed its settings
    /// (e.g. `dispatcher_grpc_url` pointing at a test dispatcher).
    pub async fn spawn_query_api_with(&self, adjust: impl FnOnce(&mut Config)) -> TestQueryApi {
        eventflow_runtime::telemetry::init_for_tests();
        let mut config = self.query_api_config();
        adjust(&mut config);
        let app = Application::build(config).await.expect("query-api starts");
        let (http_addr, grpc_addr) = (app.http_addr(), app.grpc_addr());
        let stop = CancellationToken::new();
        let task = tokio::spawn(app.run_until(stop.clone().cancelled_owned()));
        TestQueryApi {
            http_addr,
            grpc_addr,
            client: reqwest::Client::new(),
            stop,
            task: Some(task),
        }
    }

    /// Starts a query API next to this gateway with the test settings.
    pub async fn spawn_query_api(&self) -> TestQueryApi {
        self.spawn_query_api_with(|_| {}).await
    }
}
