//! gRPC `QueryService`: the event, delivery and attempt reads of the HTTP API
//! for internal callers. Each call is authenticated by its `authorization`
//! metadata (`Bearer <api key>`, `read` scope) and goes through the same
//! parsing, scoping and store calls as HTTP (`crate::search`); only the wire
//! types differ. Errors carry the problem document, as HTTP answers do.

use std::sync::Arc;

use eventflow_domain::{DeliveryId, EventId, ProjectId, Scope, format_rfc3339};
use eventflow_proto::query::v1::query_service_server::QueryService;
use eventflow_proto::query::v1::{
    Attempt, Delivery, Event, GetDeliveryRequest, GetEventRequest, GetEventResponse,
    ListAttemptsRequest, ListAttemptsResponse, ListDeliveriesRequest, ListDeliveriesResponse,
    ListEventsRequest, ListEventsResponse,
};
use eventflow_store::{AttemptRecord, DeliveryState, EventSummary, StoredEvent};
use time::OffsetDateTime;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use crate::AppState;
use crate::error::ApiError;
use crate::search::{self, DeliveryListParams, EventListParams, PageText, parse_id};

/// The gRPC face of the query API.
pub struct QueryGrpc {
    state: Arc<AppState>,
}

impl QueryGrpc {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }

    /// The project of the key in the `authorization` metadata, which must
    /// carry the `read` scope.
    async fn project(&self, metadata: &MetadataMap) -> Result<ProjectId, ApiError> {
        let authorization = metadata
            .get("authorization")
            .and_then(|value| value.to_str().ok());
        let principal = self.state.authenticator.authenticate(authorization).await?;
        principal.require(Scope::Read)?;
        Ok(principal.project_id)
    }
}

/// Proto3 strings have no "absent": empty is absent.
fn present(raw: &str) -> Option<&str> {
    (!raw.is_empty()).then_some(raw)
}

/// The page a list request asks for; `limit` is the request's, as text.
fn page_text<'a>(limit: &'a Option<String>, cursor: &'a str) -> PageText<'a> {
    PageText {
        limit: limit.as_deref(),
        cursor: present(cursor),
    }
}

fn time(at: Option<OffsetDateTime>) -> String {
    at.map(format_rfc3339).unwrap_or_default()
}

fn event_message(event: StoredEvent) -> Event {
    Event {
        id: event.id.to_string(),
        r#type: event.event_type,
        payload_json: event.payload,
        occurred_at: format_rfc3339(event.occurred_at),
        received_at: format_rfc3339(event.received_at),
    }
}

fn event_summary_message(event: EventSummary) -> Event {
    Event {
        id: event.id.to_string(),
        r#type: event.event_type,
        payload_json: event.payload.unwrap_or_default(),
        occurred_at: format_rfc3339(event.occurred_at),
        received_at: format_rfc3339(event.received_at),
    }
}

fn delivery_message(delivery: DeliveryState) -> Delivery {
    Delivery {
        id: delivery.id.to_string(),
        event_id: delivery.event_id.to_string(),
        endpoint_id: delivery.endpoint_id.to_string(),
        status: delivery.status.as_str().to_owned(),
        attempt_count: u32::try_from(delivery.attempt_count).unwrap_or(0),
        next_attempt_at: time(delivery.next_attempt_at),
        last_attempt_at: time(delivery.last_attempt_at),
        last_status_code: delivery
            .last_status_code
            .and_then(|code| u32::try_from(code).ok()),
        last_error: delivery.last_error.unwrap_or_default(),
    }
}

fn attempt_message(attempt: AttemptRecord) -> Attempt {
    Attempt {
        id: attempt.id.to_string(),
        delivery_id: attempt.delivery_id.to_string(),
        attempt_number: u32::try_from(attempt.attempt_number).unwrap_or(0),
        started_at: format_rfc3339(attempt.started_at),
        duration_ms: attempt.duration.as_micros() as f64 / 1000.0,
        status_code: attempt
            .status_code
            .and_then(|code| u32::try_from(code).ok()),
        response_body: attempt.response_body.unwrap_or_default(),
        error_kind: attempt.error_kind.unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl QueryService for QueryGrpc {
    #[tracing::instrument(skip_all)]
    async fn get_event(
        &self,
        request: Request<GetEventRequest>,
    ) -> Result<Response<GetEventResponse>, Status> {
        let project_id = self.project(request.metadata()).await?;
        let id = parse_id("id", &request.get_ref().id, EventId::parse)?;
        let (event, deliveries) = search::event(&self.state, project_id, id).await?;
        Ok(Response::new(GetEventResponse {
            event: Some(event_message(event)),
            deliveries: deliveries.into_iter().map(delivery_message).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_events(
        &self,
        request: Request<ListEventsRequest>,
    ) -> Result<Response<ListEventsResponse>, Status> {
        let project_id = self.project(request.metadata()).await?;
        let request = request.get_ref();
        let limit = request.limit.map(|limit| limit.to_string());
        let params = EventListParams {
            event_type: present(&request.r#type),
            since: present(&request.since),
            until: present(&request.until),
            status: present(&request.status),
            endpoint_id: present(&request.endpoint_id),
            include_payload: request.include_payload.then_some("true"),
            page: page_text(&limit, &request.cursor),
        };
        let page = search::list_events(&self.state, project_id, params).await?;
        Ok(Response::new(ListEventsResponse {
            events: page.data.into_iter().map(event_summary_message).collect(),
            next_cursor: page.next_cursor.unwrap_or_default(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_delivery(
        &self,
        request: Request<GetDeliveryRequest>,
    ) -> Result<Response<Delivery>, Status> {
        let project_id = self.project(request.metadata()).await?;
        let id = parse_id("id", &request.get_ref().id, DeliveryId::parse)?;
        let delivery = search::delivery(&self.state, project_id, id).await?;
        Ok(Response::new(delivery_message(delivery)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_deliveries(
        &self,
        request: Request<ListDeliveriesRequest>,
    ) -> Result<Response<ListDeliveriesResponse>, Status> {
        let project_id = self.project(request.metadata()).await?;
        let request = request.get_ref();
        let limit = request.limit.map(|limit| limit.to_string());
        let params = DeliveryListParams {
            endpoint_id: present(&request.endpoint_id),
            status: present(&request.status),
            page: page_text(&limit, &request.cursor),
        };
        let page = search::list_deliveries(&self.state, project_id, params).await?;
        Ok(Response::new(ListDeliveriesResponse {
            deliveries: page.data.into_iter().map(delivery_message).collect(),
            next_cursor: page.next_cursor.unwrap_or_default(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_attempts(
        &self,
        request: Request<ListAttemptsRequest>,
    ) -> Result<Response<ListAttemptsResponse>, Status> {
        let project_id = self.project(request.metadata()).await?;
        let request = request.get_ref();
        let limit = request.limit.map(|limit| limit.to_string());
        let page = page_text(&limit, &request.cursor);
        let id = parse_id("delivery_id", &request.delivery_id, DeliveryId::parse)?;
        let page = search::list_attempts(&self.state, project_id, id, page).await?;
        Ok(Response::new(ListAttemptsResponse {
            attempts: page.data.into_iter().map(attempt_message).collect(),
            next_cursor: page.next_cursor.unwrap_or_default(),
        }))
    }
}
