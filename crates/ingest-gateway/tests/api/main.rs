//! Integration tests of the ingest gateway against real PostgreSQL and Redis.
//! One binary; one file per feature.

// Helpers here panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used)]

mod batch;
mod contract_errors;
mod grpc;
mod idempotency;
mod isolation;
mod keep_alive;
mod key_expiry;
mod operations;
mod outages;
mod payload_depth;
mod rate_limit;
mod single_event;

use serde_json::{Value, json};

/// A small valid event body.
pub fn order_created(n: usize) -> Value {
    json!({"type": "order.created", "payload": {"order": n, "total": 12.5}})
}

/// Reads a problem+json answer, asserting the content type.
pub async fn problem(response: reqwest::Response) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    response.json().await.unwrap()
}
