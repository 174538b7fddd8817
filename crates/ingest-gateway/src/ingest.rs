//! The ingest path shared by HTTP and gRPC: validate what a producer sent,
//! charge the project's rate limit, commit through the group committer, and
//! report one outcome per event.

use eventflow_domain::{
    EventId, EventType, IdempotencyKey, ProjectId, RESERVED_EVENT_TYPE_PREFIX, RateLimit,
    check_payload_depth, parse_rfc3339,
};
use eventflow_queue::{Queue, RateDecision};
use eventflow_runtime::api_error::{ErrorChain, FieldError};
use eventflow_store::{InsertOutcome, NewEvent};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::Limits;
use crate::group_commit::{CommitError, EventResult, GroupCommitter};
use eventflow_auth::Principal;

/// One event's fields as the producer sent them, before validation.
#[derive(Debug, Default)]
pub struct EventFields {
    pub event_type: Option<String>,
    /// The payload's JSON text.
    pub payload: Option<String>,
    pub idempotency_key: Option<String>,
    pub occurred_at: Option<String>,
}

/// An event that passed validation.
#[derive(Debug, Clone)]
pub struct ValidEvent {
    event_type: EventType,
    payload: String,
    idempotency_key: Option<IdempotencyKey>,
    occurred_at: Option<OffsetDateTime>,
}

/// What became of one valid event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    Stored {
        id: EventId,
        received_at: OffsetDateTime,
    },
    Duplicate {
        id: EventId,
        received_at: OffsetDateTime,
    },
    /// The idempotency key names an earlier event with a different request.
    KeyConflict { existing: EventId },
    /// Not stored, while other events of the same commit were (e.g. the
    /// database refused this event's data).
    Failed(CommitError),
}

/// Why a set of valid events was not committed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("rate limit exceeded")]
    RateLimited {
        decision: RateDecision,
        limit: RateLimit,
    },
    #[error(transparent)]
    Commit(#[from] CommitError),
}

/// Checks the fields of one event; `path` prefixes field names in errors
/// (e.g. `events[3].`). The payload may take up to `limits.max_event_bytes`
/// and nest up to `limits.max_payload_depth` levels.
pub fn validate_event(
    fields: EventFields,
    path: &str,
    limits: &Limits,
) -> Result<ValidEvent, Vec<FieldError>> {
    let max_payload_bytes = limits.max_event_bytes;
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: String| {
        errors.push(FieldError {
            field: format!("{path}{field}"),
            message,
        });
    };
    let event_type = match fields.event_type {
        None => {
            fail("type", "is required".to_owned());
            None
        }
        Some(raw) => match EventType::parse(&raw) {
            Ok(event_type) if event_type.is_reserved() => {
                fail(
                    "type",
                    format!("{RESERVED_EVENT_TYPE_PREFIX}* types are reserved for EventFlow"),
                );
                None
            }
            Ok(event_type) => Some(event_type),
            Err(error) => {
                fail("type", error.to_string());
                None
            }
        },
    };
    let payload = match fields.payload {
        None => {
            fail(
                "payload",
                "is required and must be a JSON object".to_owned(),
            );
            None
        }
        Some(text) if !text.trim_start().starts_with('{') => {
            fail("payload", "must be a JSON object".to_owned());
            None
        }
        Some(text) if text.len() > max_payload_bytes => {
            fail(
                "payload",
                format!(
                    "is {} bytes, more than the limit of {max_payload_bytes}",
                    text.len()
                ),
            );
            None
        }
        Some(text) => match check_payload_depth(&text, limits.max_payload_depth) {
            Ok(()) => Some(text),
            Err(error) => {
                fail("payload", error.to_string());
                None
            }
        },
    };
    let idempotency_key = fields.idempotency_key.and_then(|raw| {
        IdempotencyKey::parse(&raw)
            .map_err(|error| fail("idempotency_key", error.to_string()))
            .ok()
    });
    let occurred_at = fields.occurred_at.and_then(|raw| {
        parse_rfc3339(&raw)
            .map_err(|error| fail("occurred_at", error.to_string()))
            .ok()
    });
    match (event_type, payload) {
        (Some(event_type), Some(payload)) if errors.is_empty() => Ok(ValidEvent {
            event_type,
            payload,
            idempotency_key,
            occurred_at,
        }),
        _ => Err(errors),
    }
}

impl ValidEvent {
    /// Fingerprint of what was asked, so a retry with the same idempotency key
    /// can be told from a different request reusing it. The payload is
    /// canonicalised (keys sorted, whitespace dropped) first.
    fn request_hash(&self) -> [u8; 32] {
        let canonical_payload = serde_json::from_str::<serde_json::Value>(&self.payload)
            .map(|value| value.to_string())
            .unwrap_or_else(|_| self.payload.clone());
        let mut hasher = Sha256::new();
        hasher.update(self.event_type.as_str().as_bytes());
        hasher.update([0]);
        hasher.update(canonical_payload.as_bytes());
        hasher.update([0]);
        if let Some(occurred_at) = self.occurred_at {
            hasher.update(occurred_at.unix_timestamp_nanos().to_be_bytes());
        }
        hasher.finalize().into()
    }

    fn into_new_event(
        self,
        project_id: ProjectId,
        received_at: OffsetDateTime,
        traceparent: Option<String>,
    ) -> NewEvent {
        let idempotency = self
            .idempotency_key
            .clone()
            .map(|key| (key, self.request_hash()));
        NewEvent {
            id: EventId::new(),
            project_id,
            event_type: self.event_type,
            payload: self.payload,
            idempotency,
            occurred_at: self.occurred_at.unwrap_or(received_at),
            received_at,
            traceparent,
        }
    }
}

/// Runs valid events through the rate limiter and the group committer.
pub struct Ingestor {
    queue: Queue,
    committer: GroupCommitter,
    /// The project limit where the caller's key sets none of its own.
    default_rate_limit: RateLimit,
}

impl Ingestor {
    pub fn new(queue: Queue, committer: GroupCommitter, default_rate_limit: RateLimit) -> Self {
        Self {
            queue,
            committer,
            default_rate_limit,
        }
    }

    /// Commits `events` for the principal's project and returns one outcome
    /// per event, in order, once they are durable.
    #[tracing::instrument(level = "debug", skip_all, fields(events = events.len()))]
    pub async fn ingest(
        &self,
        principal: &Principal,
        events: Vec<ValidEvent>,
        traceparent: Option<String>,
    ) -> Result<Vec<Accepted>, IngestError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        self.charge_rate_limit(principal, events.len()).await?;
        let received_at = OffsetDateTime::now_utc();
        let new_events: Vec<NewEvent> = events
            .into_iter()
            .map(|event| {
                event.into_new_event(principal.project_id, received_at, traceparent.clone())
            })
            .collect();
        let ids: Vec<EventId> = new_events.iter().map(|event| event.id).collect();
        let outcomes = self.committer.commit(new_events).await?;
        if let Some(error) = common_failure(&outcomes) {
            return Err(IngestError::Commit(error));
        }
        Ok(ids
            .into_iter()
            .zip(outcomes)
            .map(|(id, outcome)| match outcome {
                Ok(InsertOutcome::Inserted) => Accepted::Stored { id, received_at },
                Ok(InsertOutcome::Duplicate { id, received_at }) => {
                    Accepted::Duplicate { id, received_at }
                }
                Ok(InsertOutcome::KeyReusedWithDifferentRequest { id }) => {
                    Accepted::KeyConflict { existing: id }
                }
                Err(error) => Accepted::Failed(error),
            })
            .collect())
    }

    /// Commits one event and returns its outcome, once it is durable.
    pub async fn ingest_one(
        &self,
        principal: &Principal,
        event: ValidEvent,
        traceparent: Option<String>,
    ) -> Result<Accepted, IngestError> {
        self.ingest(principal, vec![event], traceparent)
            .await?
            .into_iter()
            .next()
            .ok_or(IngestError::Commit(CommitError::Rejected))
    }

    /// Fails open: when Redis cannot answer, events are still accepted, since
    /// PostgreSQL, not the limiter, decides whether an event is safe.
    async fn charge_rate_limit(
        &self,
        principal: &Principal,
        cost: usize,
    ) -> Result<(), IngestError> {
        let cost = u32::try_from(cost).unwrap_or(u32::MAX);
        let limit = principal.rate_limit.or(self.default_rate_limit);
        match self
            .queue
            .check_rate(principal.project_id, cost, limit)
            .await
        {
            Ok(decision) if !decision.allowed => Err(IngestError::RateLimited { decision, limit }),
            Ok(_) => Ok(()),
            Err(error) => {
                metrics::counter!("eventflow_rate_limiter_errors_total").increment(1);
                tracing::warn!(error = %ErrorChain(&error), "rate limiter unavailable, admitting the request");
                Ok(())
            }
        }
    }
}

/// The one failure every event met when none was stored and none was
/// refused for its own data (the database was down, say), so the request
/// answers as a whole (503 with `Retry-After`); None when the events fared
/// differently.
fn common_failure(outcomes: &[EventResult]) -> Option<CommitError> {
    let mut errors = outcomes.iter().map(|outcome| outcome.as_ref().err());
    let first = errors.next()??;
    if matches!(first, CommitError::EventRefused { .. }) {
        return None;
    }
    errors
        .all(|error| error == Some(first))
        .then(|| first.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_event_bytes: usize) -> Limits {
        Limits {
            max_event_bytes,
            max_payload_depth: 3,
            max_batch_bytes: max_event_bytes,
            max_batch_events: 10,
        }
    }

    fn fields(event_type: &str, payload: &str) -> EventFields {
        EventFields {
            event_type: Some(event_type.into()),
            payload: Some(payload.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_well_formed_event_is_valid() {
        assert!(validate_event(fields("order.created", r#"{"a":1}"#), "", &limits(1024)).is_ok());
    }

    #[test]
    fn every_bad_field_is_reported_with_its_path() {
        let bad = EventFields {
            event_type: Some("".into()),
            payload: Some("[1]".into()),
            idempotency_key: Some("".into()),
            occurred_at: Some("yesterday".into()),
        };
        let errors = validate_event(bad, "events[2].", &limits(1024)).unwrap_err();
        let names: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            names,
            [
                "events[2].type",
                "events[2].payload",
                "events[2].idempotency_key",
                "events[2].occurred_at"
            ]
        );
    }

    #[test]
    fn a_payload_over_the_limit_is_refused() {
        let errors =
            validate_event(fields("a", r#"{"a":"0123456789"}"#), "", &limits(10)).unwrap_err();
        assert_eq!(errors[0].field, "payload");
    }

    #[test]
    fn a_payload_nested_past_the_depth_limit_is_refused_with_the_limit_named() {
        assert!(validate_event(fields("a", r#"{"a":{"b":[1]}}"#), "", &limits(100)).is_ok());
        let errors = validate_event(
            fields("a", r#"{"a":{"b":[{}]}}"#),
            "events[0].",
            &limits(100),
        )
        .unwrap_err();
        assert_eq!(errors[0].field, "events[0].payload");
        assert!(
            errors[0].message.contains("limit of 3 levels"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn the_request_hash_ignores_key_order_and_whitespace() {
        let a = validate_event(fields("a", r#"{"x":1,"y":2}"#), "", &limits(100)).unwrap();
        let b = validate_event(fields("a", r#"{ "y": 2, "x": 1 }"#), "", &limits(100)).unwrap();
        let c = validate_event(fields("a", r#"{"x":1,"y":3}"#), "", &limits(100)).unwrap();
        assert_eq!(a.request_hash(), b.request_hash());
        assert_ne!(a.request_hash(), c.request_hash());
    }
}
