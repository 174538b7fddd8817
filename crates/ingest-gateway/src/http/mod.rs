//! The HTTP edge: `POST /v1/events`, `POST /v1/events/batch`, and the
//! operational routes every service has.

mod events;
mod health;

use actix_web::web;
use eventflow_runtime::fallback::RouteTable;

pub use events::{BatchResponse, EventAccepted, ItemResult};

/// Registers every route of the gateway.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(events::post_event)
        .service(events::post_batch)
        .service(health::healthz)
        .service(health::readyz)
        .service(health::metrics);
}

/// The paths and methods [`routes`] serves, so that other methods answer 405.
pub fn route_table() -> RouteTable {
    RouteTable::new()
        .route("/v1/events", &["POST"])
        .route("/v1/events/batch", &["POST"])
        .route("/healthz", &["GET"])
        .route("/readyz", &["GET"])
        .route("/metrics", &["GET"])
}
