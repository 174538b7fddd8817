//! Every way an ingest request can fail, mapped once to problem+json for HTTP
//! and to a status for gRPC.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use eventflow_domain::{EventId, RateLimit};
use eventflow_queue::RateDecision;
use eventflow_runtime::api_error::{ErrorKind, FieldError, Problem};

use crate::group_commit::CommitError;
use crate::ingest::IngestError;
use eventflow_auth::AuthError;

/// Seconds a client should wait before retrying while PostgreSQL is unreachable.
const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("request body is not valid json: {0}")]
    MalformedJson(String),
    #[error("{}", describe_fields(.0))]
    Invalid(Vec<FieldError>),
    #[error("idempotency key was already used for event {existing} with a different request")]
    IdempotencyKeyReused { existing: EventId },
    #[error("rate limit of {} events per second exceeded", limit.per_second)]
    RateLimited {
        decision: RateDecision,
        limit: RateLimit,
    },
    #[error("the event was not stored: {0}")]
    Commit(CommitError),
}

/// "type is required; payload must be a JSON object", for the problem's detail.
fn describe_fields(errors: &[FieldError]) -> String {
    let described: Vec<String> = errors
        .iter()
        .map(|error| {
            if error.field.is_empty() {
                error.message.clone()
            } else {
                format!("{} {}", error.field, error.message)
            }
        })
        .collect();
    format!("invalid request: {}", described.join("; "))
}

impl From<IngestError> for ApiError {
    fn from(error: IngestError) -> Self {
        match error {
            IngestError::RateLimited { decision, limit } => Self::RateLimited { decision, limit },
            IngestError::Commit(error) => Self::Commit(error),
        }
    }
}

impl ApiError {
    /// Returns a 422 for one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Auth(AuthError::Missing | AuthError::Invalid | AuthError::Expired(_)) => {
                ErrorKind::Unauthenticated
            }
            Self::Auth(AuthError::MissingScope(_)) => ErrorKind::Forbidden,
            Self::Auth(AuthError::Store(error)) if error.is_unavailable() => ErrorKind::Unavailable,
            Self::Auth(AuthError::Store(_)) => ErrorKind::Internal,
            Self::UnsupportedMediaType => ErrorKind::UnsupportedMediaType,
            Self::PayloadTooLarge { .. } => ErrorKind::PayloadTooLarge,
            Self::MalformedJson(_) => ErrorKind::BadRequest,
            Self::Invalid(_) | Self::IdempotencyKeyReused { .. } => ErrorKind::Unprocessable,
            Self::RateLimited { .. } => ErrorKind::TooManyRequests,
            Self::Commit(CommitError::Rejected) => ErrorKind::Internal,
            Self::Commit(CommitError::EventRefused { .. }) => ErrorKind::Unprocessable,
            Self::Commit(_) => ErrorKind::Unavailable,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            Self::Auth(AuthError::Missing | AuthError::Invalid | AuthError::Expired(_)) => {
                "unauthenticated"
            }
            Self::Auth(AuthError::MissingScope(_)) => "missing-scope",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::PayloadTooLarge { .. } => "payload-too-large",
            Self::MalformedJson(_) => "malformed-json",
            Self::Invalid(_) => "validation",
            Self::IdempotencyKeyReused { .. } => "idempotency-key-reused",
            Self::RateLimited { .. } => "rate-limited",
            Self::Commit(CommitError::EventRefused { .. }) => "event-refused",
            Self::Auth(AuthError::Store(_)) | Self::Commit(_) => match self.kind() {
                ErrorKind::Unavailable => "unavailable",
                _ => "internal",
            },
        }
    }

    /// The problem document; 5xx are opaque and their cause is logged instead.
    pub fn problem(&self) -> Problem {
        match self.kind() {
            ErrorKind::Internal => {
                tracing::error!(error = ?self, "request failed");
                Problem::internal()
            }
            kind => {
                let problem = Problem::new(kind, self.slug(), self.to_string());
                match self {
                    Self::Invalid(errors) => problem.with_errors(errors.clone()),
                    _ => problem,
                }
            }
        }
    }

    /// Extra headers: `Retry-After` and `RateLimit-*` where they apply.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::RateLimited { decision, limit } => {
                let retry_after = decision.retry_after.as_secs_f64().ceil().max(1.0) as u64;
                vec![
                    ("retry-after", retry_after.to_string()),
                    ("ratelimit-limit", limit.burst.to_string()),
                    ("ratelimit-remaining", decision.remaining.to_string()),
                    (
                        "ratelimit-reset",
                        (decision.reset_after.as_secs_f64().ceil() as u64).to_string(),
                    ),
                    (
                        "ratelimit-policy",
                        format!("{};w=1;burst={}", limit.per_second, limit.burst),
                    ),
                ]
            }
            _ if self.kind() == ErrorKind::Unavailable => {
                vec![("retry-after", UNAVAILABLE_RETRY_AFTER_SECS.to_string())]
            }
            _ => Vec::new(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind().http_status()
    }

    fn error_response(&self) -> HttpResponse {
        self.problem().to_response_with(&self.headers())
    }
}

impl From<ApiError> for tonic::Status {
    fn from(error: ApiError) -> Self {
        let mut status: tonic::Status = error.problem().into();
        for (name, value) in error.headers() {
            if let Ok(value) = value.parse() {
                status.metadata_mut().insert(name, value);
            }
        }
        status
    }
}
