//! Every way a query-api request can fail, and what a client reads of each;
//! the runtime's [`EdgeError`] turns it into problem+json (HTTP) and a status
//! (gRPC). 5xx answers are opaque; their cause is logged.

use eventflow_auth::AuthError;
use eventflow_runtime::api_error::{
    EdgeError, ErrorKind, FieldError, Problem, describe, field_errors_of, json_body_problem,
};
use eventflow_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A well-formed request whose values are refused (a bad field, a time
    /// range out of bounds or reversed): 422, as in the gateway.
    #[error("{}", describe(.0))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    /// A body the runtime's JSON rules refused (not JSON: 400; the wrong
    /// shape: 422), as the extractor refuses a `web::Json` body.
    #[error("{}", .0.detail)]
    Body(Problem),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the dispatcher did not accept the request: {0}")]
    Dispatcher(tonic::Status),
    #[error("too many searches are waiting; try again shortly")]
    Busy,
    #[error("{0}")]
    Internal(String),
}

/// Maps a failed `DispatchControl` call: NOT_FOUND is a 404 (the dispatcher
/// scopes every call to the project), INVALID_ARGUMENT a 422, an unreachable
/// dispatcher a 503.
impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        match status.code() {
            tonic::Code::InvalidArgument => match field_errors_of(&status) {
                errors if errors.is_empty() => Self::invalid("", status.message()),
                errors => Self::Invalid(errors),
            },
            // The client's timeout expired (this service cancels nothing itself).
            tonic::Code::Cancelled => {
                Self::Dispatcher(tonic::Status::unavailable(status.message()))
            }
            _ => Self::Dispatcher(status),
        }
    }
}

impl ApiError {
    /// Parses a JSON body read by hand (an optional one, say), refusing it as
    /// a `web::Json` extractor would.
    pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Self> {
        serde_json::from_slice(body).map_err(|error| Self::Body(json_body_problem(&error)))
    }

    /// A 422 naming one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    fn slug(&self) -> &'static str {
        match self.kind() {
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unavailable => "unavailable",
            _ => "internal",
        }
    }
}

impl EdgeError for ApiError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Auth(AuthError::Missing | AuthError::Invalid | AuthError::Expired(_)) => {
                ErrorKind::Unauthenticated
            }
            Self::Auth(AuthError::MissingScope(_)) | Self::Forbidden(_) => ErrorKind::Forbidden,
            Self::Auth(AuthError::Store(error)) | Self::Store(error) if error.is_unavailable() => {
                ErrorKind::Unavailable
            }
            Self::Store(StoreError::NotFound { .. }) | Self::NotFound(_) => ErrorKind::NotFound,
            Self::Invalid(_) => ErrorKind::Unprocessable,
            Self::Busy => ErrorKind::Unavailable,
            Self::Conflict(_) => ErrorKind::Conflict,
            Self::Body(problem) => problem.kind(),
            Self::Dispatcher(status) => match status.code() {
                tonic::Code::NotFound => ErrorKind::NotFound,
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => ErrorKind::Unavailable,
                _ => ErrorKind::Internal,
            },
            Self::Auth(AuthError::Store(_)) | Self::Store(_) | Self::Internal(_) => {
                ErrorKind::Internal
            }
        }
    }

    fn client_problem(&self) -> Problem {
        match self {
            Self::Invalid(errors) => Problem::validation(errors.clone()),
            Self::Body(problem) => problem.clone(),
            // Which dependency failed, and how, is for the log.
            _ if self.kind() == ErrorKind::Unavailable && !matches!(self, Self::Busy) => {
                Problem::new(
                    ErrorKind::Unavailable,
                    "unavailable",
                    "a dependency is unavailable; retry later",
                )
            }
            _ => Problem::new(self.kind(), self.slug(), self.to_string()),
        }
    }

    /// A full scan gate is load, not a fault: nothing to log.
    fn cause_logged_elsewhere(&self) -> bool {
        matches!(self, Self::Busy)
    }
}

eventflow_runtime::edge_error!(ApiError);
