//! The query API started through its real `Application`, on port 0, next to a
//! gateway (same database and Redis prefix) with a known admin token and the
//! internal token test dispatchers accept.

use std::time::Duration;

use crate::{
    RunningService, ServiceApplication, ServiceConfig, TestGateway, redis_url, test_internal_token,
};
use eventflow_domain::SecretString;
use query_api::{Application, Config};

/// The admin token test query APIs accept.
pub const TEST_ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A running query API.
pub type TestQueryApi = RunningService;

/// Test settings for a query API on `database_url` and `redis_prefix`.
pub fn query_api_config(database_url: &str, redis_prefix: &str) -> Config {
    let mut config = Config::with_urls(database_url, &redis_url()).expect("query-api defaults");
    config.service.redis_key_prefix = redis_prefix.to_owned();
    config.service.http_addr = "127.0.0.1:0".parse().expect("address");
    config.service.grpc_addr = "127.0.0.1:0".parse().expect("address");
    config.service.database_pool_size = 4;
    config.service.shutdown_timeout = Duration::from_secs(5);
    config.admin_token = Some(SecretString::new(TEST_ADMIN_TOKEN.to_owned()));
    config.internal_token = Some(test_internal_token());
    config.secrets_key = Some(crate::test_secrets_keyring());
    config.auth_cache_ttl = Duration::from_millis(300);
    config
}

impl TestGateway {
    /// Test settings for a query API sharing this gateway's database and Redis prefix.
    pub fn query_api_config(&self) -> Config {
        query_api_config(self.db.url(), &self.redis_prefix)
    }

    /// Starts a query API next to this gateway after `adjust` changed its settings
    /// (e.g. `dispatcher_grpc_url` pointing at a test dispatcher).
    pub async fn spawn_query_api_with(&self, adjust: impl FnOnce(&mut Config)) -> TestQueryApi {
        let mut config = self.query_api_config();
        adjust(&mut config);
        start_query_api(config).await
    }

    /// Starts a query API next to this gateway with the test settings.
    pub async fn spawn_query_api(&self) -> TestQueryApi {
        self.spawn_query_api_with(|_| {}).await
    }
}

/// Starts a query API with `config`.
pub async fn start_query_api(config: Config) -> TestQueryApi {
    crate::prepare_service();
    let app = Application::build(config).await.expect("query-api starts");
    RunningService::run(app)
}
