//! What EventFlow's tests share: a fresh PostgreSQL database per test, a
//! Redis key prefix per test, the services started through their real
//! `Application` on port 0, and a TCP proxy that can cut a connection.
//!
//! Tests talk to PostgreSQL on `EVENTFLOW_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and Redis on
//! `EVENTFLOW_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod database;
mod dispatcher;
mod gateway;
mod proxy;
mod query_api;
mod scene;
mod secrets;
mod service;
mod sink;
pub mod traffic;
mod wait;

pub use database::TestDatabase;
pub use dispatcher::{
    DispatcherConfig, STEPPED_RETRY_POLL, TEST_INTERNAL_TOKEN, TestDispatcher, dispatcher_config,
    spawn_dispatcher, test_internal_token,
};
/// Every test builds services and their settings through these two traits.
pub use eventflow_runtime::{config::ServiceConfig, serve::ServiceApplication};
pub use gateway::{
    TestGateway, gateway_config, spawn_gateway, spawn_gateway_on, spawn_gateway_with,
};
pub use proxy::TcpProxy;
pub use query_api::{TEST_ADMIN_TOKEN, TestQueryApi, query_api_config, start_query_api};
pub use scene::Scene;
pub use secrets::{TEST_SECRETS_KEY, test_secrets_keyring};
pub use service::{RunningService, prepare_service};
pub use sink::{Received, Reply, WebhookSink};
pub use wait::{Outcome, WITHIN, eventually, poll};

/// The Redis server tests use.
pub fn redis_url() -> String {
    std::env::var("EVENTFLOW_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A Redis key prefix no other test uses.
pub fn unique_redis_prefix() -> String {
    format!("t:{}:", uuid::Uuid::now_v7().simple())
}
