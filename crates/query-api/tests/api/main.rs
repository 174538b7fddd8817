//! query-api integration tests: one binary, one module per feature. Every
//! test starts the real `Application` on port 0 against a fresh database and
//! its own Redis key prefix.

// Helpers here panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used)]

mod api_keys;
mod caps;
mod deliveries;
mod endpoints;
mod events;
mod grpc;
mod isolation;
mod lifecycle;
mod projects;
mod scopes;
mod secrets_at_rest;
mod stats;

use std::time::Duration;

use eventflow_test_support::{
    RunningService, TestDatabase, redis_url, start_query_api, unique_redis_prefix,
};
use query_api::Config;

/// A running query API on a database of its own.
pub type TestApp = RunningService;

/// The settings a test query API starts from.
pub fn test_config(database_url: &str) -> Config {
    let mut config = Config::with_urls(database_url, &redis_url()).expect("query-api defaults");
    config.service.redis_key_prefix = unique_redis_prefix();
    config.secrets_key = Some(eventflow_test_support::test_secrets_keyring());
    config.service.http_addr = "127.0.0.1:0".parse().expect("address");
    config.service.grpc_addr = "127.0.0.1:0".parse().expect("address");
    config.service.shutdown_timeout = Duration::from_secs(5);
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
    start_query_api(config).await.owning(db)
}
