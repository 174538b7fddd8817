//! Routes of `/v1/deliveries` (filled in by the query-api issue's work).

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers this module's routes (collected into the OpenAPI document).
pub fn register(_config: &mut ServiceConfig) {}
