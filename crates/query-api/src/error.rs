//! Every way a query-api request can fail, mapped once to problem+json (HTTP)
//! and to a status (gRPC). 5xx answers are opaque; their cause is logged.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use eventflow_auth::AuthError;
use eventflow_runtime::api_error::{ErrorKind, FieldError, Problem};
use eventflow_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{}", describe(.0))]
    Invalid(Vec<FieldError>),
    /// Well-formed values the request cannot be served with (a time range
    /// out of bounds or reversed): 422.
    #[error("{}", describe(.0))]
    OutOfRange(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the dispatcher did not accept the request: {0}")]
    Dispatcher(#[from] tonic::Status),
    #[error("too many searches are waiting; try again shortly")]
    Busy,
    #[error("{0}")]
    Internal(String),
}

fn describe(errors: &[FieldError]) -> String {
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

impl ApiError {
    /// A 400 naming one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    /// A 422 naming one field.
    pub fn out_of_range(field: &str, message: impl Into<String>) -> Self {
        Self::OutOfRange(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Auth(AuthError::Missing | AuthError::Invalid | AuthError::Expired(_)) => {
                ErrorKind::Unauthenticated
            }
            Self::Auth(AuthError::MissingScope(_)) | Self::Forbidden(_) => ErrorKind::Forbidden,
            Self::Auth(AuthError::Store(error)) | Self::Store(error) if error.is_unavailable() => {
                ErrorKind::Unavailable
            }
            Self::Store(StoreError::NotFound { .. }) | Self::NotFound(_) => ErrorKind::NotFound,
            Self::Invalid(_) => ErrorKind::BadRequest,
            Self::OutOfRange(_) => ErrorKind::Unprocessable,
            Self::Busy => ErrorKind::Unavailable,
            Self::Conflict(_) => ErrorKind::Conflict,
            Self::Dispatcher(status) => match status.code() {
                tonic::Code::NotFound => ErrorKind::NotFound,
                tonic::Code::InvalidArgument => ErrorKind::BadRequest,
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => ErrorKind::Unavailable,
                _ => ErrorKind::Internal,
            },
            Self::Auth(AuthError::Store(_)) | Self::Store(_) | Self::Internal(_) => {
                ErrorKind::Internal
            }
        }
    }

    fn slug(&self) -> &'static str {
        match self.kind() {
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not-found",
            ErrorKind::BadRequest | ErrorKind::Unprocessable => "invalid-request",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unavailable => "unavailable",
            _ => "internal",
        }
    }

    /// The problem document; 5xx are opaque and their cause is logged instead.
    pub fn problem(&self) -> Problem {
        match self.kind() {
            ErrorKind::Internal => {
                tracing::error!(error = ?self, "request failed");
                Problem::internal()
            }
            ErrorKind::Unavailable => Problem::new(
                ErrorKind::Unavailable,
                "unavailable",
                match self {
                    Self::Busy => self.to_string(),
                    _ => "a dependency is unavailable; retry later".to_owned(),
                },
            ),
            kind => {
                let problem = Problem::new(kind, self.slug(), self.to_string());
                match self {
                    Self::Invalid(errors) | Self::OutOfRange(errors) => {
                        problem.with_errors(errors.clone())
                    }
                    _ => problem,
                }
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind().http_status()
    }

    fn error_response(&self) -> HttpResponse {
        let retry_after = [("retry-after", "1".to_owned())];
        let headers: &[(&str, String)] = if self.kind() == ErrorKind::Unavailable {
            &retry_after
        } else {
            &[]
        };
        self.problem().to_response_with(headers)
    }
}

impl From<ApiError> for tonic::Status {
    fn from(error: ApiError) -> Self {
        error.problem().into()
    }
}
