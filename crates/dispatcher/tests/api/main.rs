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

use dispatcher::Config;
use eventflow_test_support::{
    TestDatabase, TestDispatcher, dispatcher_config, spawn_dispatcher, unique_redis_prefix,
};

/// A running dispatcher on a database of its own.
pub type TestApp = TestDispatcher;

/// The test settings on `database_url`, with a Redis prefix of its own.
pub fn test_config(database_url: &str) -> Config {
    dispatcher_config(database_url, &unique_redis_prefix())
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
