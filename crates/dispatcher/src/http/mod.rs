//! The HTTP edge: for now only the operational routes every service has
//! (`/metrics` comes from `eventflow_runtime::metrics::metrics_route`).

mod health;

use actix_web::web;
use eventflow_runtime::fallback::RouteTable;

/// Registers every route of the dispatcher's own.
pub fn routes(config: &mut web::ServiceConfig) {
    config.service(health::healthz).service(health::readyz);
}

/// The paths and methods served (with `/metrics`), so that other methods answer 405.
pub fn route_table() -> RouteTable {
    RouteTable::new()
        .route("/healthz", &["GET"])
        .route("/readyz", &["GET"])
        .route("/metrics", &["GET"])
}
