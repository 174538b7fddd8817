//! gRPC `DispatchControl`: replay, retry, recover, pause and resume, and
//! endpoint cache refresh. Every call is scoped to the project it names; ids
//! of another project answer NOT_FOUND, as if they did not exist. Callers
//! authenticate with the shared internal token (`RequireInternalToken`,
//! applied where the server is built). A list of ids holds at most
//! [`MAX_IDS_PER_CALL`] ids, each once.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Arc;

use eventflow_domain::{DeliveryId, EndpointId, EventId, ProjectId, parse_rfc3339};
use eventflow_proto::dispatch::v1::dispatch_control_server::DispatchControl;
use eventflow_proto::dispatch::v1::{
    EndpointRequest, EndpointStateResponse, RecoverEndpointRequest, RefreshEndpointCacheRequest,
    RefreshEndpointCacheResponse, ReplayEventsRequest, RetryDeliveriesRequest, ScheduledResponse,
};
use eventflow_runtime::api_error::{EdgeError, ErrorKind, FieldError, Problem};
use eventflow_store::{DeliveryState, DeliveryStatus, StoreError};
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use crate::dispatch::Dispatch;
use crate::endpoints::Endpoint;

/// The gRPC face of the dispatcher.
pub struct DispatchControlGrpc {
    dispatch: Arc<Dispatch>,
}

impl DispatchControlGrpc {
    pub fn new(dispatch: Arc<Dispatch>) -> Self {
        Self { dispatch }
    }

    async fn project_endpoint(
        &self,
        project_id: ProjectId,
        raw: &str,
    ) -> Result<Arc<Endpoint>, ControlError> {
        let id = parse(raw, "endpoint_id", EndpointId::parse)?;
        self.endpoint_of(project_id, id).await
    }

    async fn endpoint_of(
        &self,
        project_id: ProjectId,
        id: EndpointId,
    ) -> Result<Arc<Endpoint>, ControlError> {
        // Control calls follow changes made a moment ago, so they skip the cache.
        self.dispatch.endpoints.refresh(Some(project_id));
        self.dispatch
            .endpoints
            .endpoint(project_id, id)
            .await?
            .ok_or_else(|| ControlError::NotFound(format!("endpoint {id} not found")))
    }

    /// Pauses or resumes the endpoint a request names; returns it.
    async fn set_paused(
        &self,
        request: EndpointRequest,
        paused: bool,
    ) -> Result<Arc<Endpoint>, ControlError> {
        let project_id = parse(&request.project_id, "project_id", ProjectId::parse)?;
        let endpoint = self
            .project_endpoint(project_id, &request.endpoint_id)
            .await?;
        self.dispatch
            .store
            .set_endpoint_paused(endpoint.id, paused)
            .await?;
        self.dispatch.endpoints.refresh(Some(project_id));
        Ok(endpoint)
    }
}

/// The most ids one list of a call may hold: the work of one call stays
/// bounded (a replay schedules events × endpoints deliveries in one statement).
pub const MAX_IDS_PER_CALL: usize = 1000;

/// Why a control call failed, as the caller reads it.
#[derive(Debug, thiserror::Error)]
enum ControlError {
    /// A field of the request is refused: INVALID_ARGUMENT, with a 422
    /// validation problem, as every service answers; the message names the
    /// field first ("event_ids: …"), as it always has.
    #[error("{}", .0.iter().map(|error| format!("{}: {}", error.field, error.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    #[error("dispatch control failed")]
    Store(#[from] StoreError),
}

impl ControlError {
    fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }
}

impl EdgeError for ControlError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_) => ErrorKind::Unprocessable,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::Store(error) if error.is_unavailable() => ErrorKind::Unavailable,
            Self::Store(_) => ErrorKind::Internal,
        }
    }

    fn client_problem(&self) -> Problem {
        match self {
            Self::Invalid(errors) => {
                Problem::new(ErrorKind::Unprocessable, "validation", self.to_string())
                    .with_errors(errors.clone())
            }
            Self::NotFound(detail) => Problem::new(ErrorKind::NotFound, "not-found", detail),
            Self::Store(_) => Problem::new(
                ErrorKind::Unavailable,
                "unavailable",
                "database unavailable",
            ),
        }
    }
}

eventflow_runtime::edge_error!(ControlError);

fn parse<T, E: std::fmt::Display>(
    raw: &str,
    field: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<T, ControlError> {
    parse(raw).map_err(|error| ControlError::invalid(field, error.to_string()))
}

/// Parses a list of ids: at most [`MAX_IDS_PER_CALL`], none twice (a
/// duplicate would make one statement touch a row twice).
fn parse_ids<T: Eq + Hash + Copy, E: std::fmt::Display>(
    raws: &[String],
    field: &str,
    parse_one: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, ControlError> {
    if raws.len() > MAX_IDS_PER_CALL {
        return Err(ControlError::invalid(
            field,
            format!(
                "at most {MAX_IDS_PER_CALL} ids per call, got {}",
                raws.len()
            ),
        ));
    }
    let mut seen = HashSet::with_capacity(raws.len());
    let mut ids = Vec::with_capacity(raws.len());
    for raw in raws {
        let id = parse(raw, field, &parse_one)?;
        if !seen.insert(id) {
            return Err(ControlError::invalid(
                field,
                format!("{raw} is listed more than once"),
            ));
        }
        ids.push(id);
    }
    Ok(ids)
}

fn scheduled(count: u64) -> Response<ScheduledResponse> {
    Response::new(ScheduledResponse {
        scheduled: u32::try_from(count).unwrap_or(u32::MAX),
    })
}

/// A delivery due now with a fresh retry schedule.
fn due_now(event_id: EventId, project_id: ProjectId, endpoint: &Endpoint) -> DeliveryState {
    DeliveryState {
        id: DeliveryId::for_event_endpoint(event_id, endpoint.id),
        project_id,
        event_id,
        endpoint_id: endpoint.id,
        status: DeliveryStatus::Pending,
        attempt_count: 0,
        retry_base: 0,
        generation: 0,
        next_attempt_at: Some(OffsetDateTime::now_utc()),
        last_attempt_at: None,
        last_status_code: None,
        last_error: None,
    }
}

#[tonic::async_trait]
impl DispatchControl for DispatchControlGrpc {
    #[tracing::instrument(skip_all)]
    async fn replay_events(
        &self,
        request: Request<ReplayEventsRequest>,
    ) -> Result<Response<ScheduledResponse>, Status> {
        let request = request.into_inner();
        let project_id = parse(&request.project_id, "project_id", ProjectId::parse)?;
        let event_ids = parse_ids(&request.event_ids, "event_ids", EventId::parse)?;
        let endpoint_ids = parse_ids(&request.endpoint_ids, "endpoint_ids", EndpointId::parse)?;
        let mut chosen = Vec::new();
        for id in endpoint_ids {
            chosen.push(self.endpoint_of(project_id, id).await?);
        }
        let events = self
            .dispatch
            .store
            .events_by_ids(&event_ids)
            .await
            .map_err(ControlError::from)?;
        let events: Vec<_> = events
            .into_iter()
            .filter(|event| event.project_id == project_id)
            .collect();
        if events.len() < event_ids.len() {
            let missing = event_ids
                .iter()
                .find(|id| !events.iter().any(|event| event.id == **id));
            return Err(ControlError::NotFound(format!(
                "event {} not found",
                missing.map(ToString::to_string).unwrap_or_default()
            ))
            .into());
        }
        let mut states = Vec::new();
        for event in &events {
            let endpoints = if chosen.is_empty() {
                self.dispatch
                    .matching_endpoints(event)
                    .await
                    .map_err(ControlError::from)?
            } else {
                chosen.clone()
            };
            states.extend(
                endpoints
                    .iter()
                    .map(|endpoint| due_now(event.id, project_id, endpoint)),
            );
        }
        self.dispatch
            .store
            .schedule_deliveries(&states)
            .await
            .map_err(ControlError::from)?;
        Ok(scheduled(states.len() as u64))
    }

    #[tracing::instrument(skip_all)]
    async fn retry_deliveries(
        &self,
        request: Request<RetryDeliveriesRequest>,
    ) -> Result<Response<ScheduledResponse>, Status> {
        let request = request.into_inner();
        let project_id = parse(&request.project_id, "project_id", ProjectId::parse)?;
        let ids = parse_ids(&request.delivery_ids, "delivery_ids", DeliveryId::parse)?;
        let count = self
            .dispatch
            .store
            .requeue_deliveries(project_id, &ids)
            .await
            .map_err(ControlError::from)?;
        if count < ids.len() as u64 {
            return Err(ControlError::NotFound(format!(
                "{} of {} deliveries not found",
                ids.len() as u64 - count,
                ids.len()
            ))
            .into());
        }
        Ok(scheduled(count))
    }

    #[tracing::instrument(skip_all)]
    async fn recover_endpoint(
        &self,
        request: Request<RecoverEndpointRequest>,
    ) -> Result<Response<ScheduledResponse>, Status> {
        let request = request.into_inner();
        let project_id = parse(&request.project_id, "project_id", ProjectId::parse)?;
        let endpoint = self
            .project_endpoint(project_id, &request.endpoint_id)
            .await?;
        let since = parse(&request.since, "since", parse_rfc3339)?;
        let count = self
            .dispatch
            .store
            .requeue_failed_deliveries(project_id, endpoint.id, since)
            .await
            .map_err(ControlError::from)?;
        Ok(scheduled(count))
    }

    #[tracing::instrument(skip_all)]
    async fn pause_endpoint(
        &self,
        request: Request<EndpointRequest>,
    ) -> Result<Response<EndpointStateResponse>, Status> {
        self.set_paused(request.into_inner(), true).await?;
        Ok(Response::new(EndpointStateResponse {
            paused: true,
            released: 0,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn resume_endpoint(
        &self,
        request: Request<EndpointRequest>,
    ) -> Result<Response<EndpointStateResponse>, Status> {
        let endpoint = self.set_paused(request.into_inner(), false).await?;
        let released = self
            .dispatch
            .store
            .release_held_deliveries(endpoint.id)
            .await
            .map_err(ControlError::from)?;
        Ok(Response::new(EndpointStateResponse {
            paused: false,
            released: u32::try_from(released).unwrap_or(u32::MAX),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn refresh_endpoint_cache(
        &self,
        request: Request<RefreshEndpointCacheRequest>,
    ) -> Result<Response<RefreshEndpointCacheResponse>, Status> {
        let raw = &request.get_ref().project_id;
        // Empty means every project; anything else must be a project id.
        let project_id = if raw.is_empty() {
            None
        } else {
            Some(parse(raw, "project_id", ProjectId::parse)?)
        };
        self.dispatch.endpoints.refresh(project_id);
        Ok(Response::new(RefreshEndpointCacheResponse {}))
    }
}
