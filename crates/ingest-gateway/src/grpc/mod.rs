//! gRPC `IngestService`: the same checks and guarantees as HTTP, with the API
//! key in the `authorization` metadata entry.

use std::sync::Arc;

use eventflow_domain::Scope;
use eventflow_proto::ingest::v1::ingest_service_server::IngestService;
use eventflow_proto::ingest::v1::{
    FieldError as WireFieldError, ItemError, PublishBatchRequest, PublishBatchResponse,
    PublishRequest, PublishResponse, PublishResult, publish_result,
};
use eventflow_runtime::api_error::{EdgeError, FieldError, Problem};
use eventflow_runtime::telemetry;
use tonic::{Request, Response, Status};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::AppState;
use crate::error::ApiError;
use crate::ingest::{Accepted, EventFields, ValidEvent, validate_event};
use eventflow_auth::Principal;

/// The gRPC face of the gateway.
pub struct IngestGrpc {
    state: Arc<AppState>,
}

impl IngestGrpc {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }

    async fn authenticate<T>(&self, request: &Request<T>) -> Result<Principal, ApiError> {
        let authorization = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok());
        let principal = self.state.authenticator.authenticate(authorization).await?;
        principal.require(Scope::Ingest)?;
        Ok(principal)
    }

    fn validate(&self, event: PublishRequest, path: &str) -> Result<ValidEvent, Vec<FieldError>> {
        let payload_json = if event.payload_json.is_empty() {
            None
        } else {
            Some(event.payload_json)
        };
        if let Some(payload) = &payload_json
            && serde_json::from_str::<serde::de::IgnoredAny>(payload).is_err()
        {
            return Err(vec![FieldError {
                field: format!("{path}payload_json"),
                message: "is not valid JSON".into(),
            }]);
        }
        let fields = EventFields {
            event_type: Some(event.r#type),
            payload: payload_json,
            idempotency_key: non_empty(event.idempotency_key),
            occurred_at: non_empty(event.occurred_at),
        };
        validate_event(fields, path, &self.state.limits)
    }
}

fn non_empty(value: String) -> Option<String> {
    if value.is_empty() { None } else { Some(value) }
}

fn request_span<T>(request: &Request<T>, name: &'static str) -> tracing::Span {
    let span = tracing::info_span!("grpc request", otel.name = name);
    let _ = span.set_parent(telemetry::extract_remote_context_from_grpc(
        request.metadata(),
    ));
    span
}

fn to_wire(accepted: Accepted) -> Result<PublishResponse, ApiError> {
    let accepted = crate::http::to_response(accepted)?;
    Ok(PublishResponse {
        id: accepted.id,
        duplicate: accepted.duplicate,
        received_at: accepted.received_at,
    })
}

fn item_error(index: usize, problem: Problem) -> PublishResult {
    PublishResult {
        index: index as u32,
        outcome: Some(publish_result::Outcome::Error(ItemError {
            status: u32::from(problem.status),
            r#type: problem.type_uri,
            detail: problem.detail,
            errors: problem
                .errors
                .into_iter()
                .map(|error| WireFieldError {
                    field: error.field,
                    message: error.message,
                })
                .collect(),
        })),
    }
}

#[tonic::async_trait]
impl IngestService for IngestGrpc {
    async fn publish(
        &self,
        request: Request<PublishRequest>,
    ) -> Result<Response<PublishResponse>, Status> {
        let span = request_span(&request, "IngestService/Publish");
        async move {
            let principal = self.authenticate(&request).await?;
            let event = self
                .validate(request.into_inner(), "")
                .map_err(ApiError::Invalid)?;
            let outcome = self
                .state
                .ingestor
                .ingest_one(&principal, event, telemetry::current_traceparent())
                .await?;
            let response = to_wire(outcome)?;
            metrics::counter!("eventflow_events_accepted_total").increment(1);
            Ok::<_, ApiError>(Response::new(response))
        }
        .instrument(span)
        .await
        .map_err(Status::from)
    }

    async fn publish_batch(
        &self,
        request: Request<PublishBatchRequest>,
    ) -> Result<Response<PublishBatchResponse>, Status> {
        let span = request_span(&request, "IngestService/PublishBatch");
        async move {
            let principal = self.authenticate(&request).await?;
            let events = request.into_inner().events;
            let limit = self.state.limits.max_batch_events;
            if events.is_empty() || events.len() > limit {
                return Err(ApiError::invalid(
                    "events",
                    format!("must hold 1 to {limit} events, not {}", events.len()),
                ));
            }
            let checked: Vec<Result<ValidEvent, Vec<FieldError>>> = events
                .into_iter()
                .enumerate()
                .map(|(index, event)| self.validate(event, &format!("events[{index}].")))
                .collect();
            let valid: Vec<ValidEvent> = checked
                .iter()
                .filter_map(|item| item.as_ref().ok().cloned())
                .collect();
            let mut outcomes = self
                .state
                .ingestor
                .ingest(&principal, valid, telemetry::current_traceparent())
                .await?
                .into_iter();
            let results: Vec<PublishResult> = checked
                .into_iter()
                .enumerate()
                .map(|(index, item)| match item {
                    Err(errors) => item_error(index, ApiError::Invalid(errors).problem()),
                    Ok(_) => match outcomes.next().map(to_wire) {
                        Some(Ok(accepted)) => PublishResult {
                            index: index as u32,
                            outcome: Some(publish_result::Outcome::Accepted(accepted)),
                        },
                        Some(Err(error)) => item_error(index, error.problem()),
                        None => item_error(index, Problem::internal()),
                    },
                })
                .collect();
            let accepted = results
                .iter()
                .filter(|result| {
                    matches!(result.outcome, Some(publish_result::Outcome::Accepted(_)))
                })
                .count();
            metrics::counter!("eventflow_events_accepted_total").increment(accepted as u64);
            Ok::<_, ApiError>(Response::new(PublishBatchResponse { results }))
        }
        .instrument(span)
        .await
        .map_err(Status::from)
    }
}
