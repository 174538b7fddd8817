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

use eventflow_test_support::{
    RunningService, TestDatabase, query_api_config, start_query_api, unique_redis_prefix,
};

/// A running query API on a database of its own.
pub type TestApp = RunningService;

/// Starts a query API with the test settings on a fresh database.
pub async fn spawn_app() -> TestApp {
    let db = TestDatabase::create().await;
    let config = query_api_config(db.url(), &unique_redis_prefix());
    start_query_api(config).await.owning(db)
}
