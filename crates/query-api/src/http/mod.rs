//! The HTTP edge: the JSON API under `/v1` (documented by `/openapi.json`
//! and `/docs`), and the operational routes every service has.

mod api_keys;
mod deliveries;
pub mod docs;
pub(crate) mod endpoints;
mod events;
mod projects;
mod responses;
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

/// The paths [`operational`] serves (GET only).
pub const OPERATIONAL_PATHS: [&str; 4] = [
    "/openapi.json",
    "/docs",
    "/docs/swagger-ui-bundle.js",
    "/docs/swagger-ui.css",
];

/// Registers the undocumented routes: the documentation itself, and
/// the gateway's ingest paths, which answer a 405 (only GET is served here)
/// naming the right service.
pub fn operational(config: &mut web::ServiceConfig) {
    config
        .route("/v1/events", web::post().to(ingest_is_on_the_gateway))
        .route("/v1/events/batch", web::post().to(ingest_is_on_the_gateway))
        .service(docs::openapi_json)
        .service(docs::docs_page)
        .service(docs::docs_script)
        .service(docs::docs_style);
}

/// Events POSTed here were meant for the ingest gateway: say where it is.
/// The path exists here for GET (searches), hence a 405 with `Allow`.
async fn ingest_is_on_the_gateway() -> actix_web::HttpResponse {
    use eventflow_runtime::api_error::{ErrorKind, Problem};
    Problem::new(
        ErrorKind::MethodNotAllowed,
        "method-not-allowed",
        "this is the query API, which reads events; events are sent to the ingest gateway \
         (POST /v1/events or /v1/events/batch on port 8080 by default)",
    )
    .to_response_with(&[("allow", "GET".to_owned())])
}
