//! The HTTP edge: the JSON API under `/v1` (documented by `/openapi.json`
//! and `/docs`), and the operational routes every service has.

mod api_keys;
mod deliveries;
pub mod docs;
pub(crate) mod endpoints;
mod events;
mod health;
mod projects;
mod stats;

use actix_web::web;
use utoipa_actix_web::service_config::ServiceConfig;

/// Registers the documented JSON API.
pub fn api(config: &mut ServiceConfig) {
    config
        .configure(projects::register)
        .configure(api_keys::register)
        .configure(endpoints::register)
        .configure(events::register)
        .configure(deliveries::register)
        .configure(stats::register);
}

/// The paths [`operational`] serves (GET only), and `/metrics`.
pub const OPERATIONAL_PATHS: [&str; 7] = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/swagger-ui-bundle.js",
    "/docs/swagger-ui.css",
];

/// Registers the undocumented routes: probes and the documentation itself.
pub fn operational(config: &mut web::ServiceConfig) {
    config
        .service(health::healthz)
        .service(health::readyz)
        .service(docs::openapi_json)
        .service(docs::docs_page)
        .service(docs::docs_script)
        .service(docs::docs_style);
}
