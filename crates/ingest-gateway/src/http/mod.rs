//! The HTTP edge: `POST /v1/events`, `POST /v1/events/batch`, and the
//! operational routes every service has.

mod events;
mod health;

use actix_web::web;

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
