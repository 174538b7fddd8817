//! The ingest routes. Checks run cheapest first: key, content type, size,
//! JSON, fields, rate limit; only then is anything written.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use eventflow_domain::{EventId, Scope, format_rfc3339};
use eventflow_runtime::api_error::{EdgeError, FieldError, Problem};
use eventflow_runtime::telemetry;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::group_commit::CommitError;
use crate::ingest::{Accepted, EventFields, ValidEvent, validate_event};
use crate::{AppState, Limits};
use eventflow_auth::Principal;

/// One event as posted; every field raw so each error can name its field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventIn<'a> {
    #[serde(rename = "type", borrow)]
    event_type: Option<&'a RawValue>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    #[serde(borrow)]
    idempotency_key: Option<&'a RawValue>,
    #[serde(borrow)]
    occurred_at: Option<&'a RawValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchIn<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

/// The answer to an accepted event.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct EventAccepted {
    pub id: String,
    pub received_at: String,
    /// True when the idempotency key matched an event stored earlier.
    pub duplicate: bool,
}

/// One item of a batch answer: `status` 202 with the event, or a 4xx with a problem.
#[derive(Debug, Serialize, Deserialize)]
pub struct ItemResult {
    pub index: usize,
    pub status: u16,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<EventAccepted>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<serde_json::Value>,
}

/// The answer to a batch: one result per item, in order.
#[derive(Debug, Serialize, Deserialize)]
pub struct BatchResponse {
    pub accepted: usize,
    pub rejected: usize,
    pub results: Vec<ItemResult>,
}

/// Stores one event and answers 202 once it is committed.
#[post("/v1/events")]
pub async fn post_event(
    request: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    async {
        let principal = authenticate(&request, &state).await?;
        let body = read_json_body(&request, body, state.limits.max_event_bytes).await?;
        let event_in: EventIn = parse_json(&body, Shape::Event, "")?;
        let mut fields = event_fields(event_in, "").map_err(ApiError::Invalid)?;
        merge_idempotency_header(&request, &mut fields)?;
        let event = validate_event(fields, "", &state.limits).map_err(ApiError::Invalid)?;
        let outcome = state
            .ingestor
            .ingest_one(&principal, event, telemetry::current_traceparent())
            .await?;
        let accepted = to_response(outcome)?;
        record_accepted(1);
        Ok(HttpResponse::Accepted().json(accepted))
    }
    .await
    .inspect_err(record_failure)
}

/// Stores up to `max_batch_events` events; answers one result per item.
#[post("/v1/events/batch")]
pub async fn post_batch(
    request: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    async {
        let principal = authenticate(&request, &state).await?;
        if request.headers().contains_key("idempotency-key") {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "is not used for batches: give each event its own idempotency_key",
            ));
        }
        let body = read_json_body(&request, body, state.limits.max_batch_bytes).await?;
        let batch: BatchIn = parse_json(&body, Shape::Batch, "")?;
        let limit = state.limits.max_batch_events;
        if batch.events.is_empty() || batch.events.len() > limit {
            return Err(ApiError::invalid(
                "events",
                format!("must hold 1 to {limit} events, not {}", batch.events.len()),
            ));
        }
        let mut valid = Vec::with_capacity(batch.events.len());
        let checked: Vec<Result<(), Problem>> = batch
            .events
            .iter()
            .enumerate()
            .map(|(index, raw)| {
                check_batch_item(index, raw, &state.limits).map(|event| valid.push(event))
            })
            .collect();
        let mut outcomes = state
            .ingestor
            .ingest(&principal, valid, telemetry::current_traceparent())
            .await?
            .into_iter();
        let results: Vec<ItemResult> = checked
            .into_iter()
            .enumerate()
            .map(|(index, item)| match item {
                Err(problem) => item_failed(index, problem),
                Ok(_) => match outcomes.next().map(to_response) {
                    Some(Ok(accepted)) => ItemResult {
                        index,
                        status: 202,
                        accepted: Some(accepted),
                        error: None,
                    },
                    Some(Err(error)) => item_failed(index, error.problem()),
                    None => item_failed(index, Problem::internal()),
                },
            })
            .collect();
        let accepted = results.iter().filter(|result| result.status == 202).count();
        record_accepted(accepted);
        record_rejected("invalid_item", results.len() - accepted);
        Ok(HttpResponse::Ok().json(BatchResponse {
            accepted,
            rejected: results.len() - accepted,
            results,
        }))
    }
    .await
    .inspect_err(record_failure)
}

async fn authenticate(request: &HttpRequest, state: &AppState) -> Result<Principal, ApiError> {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let principal = state.authenticator.authenticate(authorization).await?;
    principal.require(Scope::Ingest)?;
    Ok(principal)
}

/// Reads the body after checking the content type and, before reading, the
/// declared length, so an oversized body is refused without buffering it.
async fn read_json_body(
    request: &HttpRequest,
    mut body: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let is_json = content_type
        .and_then(|value| value.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false);
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut bytes = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::MalformedJson(format!("could not read the body: {error}"))
        })?;
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}

/// Syntax errors are 400; well-formed JSON of the wrong shape is 422.
/// What a body (or a batch item) must be, said in the contract's words.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Event,
    Batch,
}

impl Shape {
    /// The refusal of a body that is valid JSON but not an object.
    fn not_an_object(self, is_array: bool) -> &'static str {
        match (self, is_array) {
            (Self::Event, true) => {
                "must be one event, a JSON object {\"type\": …, \"payload\": …}; to send several, POST {\"events\": [ … ]} to /v1/events/batch"
            }
            (Self::Event, false) => "must be an event, a JSON object {\"type\": …, \"payload\": …}",
            (Self::Batch, true) => {
                "must be a JSON object {\"events\": [ … ]}, not a bare array: put the events under \"events\""
            }
            (Self::Batch, false) => "must be a JSON object {\"events\": [ … ]}",
        }
    }

    fn fields(self) -> &'static str {
        match self {
            Self::Event => "an event has type, payload, idempotency_key and occurred_at",
            Self::Batch => "a batch has only events",
        }
    }
}

/// Parses `body` as `shape`. serde would also read a struct from a JSON
/// array, and words its refusals in Rust's terms ("expected struct EventIn"),
/// so anything but an object is refused first and its data errors are
/// reworded, each naming its field (prefixed with `path`, e.g. `events[3].`).
fn parse_json<'a, T: Deserialize<'a>>(
    body: &'a [u8],
    shape: Shape,
    path: &str,
) -> Result<T, ApiError> {
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    if first != Some(&b'{') {
        // Malformed JSON is reported as such first.
        serde_json::from_slice::<serde::de::IgnoredAny>(body)
            .map_err(|error| ApiError::MalformedJson(error.to_string()))?;
        return Err(ApiError::invalid(
            path.strip_suffix('.').unwrap_or("body"),
            shape.not_an_object(first == Some(&b'[')),
        ));
    }
    serde_json::from_slice(body).map_err(|error| match error.classify() {
        serde_json::error::Category::Data => data_error(&error.to_string(), shape, path),
        _ => ApiError::MalformedJson(error.to_string()),
    })
}

/// serde's message about an object of the wrong shape, in the contract's words.
fn data_error(message: &str, shape: Shape, path: &str) -> ApiError {
    if let Some(mut error) = eventflow_runtime::api_error::field_error(message, path) {
        if message.starts_with("unknown field") {
            error.message = format!("is not a known field ({})", shape.fields());
        }
        return ApiError::Invalid(vec![error]);
    }
    match shape {
        Shape::Batch => ApiError::invalid(&format!("{path}events"), "must be an array of events"),
        Shape::Event => ApiError::invalid(
            path.strip_suffix('.').unwrap_or("body"),
            shape.not_an_object(false),
        ),
    }
}

/// Turns raw JSON fields into strings; `null` counts as absent.
fn event_fields(event: EventIn<'_>, path: &str) -> Result<EventFields, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut string_field = |name: &str, raw: Option<&RawValue>| -> Option<String> {
        let raw = raw.filter(|raw| raw.get() != "null")?;
        serde_json::from_str::<String>(raw.get())
            .map_err(|_| {
                errors.push(FieldError {
                    field: format!("{path}{name}"),
                    message: "must be a string".into(),
                })
            })
            .ok()
    };
    let fields = EventFields {
        event_type: string_field("type", event.event_type),
        idempotency_key: string_field("idempotency_key", event.idempotency_key),
        occurred_at: string_field("occurred_at", event.occurred_at),
        payload: event
            .payload
            .filter(|raw| raw.get() != "null")
            .map(|raw| raw.get().to_owned()),
    };
    if errors.is_empty() {
        Ok(fields)
    } else {
        Err(errors)
    }
}

fn merge_idempotency_header(
    request: &HttpRequest,
    fields: &mut EventFields,
) -> Result<(), ApiError> {
    let Some(value) = request.headers().get("idempotency-key") else {
        return Ok(());
    };
    let header = value
        .to_str()
        .map_err(|_| ApiError::invalid("Idempotency-Key", "must be printable ASCII"))?
        .to_owned();
    match &fields.idempotency_key {
        Some(body_key) if *body_key != header => Err(ApiError::invalid(
            "idempotency_key",
            "differs from the Idempotency-Key header; send one or make them equal",
        )),
        _ => {
            fields.idempotency_key = Some(header);
            Ok(())
        }
    }
}

fn check_batch_item(index: usize, raw: &RawValue, limits: &Limits) -> Result<ValidEvent, Problem> {
    let max_event_bytes = limits.max_event_bytes;
    let path = format!("events[{index}].");
    if raw.get().len() > max_event_bytes {
        return Err(ApiError::PayloadTooLarge {
            limit: max_event_bytes,
        }
        .problem());
    }
    let event_in: EventIn =
        parse_json(raw.get().as_bytes(), Shape::Event, &path).map_err(|error| error.problem())?;
    let fields =
        event_fields(event_in, &path).map_err(|errors| ApiError::Invalid(errors).problem())?;
    validate_event(fields, &path, limits).map_err(|errors| ApiError::Invalid(errors).problem())
}

fn item_failed(index: usize, problem: Problem) -> ItemResult {
    ItemResult {
        index,
        status: problem.status,
        accepted: None,
        error: serde_json::to_value(&problem).ok(),
    }
}

/// The answer for a committed event (over HTTP and gRPC); a reused
/// idempotency key is an error.
pub(crate) fn to_response(accepted: Accepted) -> Result<EventAccepted, ApiError> {
    let (id, received_at, duplicate): (EventId, OffsetDateTime, bool) = match accepted {
        Accepted::Stored { id, received_at } => (id, received_at, false),
        Accepted::Duplicate { id, received_at } => (id, received_at, true),
        Accepted::KeyConflict { existing } => {
            return Err(ApiError::IdempotencyKeyReused { existing });
        }
        Accepted::Failed(error) => return Err(ApiError::Commit(error)),
    };
    Ok(EventAccepted {
        id: id.to_string(),
        received_at: format_rfc3339(received_at),
        duplicate,
    })
}

fn record_accepted(count: usize) {
    metrics::counter!("eventflow_events_accepted_total").increment(count as u64);
}

fn record_rejected(reason: &'static str, count: usize) {
    if count > 0 {
        metrics::counter!("eventflow_events_rejected_total", "reason" => reason)
            .increment(count as u64);
    }
}

fn record_failure(error: &ApiError) {
    let reason = match error {
        ApiError::Auth(_) => "unauthenticated",
        ApiError::UnsupportedMediaType => "unsupported_media_type",
        ApiError::PayloadTooLarge { .. } => "too_large",
        ApiError::MalformedJson(_) => "malformed",
        ApiError::Invalid(_) => "invalid",
        ApiError::IdempotencyKeyReused { .. } => "idempotency_conflict",
        ApiError::RateLimited { .. } => "rate_limited",
        ApiError::Commit(CommitError::EventRefused { .. }) => "refused",
        ApiError::Commit(_) => "unavailable",
    };
    record_rejected(reason, 1);
}
