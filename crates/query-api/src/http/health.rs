use actix_web::{HttpResponse, get, web};

use crate::AppState;

/// Answers while the process runs.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Answers 200 when PostgreSQL and Redis both answer, 503 naming the one that does not.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let dependencies = state.ping_dependencies().await;
    let status = |up: bool| if up { "ok" } else { "unavailable" };
    let body = serde_json::json!({
        "postgres": status(dependencies.postgres),
        "redis": status(dependencies.redis),
    });
    if dependencies.all_up() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
