//! What every EventFlow service shares at its edges.
//!
//! The service skeleton (`serve`: bind, health, HTTP and gRPC, background work, the bounded
//! drain, and `main`), config loading (embedded defaults < `eventflow.toml` < `EVENTFLOW_*`,
//! with errors naming the setting), telemetry (JSON or human logs, OpenTelemetry traces,
//! `traceparent` propagation, one span per HTTP request),
//! Prometheus metrics with bounded labels, internal gRPC authentication (a shared service
//! token), the shutdown signal and primitives, the rustls crypto provider, the single mapping
//! from an error kind to an HTTP status, a gRPC code and an RFC 9457 `application/problem+json`
//! body, and the 404/405 answer to requests no route matched. It opens the store and the queue as the settings name them (`connect`)
//! but holds no business rules, no SQL and no Redis commands: domain types live in
//! `eventflow-domain`, SQL in `eventflow-store`, Redis in `eventflow-queue`, and each
//! service decides which errors it has and which kind each one is.

pub mod api_error;
pub mod config;
pub mod connect;
pub mod fallback;
pub mod internal_auth;
pub mod metrics;
pub mod request_span;
pub mod serve;
pub mod shutdown;
pub mod telemetry;
pub mod tls;

/// What [`api_error::edge_error!`](crate::edge_error) expands to, so that a service using the
/// macro needs neither actix-web nor tonic as a dependency of its own for it.
#[doc(hidden)]
pub mod __macro_support {
    pub use actix_web;
    pub use tonic;
}
