//! `/v1/endpoints`: a project's webhook endpoints. The project is the calling
//! key's; another project's endpoint ids answer 404. Reads need the `read`
//! scope, changes (and the signing secret) the `admin` scope.
//!
//! The dispatcher caches endpoint definitions; after every change this
//! module asks it over gRPC `DispatchControl.RefreshEndpointCache` to drop
//! the project's, best effort (an unreachable dispatcher is logged, and its
//! cache expires on its own). A test send and a recovery are carried out by
//! the dispatcher too (`ReplayEvents`, `RecoverEndpoint`).

pub(crate) mod definition;

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use eventflow_domain::{
    DomainError, EndpointHeaders, EndpointId, EndpointLimits, EndpointUrl, EventId, EventType,
    ProjectId, Scope, format_rfc3339, parse_rfc3339,
};
use eventflow_proto::dispatch::v1::{
    RecoverEndpointRequest, RefreshEndpointCacheRequest, ReplayEventsRequest,
};
use eventflow_store::{
    EndpointChanges, EndpointDefinition, EndpointDetails, InsertOutcome, NewEvent, StoreError,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use self::definition::Checks;
use super::deliveries::Scheduled;
use super::responses::{NeedsAdmin, NeedsRead, NotFound, ViaDispatcher};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::pagination::{Page, PageParams};

/// The event type of a test send.
const TEST_EVENT_TYPE: &str = "eventflow.test";
/// How long the old secret keeps signing after a rotation, by default.
const DEFAULT_GRACE_SECONDS: u64 = 24 * 60 * 60;
/// The longest grace period a rotation may ask for (a week).
const MAX_GRACE_SECONDS: u64 = 7 * 24 * 60 * 60;
/// How long a change waits for the dispatcher to drop its cache.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(2);
/// What header values look like to a caller without the `admin` scope.
const REDACTED: &str = "[redacted]";

/// Registers this module's routes (collected into the OpenAPI document).
pub fn register(config: &mut ServiceConfig) {
    config
        .service(create_endpoint)
        .service(list_endpoints)
        .service(get_endpoint)
        .service(update_endpoint)
        .service(delete_endpoint)
        .service(get_secret)
        .service(rotate_secret)
        .service(send_test)
        .service(recover_endpoint);
}

/// An endpoint as the API shows it (without its signing secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointOut {
    /// `ep_…`
    #[schema(value_type = String)]
    pub id: EndpointId,
    /// `prj_…`
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    pub url: String,
    pub description: String,
    /// Event-type filters: exact types, `prefix.*` or `*`.
    pub event_types: Vec<String>,
    /// The payload predicate; null delivers every payload.
    #[schema(value_type = Option<Object>)]
    pub payload_filter: Option<Value>,
    /// Headers added to every delivery (lower-case names). Values are shown
    /// only to keys with the `admin` scope, `[redacted]` to others.
    pub headers: BTreeMap<String, String>,
    /// Deliveries per second; null: unlimited.
    pub rate_limit_per_second: Option<i32>,
    /// Deliveries in flight at most.
    pub max_concurrency: i32,
    /// Disabled endpoints receive nothing; deliveries wait until re-enabled.
    pub enabled: bool,
    /// Why it is disabled: "disabled by user" or since when it failed.
    pub disabled_reason: Option<String>,
    /// Paused endpoints hold their deliveries until unpaused.
    pub paused: bool,
    /// Since when every delivery failed; null while it succeeds.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub failing_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_success_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl EndpointOut {
    /// The endpoint as `caller` may see it: header values only with `admin`.
    fn for_caller(details: EndpointDetails, caller: &Caller) -> Self {
        let reveal =
            matches!(caller, Caller::Key(principal) if principal.scopes.contains(Scope::Admin));
        let headers = details
            .record
            .headers
            .as_object()
            .map(|object| {
                object
                    .iter()
                    .filter_map(|(name, value)| {
                        let value = if reveal { value.as_str()? } else { REDACTED };
                        Some((name.clone(), value.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let record = details.record;
        Self {
            id: record.id,
            project_id: record.project_id,
            url: record.url,
            description: details.description,
            event_types: record.event_types,
            payload_filter: record.payload_filter,
            headers,
            rate_limit_per_second: record.rate_limit_per_second,
            max_concurrency: record.max_concurrency,
            enabled: record.enabled,
            disabled_reason: details.disabled_reason,
            paused: record.paused,
            failing_since: details.failing_since,
            last_success_at: details.last_success_at,
            created_at: record.created_at,
            updated_at: details.updated_at,
        }
    }
}

/// An endpoint just created, with the secret that signs its deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedEndpointOut {
    #[serde(flatten)]
    pub endpoint: EndpointOut,
    /// `whsec_…`: verify deliveries with it (Standard Webhooks).
    pub secret: String,
}

/// What creating an endpoint takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointIn {
    /// An absolute http or https URL, without user name or password.
    pub url: String,
    pub description: Option<String>,
    /// Exact types, `prefix.*` or `*` (the default).
    pub event_types: Option<Vec<String>>,
    /// A predicate on the payload, e.g. `{"field": "amount", "gt": 100}`.
    #[schema(value_type = Option<Object>)]
    pub payload_filter: Option<Value>,
    /// Headers added to every delivery; `webhook-*`, `content-type`, `host`
    /// and other headers EventFlow or HTTP set are refused.
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub headers: Option<Value>,
    /// Deliveries per second, 1 to 100000; absent: unlimited.
    pub rate_limit_per_second: Option<i64>,
    /// Deliveries in flight at most, 1 to 1000 (16 by default).
    pub max_concurrency: Option<i64>,
    /// False creates it disabled; true by default.
    pub enabled: Option<bool>,
}

/// Changes to an endpoint; absent fields stay as they are, and null clears
/// `description`, `payload_filter`, `headers` and `rate_limit_per_second`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    pub url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub payload_filter: Option<Option<Value>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub headers: Option<Option<Value>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub rate_limit_per_second: Option<Option<i64>>,
    pub max_concurrency: Option<i64>,
    /// False disables ("disabled by user"); true re-enables, forgets the
    /// failing state and releases the deliveries held meanwhile.
    pub enabled: Option<bool>,
    /// True holds deliveries; false releases them.
    pub paused: Option<bool>,
}

/// Tells a field given as null (`Some(None)`) from an absent one (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The secrets that sign an endpoint's deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointSecretOut {
    /// `whsec_…`
    pub secret: String,
    /// The secret before the last rotation, while it still signs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<String>,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub previous_secret_expires_at: Option<OffsetDateTime>,
}

impl From<&EndpointDetails> for EndpointSecretOut {
    fn from(details: &EndpointDetails) -> Self {
        let record = &details.record;
        let previous = match (&record.previous_secret, record.previous_secret_expires_at) {
            (Some(secret), Some(expires)) if expires > OffsetDateTime::now_utc() => {
                Some((secret.clone(), expires))
            }
            _ => None,
        };
        Self {
            secret: record.secret.clone(),
            previous_secret: previous.as_ref().map(|(secret, _)| secret.clone()),
            previous_secret_expires_at: previous.map(|(_, expires)| expires),
        }
    }
}

/// How to rotate a secret.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateIn {
    /// How long the old secret keeps signing, 0 to 604800 (a week); 86400 by default.
    pub grace_period_seconds: Option<u64>,
}

/// The event a test send stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestSendOut {
    /// `evt_…` of type `eventflow.test`.
    pub event_id: String,
}

/// What recovering an endpoint takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverIn {
    /// RFC 3339: failed deliveries created at or after it are sent again.
    pub since: String,
}

/// Parses an endpoint URL and refuses an address outside this deployment's allow-list.
fn reachable_url(raw: &str, state: &AppState) -> Result<EndpointUrl, DomainError> {
    let url = EndpointUrl::parse(raw)?;
    url.check_reachable(&state.endpoint_allow_nets)?;
    Ok(url)
}

/// Checks a new endpoint and returns what the store keeps.
fn check_new(body: EndpointIn, state: &AppState) -> Result<EndpointDefinition, ApiError> {
    let mut checks = Checks::default();
    let url = checks.parsed("url", reachable_url(&body.url, state));
    let description = checks.check(
        "description",
        definition::description(body.description.as_deref().unwrap_or_default()),
    );
    let event_types = checks.check(
        "event_types",
        definition::event_types(&body.event_types.unwrap_or_else(|| vec!["*".to_owned()])),
    );
    let payload_filter = checks.check(
        "payload_filter",
        definition::payload_filter(body.payload_filter.as_ref().unwrap_or(&Value::Null)),
    );
    let headers = checks.parsed(
        "headers",
        EndpointHeaders::from_json(body.headers.as_ref().unwrap_or(&Value::Null)),
    );
    let rate_limit_per_second = checks.parsed(
        "rate_limit_per_second",
        body.rate_limit_per_second
            .map(EndpointLimits::parse_rate_limit_per_second)
            .transpose(),
    );
    let max_concurrency = checks.parsed(
        "max_concurrency",
        body.max_concurrency
            .map(EndpointLimits::parse_max_concurrency)
            .transpose(),
    );
    checks.finish()?;
    // Every check passed, so every value is there.
    let missing = || ApiError::Internal("a checked endpoint field is missing".into());
    Ok(EndpointDefinition {
        url: url.ok_or_else(missing)?,
        description: description.ok_or_else(missing)?,
        event_types: event_types.ok_or_else(missing)?,
        payload_filter: payload_filter.ok_or_else(missing)?,
        headers: headers.ok_or_else(missing)?,
        limits: EndpointLimits {
            rate_limit_per_second: rate_limit_per_second.ok_or_else(missing)?,
            max_concurrency: max_concurrency
                .ok_or_else(missing)?
                .unwrap_or(EndpointLimits::DEFAULT_CONCURRENCY),
        },
        enabled: body.enabled.unwrap_or(true),
    })
}

/// Checks the changes to an endpoint and returns what the store applies.
fn check_patch(body: EndpointPatch, state: &AppState) -> Result<EndpointChanges, ApiError> {
    let mut checks = Checks::default();
    let mut changes = EndpointChanges {
        enabled: body.enabled,
        paused: body.paused,
        ..EndpointChanges::default()
    };
    if let Some(url) = &body.url {
        changes.url = checks.parsed("url", reachable_url(url, state));
    }
    if let Some(description) = &body.description {
        changes.description = checks.check(
            "description",
            definition::description(description.as_deref().unwrap_or_default()),
        );
    }
    if let Some(event_types) = &body.event_types {
        changes.event_types = checks.check("event_types", definition::event_types(event_types));
    }
    if let Some(filter) = &body.payload_filter {
        changes.payload_filter = checks.check(
            "payload_filter",
            definition::payload_filter(filter.as_ref().unwrap_or(&Value::Null)),
        );
    }
    if let Some(headers) = &body.headers {
        changes.headers = checks.parsed(
            "headers",
            EndpointHeaders::from_json(headers.as_ref().unwrap_or(&Value::Null)),
        );
    }
    if let Some(rate) = body.rate_limit_per_second {
        changes.rate_limit_per_second = checks.parsed(
            "rate_limit_per_second",
            rate.map(EndpointLimits::parse_rate_limit_per_second)
                .transpose(),
        );
    }
    if let Some(limit) = body.max_concurrency {
        changes.max_concurrency = checks.parsed(
            "max_concurrency",
            EndpointLimits::parse_max_concurrency(limit),
        );
    }
    checks.finish()?;
    Ok(changes)
}

/// Asks the dispatcher to drop the project's cached endpoints, best effort:
/// its cache expires on its own, so a failure is only logged.
async fn refresh_dispatcher_cache(state: &AppState, project_id: ProjectId) {
    let mut dispatcher = state.dispatcher.clone();
    let request = RefreshEndpointCacheRequest {
        project_id: project_id.to_string(),
    };
    match tokio::time::timeout(REFRESH_TIMEOUT, dispatcher.refresh_endpoint_cache(request)).await {
        Ok(Ok(_)) => {}
        Ok(Err(status)) => tracing::warn!(
            %project_id,
            code = ?status.code(),
            message = status.message(),
            "could not refresh the dispatcher's endpoint cache; it expires on its own"
        ),
        Err(_) => tracing::warn!(
            %project_id,
            "the dispatcher did not refresh its endpoint cache in time; it expires on its own"
        ),
    }
}

/// Creates an endpoint; the answer holds its signing secret.
#[utoipa::path(
    request_body = EndpointIn,
    responses(
        (status = 201, description = "created, with its secret", body = CreatedEndpointOut),
        (status = 422, description = "invalid URL, filters, headers or limits"),
        NeedsAdmin,
        (status = 409, description = "the project already has `max_endpoints_per_project` endpoints (100 by default)"),
    )
)]
#[post("/v1/endpoints")]
pub async fn create_endpoint(
    caller: Caller,
    body: web::Json<EndpointIn>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Admin)?;
    let definition = check_new(body.into_inner(), &state)?;
    let created = state
        .store
        .create_endpoint_from(project_id, &definition, state.max_endpoints_per_project)
        .await
        .map_err(|error| match error {
            StoreError::LimitReached { .. } => {
                ApiError::Conflict(format!("{error}; delete one before creating another"))
            }
            other => other.into(),
        })?;
    tracing::info!(%project_id, endpoint_id = %created.record.id, "endpoint created");
    refresh_dispatcher_cache(&state, project_id).await;
    let secret = created.record.secret.clone();
    Ok(HttpResponse::Created().json(CreatedEndpointOut {
        endpoint: EndpointOut::for_caller(created, &caller),
        secret,
    }))
}

/// Lists the project's endpoints, newest first.
#[utoipa::path(
    params(PageParams),
    responses(
        (status = 200, description = "OK", body = Page<EndpointOut>),
        NeedsRead,
    )
)]
#[get("/v1/endpoints")]
pub async fn list_endpoints(
    caller: Caller,
    params: web::Query<PageParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Read)?;
    let page = params.validate(state.page_limits)?;
    let rows = state
        .store
        .list_endpoints(
            project_id,
            page.before.map(EndpointId::from_uuid),
            i64::from(page.limit) + 1,
        )
        .await?;
    let rows: Vec<EndpointOut> = rows
        .into_iter()
        .map(|details| EndpointOut::for_caller(details, &caller))
        .collect();
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, page, |endpoint| endpoint.id.uuid())))
}

/// Returns one endpoint (without its secret).
#[utoipa::path(
    responses(
        (status = 200, description = "OK", body = EndpointOut),
        NeedsRead,
        NotFound,
    )
)]
#[get("/v1/endpoints/{id}")]
#[tracing::instrument(skip_all, fields(endpoint_id = %id))]
pub async fn get_endpoint(
    caller: Caller,
    id: web::Path<EndpointId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Read)?;
    let id = id.into_inner();
    let details = state.store.project_endpoint(project_id, id).await?;
    Ok(HttpResponse::Ok().json(EndpointOut::for_caller(details, &caller)))
}

/// Changes an endpoint; `enabled` and `paused` switch its deliveries off and on.
#[utoipa::path(
    request_body = EndpointPatch,
    responses(
        (status = 200, description = "OK", body = EndpointOut),
        (status = 422, description = "invalid changes"),
        NeedsAdmin,
        NotFound,
    )
)]
#[patch("/v1/endpoints/{id}")]
#[tracing::instrument(skip_all, fields(endpoint_id = %id))]
pub async fn update_endpoint(
    caller: Caller,
    id: web::Path<EndpointId>,
    body: web::Json<EndpointPatch>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Admin)?;
    let id = id.into_inner();
    let changes = check_patch(body.into_inner(), &state)?;
    let updated = state
        .store
        .update_endpoint(project_id, id, &changes)
        .await?;
    tracing::info!(%project_id, endpoint_id = %id, "endpoint changed");
    // The dispatcher forgets the old state first: released deliveries taken
    // against a cached "disabled" would be held again.
    refresh_dispatcher_cache(&state, project_id).await;
    let switched_on = changes.enabled == Some(true) || changes.paused == Some(false);
    if switched_on && updated.record.enabled && !updated.record.paused {
        let released = state.store.release_held_deliveries(id).await?;
        tracing::info!(endpoint_id = %id, released, "held deliveries released");
    }
    Ok(HttpResponse::Ok().json(EndpointOut::for_caller(updated, &caller)))
}

/// Deletes an endpoint; its pending deliveries end as failed.
#[utoipa::path(
    responses(
        (status = 204, description = "deleted"),
        NeedsAdmin,
        NotFound,
    )
)]
#[delete("/v1/endpoints/{id}")]
#[tracing::instrument(skip_all, fields(endpoint_id = %id))]
pub async fn delete_endpoint(
    caller: Caller,
    id: web::Path<EndpointId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Admin)?;
    let id = id.into_inner();
    state.store.delete_endpoint(project_id, id).await?;
    tracing::info!(%project_id, endpoint_id = %id, "endpoint deleted");
    refresh_dispatcher_cache(&state, project_id).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Returns the endpoint's signing secret, and the previous one while it still signs.
#[utoipa::path(
    responses(
        (status = 200, description = "OK", body = EndpointSecretOut),
        NeedsAdmin,
        NotFound,
    )
)]
#[get("/v1/endpoints/{id}/secret")]
#[tracing::instrument(skip_all, fields(endpoint_id = %id))]
pub async fn get_secret(
    caller: Caller,
    id: web::Path<EndpointId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Admin)?;
    let id = id.into_inner();
    let details = state.store.project_endpoint(project_id, id).await?;
    Ok(HttpResponse::Ok().json(EndpointSecretOut::from(&details)))
}

/// Replaces the signing secret; the old one keeps signing (alongside) for
/// the grace period. The body is optional.
#[utoipa::path(
    request_body(content = Option<RotateIn>, description = "optional"),
    responses(
        (status = 200, description = "OK", body = EndpointSecretOut),
        (status = 422, description = "a grace period out of range"),
        NeedsAdmin,
        NotFound,
    )
)]
#[post("/v1/endpoints/{id}/secret/rotate")]
#[tracing::instrument(skip_all, fields(endpoint_id = %id))]
pub async fn rotate_secret(
    caller: Caller,
    id: web::Path<EndpointId>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Admin)?;
    let id = id.into_inner();
    let body: RotateIn = if body.iter().all(u8::is_ascii_whitespace) {
        RotateIn::default()
    } else {
        ApiError::parse_body(&body)?
    };
    let grace = body.grace_period_seconds.unwrap_or(DEFAULT_GRACE_SECONDS);
    if grace > MAX_GRACE_SECONDS {
        return Err(ApiError::invalid(
            "grace_period_seconds",
            format!("must be between 0 and {MAX_GRACE_SECONDS}"),
        ));
    }
    let rotated = state
        .store
        .rotate_endpoint_secret(project_id, id, Duration::from_secs(grace))
        .await?;
    tracing::info!(%project_id, endpoint_id = %id, grace_seconds = grace, "endpoint secret rotated");
    refresh_dispatcher_cache(&state, project_id).await;
    Ok(HttpResponse::Ok().json(EndpointSecretOut::from(&rotated)))
}

/// Sends a test event (`eventflow.test`) to this endpoint only.
#[utoipa::path(
    responses(
        (status = 202, description = "stored and due for delivery", body = TestSendOut),
        NeedsAdmin,
        NotFound,
        (status = 409, description = "the endpoint is disabled or paused"),
        ViaDispatcher,
    )
)]
#[post("/v1/endpoints/{id}/test")]
#[tracing::instrument(skip_all, fields(endpoint_id = %id))]
pub async fn send_test(
    caller: Caller,
    id: web::Path<EndpointId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Admin)?;
    let id = id.into_inner();
    let endpoint = state.store.project_endpoint(project_id, id).await?;
    if !endpoint.record.enabled || endpoint.record.paused {
        // The dispatcher would hold it: better say so now.
        return Err(ApiError::Conflict(
            "the endpoint is disabled or paused; enable or unpause it first".into(),
        ));
    }
    let event_type = EventType::parse(TEST_EVENT_TYPE)
        .map_err(|error| ApiError::Internal(format!("test event type: {error}")))?;
    let now = OffsetDateTime::now_utc();
    let event = NewEvent {
        id: EventId::new(),
        project_id,
        event_type,
        payload: serde_json::json!({"test": true, "endpoint_id": id.to_string()}).to_string(),
        idempotency: None,
        occurred_at: now,
        received_at: now,
        traceparent: eventflow_runtime::telemetry::current_traceparent(),
    };
    let outcome = state
        .store
        .insert_events(std::slice::from_ref(&event))
        .await?;
    if outcome != [InsertOutcome::Inserted] {
        return Err(ApiError::Internal(format!(
            "test event not inserted: {outcome:?}"
        )));
    }
    // Naming the endpoint makes the dispatcher deliver to it alone, whatever
    // its event-type filters say.
    let request = ReplayEventsRequest {
        project_id: project_id.to_string(),
        event_ids: vec![event.id.to_string()],
        endpoint_ids: vec![id.to_string()],
    };
    state.dispatcher.clone().replay_events(request).await?;
    tracing::info!(%project_id, endpoint_id = %id, event_id = %event.id, "test event sent");
    Ok(HttpResponse::Accepted().json(TestSendOut {
        event_id: event.id.to_string(),
    }))
}

/// Sends the endpoint's failed (dead-lettered) deliveries created since a time again.
#[utoipa::path(
    request_body = RecoverIn,
    responses(
        (status = 202, description = "deliveries due again", body = Scheduled),
        (status = 422, description = "`since` is not an RFC 3339 time"),
        NeedsAdmin,
        NotFound,
        ViaDispatcher,
    )
)]
#[post("/v1/endpoints/{id}/recover")]
#[tracing::instrument(skip_all, fields(endpoint_id = %id))]
pub async fn recover_endpoint(
    caller: Caller,
    id: web::Path<EndpointId>,
    body: web::Json<RecoverIn>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Admin)?;
    let id = id.into_inner();
    let since = parse_rfc3339(&body.since)
        .map_err(|error| ApiError::invalid("since", error.to_string()))?;
    // Checked here too, so a foreign id answers 404 whatever the dispatcher says.
    state.store.project_endpoint(project_id, id).await?;
    let request = RecoverEndpointRequest {
        project_id: project_id.to_string(),
        endpoint_id: id.to_string(),
        since: format_rfc3339(since),
    };
    let scheduled = state
        .dispatcher
        .clone()
        .recover_endpoint(request)
        .await?
        .into_inner()
        .scheduled;
    tracing::info!(%project_id, endpoint_id = %id, scheduled, "endpoint recovery scheduled");
    Ok(HttpResponse::Accepted().json(Scheduled { scheduled }))
}
