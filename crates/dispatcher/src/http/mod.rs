//! The HTTP edge: for now only the operational routes every service has
//! (`/metrics` comes from `eventflow_runtime::metrics::metrics_route`).

mod health;

use actix_web::web;

/// Registers every route of the dispatcher's own.
pub fn routes(config: &mut web::ServiceConfig) {
    config.service(health::healthz).service(health::readyz);
}
