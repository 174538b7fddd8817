//! `/v1/events`: search the project's events, read one with its payload and
//! deliveries, and replay it (through the dispatcher's `DispatchControl`).

use actix_web::{HttpResponse, get, post, web};
use eventflow_domain::{EndpointId, EventId, Scope};
use eventflow_proto::dispatch::v1::ReplayEventsRequest;
use eventflow_store::{EventSummary, StoredEvent};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::deliveries::{DeliveryOut, Scheduled};
use super::responses::{NeedsAdmin, NeedsRead, NotFound, ViaDispatcher};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::pagination::{Page, PageQuery};
use crate::search::{self, EventListParams, PageText};

/// Registers this module's routes (collected into the OpenAPI document).
pub fn register(config: &mut ServiceConfig) {
    config
        .service(list_events)
        .service(get_event)
        .service(list_event_deliveries)
        .service(replay_event);
}

/// The query of `GET /v1/events`. Values are taken as text and validated
/// together, so that every bad one is named in the 422.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventListQuery {
    /// An exact event type, a prefix such as `order.*`, or `*`.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// RFC 3339: events received at or after this time (to the millisecond).
    pub since: Option<String>,
    /// RFC 3339: events received before this time (to the millisecond).
    pub until: Option<String>,
    /// Only events with a delivery in this status.
    #[param(value_type = Option<String>, pattern = "^(pending|succeeded|failed|refused)$")]
    pub status: Option<String>,
    /// `ep_…`: only events with a delivery to this endpoint (404 if it is not
    /// the caller's). With `status`: a delivery to it in that status.
    pub endpoint_id: Option<String>,
    /// Includes each event's payload (default false).
    #[param(value_type = Option<bool>)]
    pub include_payload: Option<String>,
    /// Events per page (1 to the server's maximum, 500 by default; default 50).
    #[param(value_type = Option<u32>, minimum = 1)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// What every view of an event shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventHead {
    /// `evt_…`
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the producer says it happened.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: OffsetDateTime,
    /// When the gateway stored it (the time in its id).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub received_at: OffsetDateTime,
}

/// An event as a list shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    #[serde(flatten)]
    pub head: EventHead,
    /// The producer's JSON, exactly as sent; only with `include_payload=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Box<RawValue>>,
}

/// An event with its payload and its deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventDetail {
    #[serde(flatten)]
    pub head: EventHead,
    /// The producer's JSON, exactly as sent.
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    /// One per endpoint the event was sent to, newest first.
    pub deliveries: Vec<DeliveryOut>,
}

/// What replaying an event takes; an empty body replays to every endpoint
/// subscribed to the event.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayIn {
    /// `ep_…`: only these endpoints (they need not be subscribed); absent or
    /// empty: every endpoint subscribed to the event.
    #[serde(default)]
    pub endpoint_ids: Vec<String>,
}

/// At most this many endpoints in one replay.
const MAX_REPLAY_ENDPOINTS: usize = 100;

fn raw_json(text: String) -> Result<Box<RawValue>, ApiError> {
    RawValue::from_string(text)
        .map_err(|error| ApiError::Internal(format!("stored payload is not JSON: {error}")))
}

impl TryFrom<EventSummary> for EventOut {
    type Error = ApiError;

    fn try_from(event: EventSummary) -> Result<Self, ApiError> {
        Ok(Self {
            head: EventHead {
                id: event.id.to_string(),
                event_type: event.event_type,
                occurred_at: event.occurred_at,
                received_at: event.received_at,
            },
            payload: event.payload.map(raw_json).transpose()?,
        })
    }
}

/// Searches the caller's events, newest first.
#[utoipa::path(
    params(EventListQuery),
    responses(
        (status = 200, description = "one page of events", body = Page<EventOut>),
        NeedsRead,
        (status = 404, description = "`endpoint_id` is not one of the caller's endpoints"),
    )
)]
#[get("/v1/events")]
pub async fn list_events(
    caller: Caller,
    query: web::Query<EventListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Read)?;
    let params = EventListParams {
        event_type: query.event_type.as_deref(),
        since: query.since.as_deref(),
        until: query.until.as_deref(),
        status: query.status.as_deref(),
        endpoint_id: query.endpoint_id.as_deref(),
        include_payload: query.include_payload.as_deref(),
        page: PageText::of(&query.limit, &query.cursor),
    };
    let page = search::list_events(&state, project_id, params).await?;
    Ok(HttpResponse::Ok().json(page.try_map(EventOut::try_from)?))
}

fn event_detail(event: StoredEvent, deliveries: Vec<DeliveryOut>) -> Result<EventDetail, ApiError> {
    Ok(EventDetail {
        head: EventHead {
            id: event.id.to_string(),
            event_type: event.event_type,
            occurred_at: event.occurred_at,
            received_at: event.received_at,
        },
        payload: raw_json(event.payload)?,
        deliveries,
    })
}

/// Returns one of the caller's events with its payload and deliveries.
#[utoipa::path(
    responses(
        (status = 200, description = "OK", body = EventDetail),
        NeedsRead,
        NotFound,
    )
)]
#[get("/v1/events/{id}")]
pub async fn get_event(
    caller: Caller,
    id: web::Path<EventId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Read)?;
    let (event, deliveries) = search::event(&state, project_id, id.into_inner()).await?;
    let deliveries = deliveries.into_iter().map(DeliveryOut::from).collect();
    Ok(HttpResponse::Ok().json(event_detail(event, deliveries)?))
}

/// Returns the deliveries of one of the caller's events (one per endpoint),
/// a page at a time, with the cursor pagination of the other lists.
#[utoipa::path(
    params(PageQuery),
    responses(
        (status = 200, description = "OK", body = Page<DeliveryOut>),
        NeedsRead,
        NotFound,
    )
)]
#[get("/v1/events/{id}/deliveries")]
pub async fn list_event_deliveries(
    caller: Caller,
    id: web::Path<EventId>,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Read)?;
    let page = PageText::of(&query.limit, &query.cursor);
    let page = search::event_deliveries(&state, project_id, id.into_inner(), page).await?;
    Ok(HttpResponse::Ok().json(page.map(DeliveryOut::from)))
}

/// Parses the optional replay body: empty means every subscribed endpoint.
fn parse_replay(body: &[u8]) -> Result<Vec<EndpointId>, ApiError> {
    let replay: ReplayIn = if body.iter().all(u8::is_ascii_whitespace) {
        ReplayIn::default()
    } else {
        ApiError::parse_body(body)?
    };
    if replay.endpoint_ids.len() > MAX_REPLAY_ENDPOINTS {
        return Err(ApiError::invalid(
            "endpoint_ids",
            format!("must list at most {MAX_REPLAY_ENDPOINTS} endpoints"),
        ));
    }
    let mut errors = Vec::new();
    let mut endpoint_ids: Vec<EndpointId> = Vec::new();
    for (index, raw) in replay.endpoint_ids.iter().enumerate() {
        match EndpointId::parse(raw) {
            Ok(id) if !endpoint_ids.contains(&id) => endpoint_ids.push(id),
            Ok(_) => {}
            Err(error) => errors.push(eventflow_runtime::api_error::FieldError {
                field: format!("endpoint_ids[{index}]"),
                message: error.to_string(),
            }),
        }
    }
    if errors.is_empty() {
        Ok(endpoint_ids)
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// Delivers one of the caller's events again, with a fresh retry schedule
/// and the same `webhook-id`: to every endpoint subscribed to it, or only to
/// the endpoints named.
#[utoipa::path(
    request_body(content = Option<ReplayIn>, description = "optional; empty: every subscribed endpoint"),
    responses(
        (status = 202, description = "deliveries scheduled", body = Scheduled),
        NeedsAdmin,
        (status = 404, description = "no such event or endpoint in the caller's project"),
        ViaDispatcher,
    )
)]
#[post("/v1/events/{id}/replay")]
pub async fn replay_event(
    caller: Caller,
    id: web::Path<EventId>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Admin)?;
    let id = id.into_inner();
    let endpoint_ids = parse_replay(&body)?;
    if !state.store.project_event_exists(project_id, id).await? {
        return Err(ApiError::NotFound("event"));
    }
    for endpoint_id in &endpoint_ids {
        state
            .store
            .project_endpoint(project_id, *endpoint_id)
            .await?;
    }
    let request = ReplayEventsRequest {
        project_id: project_id.to_string(),
        event_ids: vec![id.to_string()],
        endpoint_ids: endpoint_ids.iter().map(ToString::to_string).collect(),
    };
    let scheduled = state
        .dispatcher
        .clone()
        .replay_events(request)
        .await?
        .into_inner()
        .scheduled;
    tracing::info!(event_id = %id, scheduled, "event replay scheduled");
    Ok(HttpResponse::Accepted().json(Scheduled { scheduled }))
}

#[cfg(test)]
mod tests {
    use eventflow_runtime::api_error::EdgeError;

    use super::*;

    #[test]
    fn an_empty_replay_body_means_every_endpoint() {
        assert!(parse_replay(b"").unwrap().is_empty());
        assert!(parse_replay(b" \n").unwrap().is_empty());
        assert!(parse_replay(b"{}").unwrap().is_empty());
    }

    #[test]
    fn replay_endpoints_are_parsed_and_deduplicated() {
        let id = EndpointId::new();
        let body = serde_json::json!({ "endpoint_ids": [id.to_string(), id.to_string()] });
        let ids = parse_replay(body.to_string().as_bytes()).unwrap();
        assert_eq!(ids, vec![id]);
    }

    #[test]
    fn bad_replay_bodies_are_422_naming_the_field() {
        for (body, field) in [
            (r#"{"endpoint_ids": ["ep_x"]}"#, "endpoint_ids[0]"),
            (r#"{"endpoints": []}"#, "endpoints"),
        ] {
            let problem = parse_replay(body.as_bytes()).unwrap_err().problem();
            assert_eq!(problem.status, 422, "{body}");
            assert_eq!(problem.errors[0].field, field, "{body}");
        }
    }

    #[test]
    fn a_replay_body_that_is_not_json_is_400() {
        let problem = parse_replay(b"not json").unwrap_err().problem();

        assert_eq!(problem.status, 400);
        assert_eq!(
            problem.type_uri,
            "https://eventflow.dev/problems/malformed-json"
        );
    }
}
