//! dispatcher integration tests: one binary, one module per feature. Every
//! test starts the real `Application` on port 0 against a fresh database and
//! its own Redis key prefix.

// Helpers outside `#[test]` functions panic on purpose when a set-up step fails.
#![allow(clippy::unwrap_used)]

mod control;
mod control_auth;
mod delivery;
mod dry_run;
mod filters;
mod isolation;
mod resilience;
mod retention;
mod retries;
mod scenario;
mod signatures;
mod ssrf;

use std::time::Duration;

use dispatcher::Config;
use eventflow_test_support::{
    TestDatabase, TestDispatcher, redis_url, spawn_dispatcher, test_internal_token,
    unique_redis_prefix,
};

/// A running dispatcher on a database of its own.
pub type TestApp = TestDispatcher;

/// The settings a test dispatcher starts from.
pub fn test_config(database_url: &str) -> Config {
    let mut config = Config::with_urls(database_url, &redis_url()).expect("dispatcher defaults");
    config.service.redis_key_prefix = unique_redis_prefix();
    config.service.http_addr = "127.0.0.1:0".parse().expect("address");
    config.service.grpc_addr = "127.0.0.1:0".parse().expect("address");
    config.internal_token = Some(test_internal_token());
    config.secrets_key = Some(eventflow_test_support::test_secrets_keyring());
    config.service.shutdown_timeout = Duration::from_secs(5);
    config
}

/// Starts a dispatcher with default test settings on a fresh database.
pub async fn spawn_app() -> TestApp {
    let db = TestDatabase::create().await;
    let config = test_config(db.url());
    spawn_app_on(db, config).await
}

/// Starts a dispatcher through `Application::build` and `run_until`.
pub async fn spawn_app_on(db: TestDatabase, config: Config) -> TestApp {
    spawn_dispatcher(config).await.owning(db)
}
