//! Every way an ingest request can fail, and what a client reads of each; the
//! runtime's [`EdgeError`] turns it into problem+json for HTTP and a status
//! for gRPC.

use eventflow_domain::{EventId, RateLimit};
use eventflow_queue::RateDecision;
use eventflow_runtime::api_error::{EdgeError, ErrorKind, FieldError, Problem, describe};

use crate::group_commit::CommitError;
use crate::ingest::IngestError;
use eventflow_auth::AuthError;

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
    #[error("{}", describe(.0))]
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
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    fn slug(&self) -> &'static str {
        match self {
            Self::Auth(AuthError::Missing | AuthError::Invalid | AuthError::Expired(_)) => {
                "unauthenticated"
            }
            Self::Auth(AuthError::MissingScope(_)) => "missing-scope",
            Self::IdempotencyKeyReused { .. } => "idempotency-key-reused",
            Self::RateLimited { .. } => "rate-limited",
            Self::Commit(CommitError::EventRefused { .. }) => "event-refused",
            _ => "unavailable",
        }
    }
}

impl EdgeError for ApiError {
    fn kind(&self) -> ErrorKind {
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

    fn client_problem(&self) -> Problem {
        match self {
            Self::UnsupportedMediaType => Problem::unsupported_media_type(),
            Self::PayloadTooLarge { limit } => Problem::payload_too_large(*limit),
            Self::MalformedJson(cause) => Problem::malformed_json(cause),
            Self::Invalid(errors) => Problem::validation(errors.clone()),
            _ => Problem::new(self.kind(), self.slug(), self.to_string()),
        }
    }

    /// `Retry-After` and `RateLimit-*` where they apply.
    fn headers(&self) -> Vec<(&'static str, String)> {
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
            _ if self.kind() == ErrorKind::Unavailable => vec![("retry-after", "1".to_owned())],
            _ => Vec::new(),
        }
    }

    /// A group commit's writer logs its batch's failure once, with its cause,
    /// for every request of the batch.
    fn cause_logged_elsewhere(&self) -> bool {
        matches!(self, Self::Commit(_))
    }
}

eventflow_runtime::edge_error!(ApiError);
