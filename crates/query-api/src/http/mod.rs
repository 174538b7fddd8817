//! The HTTP edge: for now only the operational routes every service has
//! (`/metrics` comes from `eventflow_runtime::metrics::metrics_route`). The
//! JSON API and `/openapi.json` arrive with the query-api issue.

mod health;

use actix_web::web;

/// Registers every route of the query API's own.
pub fn routes(config: &mut web::ServiceConfig) {
    config.service(health::healthz).service(health::readyz);
}
