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
    state.ping_dependencies().await.readiness()
}
