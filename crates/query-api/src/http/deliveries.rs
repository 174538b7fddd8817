//! `/v1/deliveries`: the project's deliveries (one per event and endpoint),
//! their attempts, and a manual retry (through the dispatcher's
//! `DispatchControl`).

use actix_web::{HttpResponse, get, post, web};
use eventflow_domain::{DeliveryId, Scope};
use eventflow_proto::dispatch::v1::RetryDeliveriesRequest;
use eventflow_store::{AttemptRecord, DeliveryState};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::responses::{NeedsAdmin, NeedsRead, NotFound, ViaDispatcher};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::pagination::{Page, PageQuery};
use crate::search::{self, DeliveryListParams, PageText};

/// Registers this module's routes (collected into the OpenAPI document).
pub fn register(config: &mut ServiceConfig) {
    config
        .service(list_deliveries)
        .service(get_delivery)
        .service(list_attempts)
        .service(retry_delivery);
}

/// The query of `GET /v1/deliveries`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListQuery {
    /// `ep_…`: only this endpoint's deliveries (404 if it is not the caller's).
    pub endpoint_id: Option<String>,
    /// Only deliveries in this status.
    #[param(value_type = Option<String>, pattern = "^(pending|succeeded|failed|refused)$")]
    pub status: Option<String>,
    /// Deliveries per page (1 to the server's maximum).
    #[param(value_type = Option<u32>, minimum = 1)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A delivery: one event to one endpoint, and where it stands.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryOut {
    /// `dlv_…`
    pub id: String,
    /// `evt_…`
    pub event_id: String,
    /// `ep_…`
    pub endpoint_id: String,
    /// `pending` (waiting for its next attempt), `succeeded`, `failed` (dead
    /// letter: the last retry failed) or `refused` (destination not allowed).
    pub status: String,
    pub attempt_count: i32,
    /// When the next attempt is due.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_attempt_at: Option<OffsetDateTime>,
    /// The receiver's HTTP status at the last attempt.
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
}

impl From<DeliveryState> for DeliveryOut {
    fn from(delivery: DeliveryState) -> Self {
        Self {
            id: delivery.id.to_string(),
            event_id: delivery.event_id.to_string(),
            endpoint_id: delivery.endpoint_id.to_string(),
            status: delivery.status.as_str().to_owned(),
            attempt_count: delivery.attempt_count,
            next_attempt_at: delivery.next_attempt_at,
            last_attempt_at: delivery.last_attempt_at,
            last_status_code: delivery.last_status_code,
            last_error: delivery.last_error,
        }
    }
}

/// One attempt to deliver.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptOut {
    /// `att_…`
    pub id: String,
    /// `dlv_…`
    pub delivery_id: String,
    /// 1 for the first attempt of a retry schedule.
    pub attempt_number: i32,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: OffsetDateTime,
    /// How long the request took, in milliseconds (microsecond precision).
    pub duration_ms: f64,
    /// The receiver's HTTP status; null when no response came.
    pub status_code: Option<i32>,
    /// The start of the receiver's response body.
    pub response_body: Option<String>,
    /// Why the attempt failed without a response (timeout, connect, refused, …).
    pub error_kind: Option<String>,
}

impl From<AttemptRecord> for AttemptOut {
    fn from(attempt: AttemptRecord) -> Self {
        Self {
            id: attempt.id.to_string(),
            delivery_id: attempt.delivery_id.to_string(),
            attempt_number: attempt.attempt_number,
            started_at: attempt.started_at,
            duration_ms: attempt.duration.as_micros() as f64 / 1000.0,
            status_code: attempt.status_code,
            response_body: attempt.response_body,
            error_kind: attempt.error_kind,
        }
    }
}

/// How many deliveries a replay or retry made due.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Scheduled {
    pub scheduled: u32,
}

/// Lists the caller's deliveries, newest first.
#[utoipa::path(
    params(DeliveryListQuery),
    responses(
        (status = 200, description = "one page of deliveries", body = Page<DeliveryOut>),
        NeedsRead,
        (status = 404, description = "`endpoint_id` is not one of the caller's endpoints"),
    )
)]
#[get("/v1/deliveries")]
pub async fn list_deliveries(
    caller: Caller,
    query: web::Query<DeliveryListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Read)?;
    let params = DeliveryListParams {
        endpoint_id: query.endpoint_id.as_deref(),
        status: query.status.as_deref(),
        page: PageText::of(&query.limit, &query.cursor),
    };
    let page = search::list_deliveries(&state, project_id, params).await?;
    Ok(HttpResponse::Ok().json(page.map(DeliveryOut::from)))
}

/// Returns one of the caller's deliveries.
#[utoipa::path(
    responses(
        (status = 200, description = "OK", body = DeliveryOut),
        NeedsRead,
        NotFound,
    )
)]
#[get("/v1/deliveries/{id}")]
pub async fn get_delivery(
    caller: Caller,
    id: web::Path<DeliveryId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Read)?;
    let delivery = search::delivery(&state, project_id, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(DeliveryOut::from(delivery)))
}

/// Lists the attempts of one of the caller's deliveries, newest first.
#[utoipa::path(
    params(PageQuery),
    responses(
        (status = 200, description = "one page of attempts", body = Page<AttemptOut>),
        NeedsRead,
        NotFound,
    )
)]
#[get("/v1/deliveries/{id}/attempts")]
pub async fn list_attempts(
    caller: Caller,
    id: web::Path<DeliveryId>,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Read)?;
    let page = PageText::of(&query.limit, &query.cursor);
    let page = search::list_attempts(&state, project_id, id.into_inner(), page).await?;
    Ok(HttpResponse::Ok().json(page.map(AttemptOut::from)))
}

/// Retries one of the caller's deliveries now, with a fresh retry schedule
/// (also a dead-lettered one).
#[utoipa::path(
    responses(
        (status = 202, description = "the delivery is due now", body = Scheduled),
        NeedsAdmin,
        NotFound,
        ViaDispatcher,
    )
)]
#[post("/v1/deliveries/{id}/retry")]
pub async fn retry_delivery(
    caller: Caller,
    id: web::Path<DeliveryId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Admin)?;
    let id = id.into_inner();
    if state
        .store
        .project_delivery(project_id, id)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound("delivery"));
    }
    let request = RetryDeliveriesRequest {
        project_id: project_id.to_string(),
        delivery_ids: vec![id.to_string()],
    };
    let scheduled = state
        .dispatcher
        .clone()
        .retry_deliveries(request)
        .await?
        .into_inner()
        .scheduled;
    tracing::info!(delivery_id = %id, scheduled, "delivery retry scheduled");
    Ok(HttpResponse::Accepted().json(Scheduled { scheduled }))
}
