//! The HTTP edge: `POST /v1/events` and `POST /v1/events/batch` (the
//! operational routes every service has come from `eventflow_runtime::serve`).

mod events;

use actix_web::web;
use eventflow_runtime::fallback::RouteTable;

pub(crate) use events::to_response;
pub use events::{BatchResponse, EventAccepted, ItemResult};

/// Registers every route of the gateway.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(events::post_event)
        .service(events::post_batch);
}

/// The paths and methods [`routes`] serves, so that other methods answer 405.
pub fn route_table() -> RouteTable {
    RouteTable::new()
        .route("/v1/events", &["POST"])
        .route("/v1/events/batch", &["POST"])
}
