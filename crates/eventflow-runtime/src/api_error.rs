//! Errors at the edge: one table from an error kind to an HTTP status and a gRPC code, and the
//! RFC 9457 `application/problem+json` body every client sees.
//!
//! Each service keeps its own `ApiError`, implements [`EdgeError`] on it (its [`ErrorKind`] and
//! the problem a client reads) and calls [`edge_error!`]; this module turns that into a
//! [`Problem`] for HTTP or a [`tonic::Status`] for gRPC, and logs the cause chain of a 5xx once,
//! here, at the edge. Over gRPC the status carries the
//! kind's code, the detail as its message, and the whole problem as JSON in the binary metadata
//! entry [`PROBLEM_METADATA_KEY`] (binary because a detail may hold non-ASCII text). The
//! extractor configs make actix's own extraction errors problem+json too.

use std::fmt;

use actix_web::error::{InternalError, JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

/// The media type of every error body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The gRPC metadata key holding the problem as JSON.
pub const PROBLEM_METADATA_KEY: &str = "problem-bin";

/// The base of every problem `type` URI; the slug follows.
pub const PROBLEM_TYPE_BASE: &str = "https://eventflow.dev/problems/";

/// What went wrong, as far as a client needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed.
    BadRequest,
    /// No credentials, or wrong ones.
    Unauthenticated,
    /// Valid credentials that lack the permission.
    Forbidden,
    /// The resource does not exist, or is not visible to the caller.
    NotFound,
    /// The path exists, but not for this method (or no route serves the method).
    MethodNotAllowed,
    /// The request conflicts with the resource's current state.
    Conflict,
    /// The body exceeds the configured limit.
    PayloadTooLarge,
    /// The body is not in a supported media type.
    UnsupportedMediaType,
    /// The request is well-formed but its content is refused.
    Unprocessable,
    /// The caller exceeded its rate limit.
    TooManyRequests,
    /// A dependency is down; retrying later may succeed.
    Unavailable,
    /// A bug or an unexpected failure; the cause is logged, not shown.
    Internal,
}

impl ErrorKind {
    /// Every kind, for exhaustive tests and documentation.
    pub const ALL: [ErrorKind; 12] = [
        Self::BadRequest,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::Unprocessable,
        Self::TooManyRequests,
        Self::Unavailable,
        Self::Internal,
    ];

    /// Returns the HTTP status for this kind.
    pub fn http_status(self) -> StatusCode {
        self.mapping().0
    }

    /// Returns the gRPC code for this kind.
    pub fn grpc_code(self) -> tonic::Code {
        self.mapping().1
    }

    /// Returns the problem `title` for this kind: the RFC 9110 reason phrase.
    pub fn title(self) -> &'static str {
        self.mapping().2
    }

    /// The one table. gRPC has no codes for body size, media type or "unprocessable": those
    /// are all arguments the caller must change, hence `InvalidArgument`.
    fn mapping(self) -> (StatusCode, tonic::Code, &'static str) {
        use tonic::Code;
        match self {
            Self::BadRequest => (
                StatusCode::BAD_REQUEST,
                Code::InvalidArgument,
                "Bad Request",
            ),
            Self::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                Code::Unauthenticated,
                "Unauthorized",
            ),
            Self::Forbidden => (StatusCode::FORBIDDEN, Code::PermissionDenied, "Forbidden"),
            Self::NotFound => (StatusCode::NOT_FOUND, Code::NotFound, "Not Found"),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                Code::Unimplemented,
                "Method Not Allowed",
            ),
            Self::Conflict => (StatusCode::CONFLICT, Code::AlreadyExists, "Conflict"),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::InvalidArgument,
                "Content Too Large",
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Code::InvalidArgument,
                "Unsupported Media Type",
            ),
            Self::Unprocessable => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Code::InvalidArgument,
                "Unprocessable Content",
            ),
            Self::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                Code::ResourceExhausted,
                "Too Many Requests",
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                Code::Unavailable,
                "Service Unavailable",
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::Internal,
                "Internal Server Error",
            ),
        }
    }
}

/// One offending field of a request that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    /// The field's path in the request, e.g. `events[3].type`.
    pub field: String,
    /// Why it was refused.
    pub message: String,
}

impl FieldError {
    /// Returns the refusal of `field` (empty: the request as a whole) with `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Returns "invalid request: type is required; payload must be a JSON object", the detail of a
/// validation problem; a field error without a field is its message alone.
pub fn describe(errors: &[FieldError]) -> String {
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

/// An RFC 9457 problem details body.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Problem {
    /// A stable URI naming the problem: `https://eventflow.dev/problems/<slug>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// The kind's fixed human title.
    pub title: String,
    /// The HTTP status, repeated in the body as RFC 9457 suggests.
    pub status: u16,
    /// What went wrong with this request, for a human.
    pub detail: String,
    /// The offending fields, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip)]
    kind: ErrorKind,
}

impl Problem {
    /// Creates a problem of `kind` whose type is `https://eventflow.dev/problems/<slug>`.
    pub fn new(kind: ErrorKind, slug: &str, detail: impl Into<String>) -> Problem {
        Problem {
            type_uri: format!("{PROBLEM_TYPE_BASE}{slug}"),
            title: kind.title().to_owned(),
            status: kind.http_status().as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            kind,
        }
    }

    /// Returns the opaque 500 problem; the caller logs the cause chain.
    pub fn internal() -> Problem {
        Problem::new(ErrorKind::Internal, "internal", "internal error")
    }

    /// Returns the 422 of a well-formed request whose values are refused, naming each field:
    /// the same in every service.
    pub fn validation(errors: Vec<FieldError>) -> Problem {
        Problem::new(ErrorKind::Unprocessable, "validation", describe(&errors)).with_errors(errors)
    }

    /// Returns the 400 of a body that is not JSON at all (a syntax error, a truncated body).
    pub fn malformed_json(cause: impl fmt::Display) -> Problem {
        Problem::new(
            ErrorKind::BadRequest,
            "malformed-json",
            format!("request body is not valid json: {cause}"),
        )
    }

    /// Returns the 413 of a body larger than `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Problem {
        Problem::new(
            ErrorKind::PayloadTooLarge,
            "payload-too-large",
            format!("request body is larger than the limit of {limit} bytes"),
        )
    }

    /// Returns the 415 of a body that is not `application/json`.
    pub fn unsupported_media_type() -> Problem {
        Problem::new(
            ErrorKind::UnsupportedMediaType,
            "unsupported-media-type",
            "content type must be application/json",
        )
    }

    /// Adds the offending fields.
    #[must_use]
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Problem {
        self.errors = errors;
        self
    }

    /// Returns the kind this problem was created with.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Returns the problem as an HTTP response with its kind's status.
    pub fn to_response(&self) -> HttpResponse {
        self.to_response_with(&[])
    }

    /// Returns the problem as an HTTP response with extra headers such as `Retry-After`.
    ///
    /// A header whose name or value is not valid HTTP is left out and logged, rather than
    /// turning the response into a 500.
    pub fn to_response_with(&self, extra_headers: &[(&str, String)]) -> HttpResponse {
        let mut response = HttpResponse::build(self.kind.http_status());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE));
        for (name, value) in extra_headers {
            match (
                HeaderName::try_from(*name),
                HeaderValue::try_from(value.as_str()),
            ) {
                (Ok(name), Ok(value)) => {
                    response.insert_header((name, value));
                }
                _ => tracing::warn!(
                    header = name,
                    "invalid header left out of a problem response"
                ),
            }
        }
        response.body(self.to_json())
    }

    fn to_json(&self) -> String {
        // Strings and a number cannot fail to serialize; the fallback only avoids a panic path.
        serde_json::to_string(self).unwrap_or_else(|_| {
            format!(
                r#"{{"type":"{PROBLEM_TYPE_BASE}internal","title":"Internal Server Error","status":500,"detail":"internal error"}}"#
            )
        })
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.title, self.detail)
    }
}

impl std::error::Error for Problem {}

/// Lets handlers return `Result<_, Problem>` and extractor error handlers return `problem.into()`.
impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.kind.http_status()
    }

    fn error_response(&self) -> HttpResponse {
        self.to_response()
    }
}

impl From<Problem> for tonic::Status {
    fn from(problem: Problem) -> tonic::Status {
        let mut metadata = tonic::metadata::MetadataMap::new();
        metadata.insert_bin(
            PROBLEM_METADATA_KEY,
            tonic::metadata::MetadataValue::from_bytes(problem.to_json().as_bytes()),
        );
        tonic::Status::with_metadata(problem.kind.grpc_code(), problem.detail, metadata)
    }
}

/// Returns the offending fields of the problem a gRPC status carries; none when it carries no
/// problem, or one without fields.
pub fn field_errors_of(status: &tonic::Status) -> Vec<FieldError> {
    #[derive(serde::Deserialize)]
    struct Fields {
        #[serde(default)]
        errors: Vec<FieldError>,
    }
    status
        .metadata()
        .get_bin(PROBLEM_METADATA_KEY)
        .and_then(|value| value.to_bytes().ok())
        .and_then(|json| serde_json::from_slice::<Fields>(&json).ok())
        .map(|fields| fields.errors)
        .unwrap_or_default()
}

/// Turns a JSON body extraction error into the problem the ingest gateway answers for the same
/// failure: 400 for a body that is not JSON, 422 for JSON of the wrong shape, 413, 415.
pub fn json_error_handler(error: JsonPayloadError, _request: &HttpRequest) -> actix_web::Error {
    let problem = match &error {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => Problem::payload_too_large(*limit),
        JsonPayloadError::ContentType => Problem::unsupported_media_type(),
        JsonPayloadError::Deserialize(cause) => json_body_problem(cause),
        other => Problem::malformed_json(format!("could not read the body: {other}")),
    };
    InternalError::from_response(error, problem.to_response()).into()
}

/// Returns the problem of a body serde_json refused: 400 when it is not JSON at all, a 422
/// validation problem when it is JSON of the wrong shape (naming the field when serde does).
pub fn json_body_problem(cause: &serde_json::Error) -> Problem {
    if cause.classify() != serde_json::error::Category::Data {
        return Problem::malformed_json(cause);
    }
    // A field the request does not take, or lacks: named in the contract's words.
    let refused = field_error(&cause.to_string(), "")
        .unwrap_or_else(|| FieldError::new("body", cause.to_string()));
    Problem::validation(vec![refused])
}

/// serde's refusal of an object's fields, in the contract's words: the field
/// (prefixed with `path`, e.g. `events[3].`) and what is wrong with it; None
/// for other refusals. serde names the field between backticks
/// ("unknown field `colour`, expected one of …").
pub fn field_error(serde_message: &str, path: &str) -> Option<FieldError> {
    let message = if serde_message.starts_with("unknown field") {
        "is not a field of this request"
    } else if serde_message.starts_with("duplicate field") {
        "appears more than once"
    } else if serde_message.starts_with("missing field") {
        "is required"
    } else {
        return None;
    };
    let named = serde_message.split('`').nth(1)?;
    Some(FieldError {
        field: format!("{path}{named}"),
        message: message.to_owned(),
    })
}

/// Returns a `JsonConfig` whose errors are problem+json; chain `.limit(..)` to set the size.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().error_handler(json_error_handler)
}

/// Returns a `QueryConfig` whose errors are validation problems (422): a parameter the route
/// does not take, or a value of the wrong type, as the gateway answers for a body's fields.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error: QueryPayloadError, _request| {
        let message = innermost_message(&error);
        let refused =
            field_error(&message, "").unwrap_or_else(|| FieldError::new("", message.clone()));
        let problem = Problem::validation(vec![refused]);
        InternalError::from_response(error, problem.to_response()).into()
    })
}

/// Returns a `PathConfig` whose errors are problem+json 400s naming the path parameter: a
/// typed id (`web::Path<EventId>`) that does not parse is not a resource of this API at all.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error: PathError, request| {
        // Every route takes at most one parameter, so the one named is the one refused.
        let field = request
            .match_info()
            .iter()
            .next()
            .map(|(name, _)| name.to_owned())
            .unwrap_or_default();
        let errors = vec![FieldError::new(field, innermost_message(&error))];
        let problem = Problem::new(ErrorKind::BadRequest, "invalid-request", describe(&errors))
            .with_errors(errors);
        InternalError::from_response(error, problem.to_response()).into()
    })
}

/// Displays an error and each of its sources, outermost first: "outer: inner: root". A log
/// field of `%error` alone drops the sources, and `?error` buries them in `Debug` noise.
pub struct ErrorChain<'a>(pub &'a dyn std::error::Error);

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// A service's edge error: what kind of failure it is and what a client reads. The provided
/// methods give every service the same answers: a 500 is opaque, a 5xx's cause chain is logged
/// once (here, not at each layer it passed), a 503 says when to retry. Call [`edge_error!`]
/// for the `ResponseError` and `From<_> for tonic::Status` implementations.
pub trait EdgeError: std::error::Error + Sized {
    /// Returns the kind of failure, which decides the HTTP status and the gRPC code.
    fn kind(&self) -> ErrorKind;

    /// Returns the problem a client reads; never called for [`ErrorKind::Internal`], whose
    /// problem is [`Problem::internal`].
    fn client_problem(&self) -> Problem;

    /// Returns the extra headers of the answer (gRPC metadata entries over gRPC): by default
    /// `Retry-After: 1` on a 503.
    fn headers(&self) -> Vec<(&'static str, String)> {
        if self.kind() == ErrorKind::Unavailable {
            vec![("retry-after", "1".to_owned())]
        } else {
            Vec::new()
        }
    }

    /// Returns true when the cause was logged where it happened (once for many requests, say),
    /// so that the edge does not log it again.
    fn cause_logged_elsewhere(&self) -> bool {
        false
    }

    /// Returns the problem document; logs the cause chain of a 5xx.
    fn problem(&self) -> Problem {
        let kind = self.kind();
        let server_fault = matches!(kind, ErrorKind::Internal | ErrorKind::Unavailable);
        if server_fault && !self.cause_logged_elsewhere() {
            let error = ErrorChain(self);
            if kind == ErrorKind::Internal {
                tracing::error!(%error, "request failed");
            } else {
                tracing::warn!(%error, "request failed: a dependency is unavailable");
            }
        }
        match kind {
            ErrorKind::Internal => Problem::internal(),
            _ => self.client_problem(),
        }
    }

    /// Returns the HTTP answer: the problem with its status and headers.
    fn to_response(&self) -> HttpResponse {
        self.problem().to_response_with(&self.headers())
    }

    /// Returns the gRPC answer: the kind's code, the problem in metadata, and the headers as
    /// metadata entries.
    fn to_status(&self) -> tonic::Status {
        let mut status = tonic::Status::from(self.problem());
        for (name, value) in self.headers() {
            if let Ok(value) = value.parse() {
                status.metadata_mut().insert(name, value);
            }
        }
        status
    }
}

/// Implements `actix_web::ResponseError` and `From<$error> for tonic::Status` through the
/// type's [`EdgeError`] implementation, so a handler returns `Result<_, $error>` on either edge.
#[macro_export]
macro_rules! edge_error {
    ($error:ty) => {
        impl $crate::__macro_support::actix_web::ResponseError for $error {
            fn status_code(&self) -> $crate::__macro_support::actix_web::http::StatusCode {
                $crate::api_error::EdgeError::kind(self).http_status()
            }

            fn error_response(&self) -> $crate::__macro_support::actix_web::HttpResponse {
                $crate::api_error::EdgeError::to_response(self)
            }
        }

        impl ::core::convert::From<$error> for $crate::__macro_support::tonic::Status {
            fn from(error: $error) -> Self {
                $crate::api_error::EdgeError::to_status(&error)
            }
        }
    };
}

/// A problem+json 404 for `App::default_service(web::to(eventflow_runtime::api_error::not_found))`,
/// so unknown routes do not get actix's empty default answer.
pub async fn not_found() -> HttpResponse {
    not_found_response()
}

/// The problem+json 404 of a path no route serves.
pub fn not_found_response() -> HttpResponse {
    Problem::new(ErrorKind::NotFound, "not-found", "no resource at this path").to_response()
}

/// actix wraps serde's message in its own prefix ("Query deserialize error: …"); the client
/// needs only serde's.
fn innermost_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use actix_web::App;
    use actix_web::test::{TestRequest, call_service, init_service, read_body};
    use serde_json::{Value, json};

    use super::*;

    #[derive(serde::Deserialize)]
    struct Payload {
        #[allow(dead_code)]
        name: String,
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Page {
        #[allow(dead_code)]
        limit: u32,
    }

    #[test]
    fn each_kind_maps_to_one_status_and_one_code() {
        use tonic::Code;
        let expected = [
            (ErrorKind::BadRequest, 400, Code::InvalidArgument),
            (ErrorKind::Unauthenticated, 401, Code::Unauthenticated),
            (ErrorKind::Forbidden, 403, Code::PermissionDenied),
            (ErrorKind::NotFound, 404, Code::NotFound),
            (ErrorKind::MethodNotAllowed, 405, Code::Unimplemented),
            (ErrorKind::Conflict, 409, Code::AlreadyExists),
            (ErrorKind::PayloadTooLarge, 413, Code::InvalidArgument),
            (ErrorKind::UnsupportedMediaType, 415, Code::InvalidArgument),
            (ErrorKind::Unprocessable, 422, Code::InvalidArgument),
            (ErrorKind::TooManyRequests, 429, Code::ResourceExhausted),
            (ErrorKind::Unavailable, 503, Code::Unavailable),
            (ErrorKind::Internal, 500, Code::Internal),
        ];
        assert_eq!(expected.len(), ErrorKind::ALL.len());
        for (kind, status, code) in expected {
            assert_eq!(kind.http_status().as_u16(), status, "{kind:?}");
            assert_eq!(kind.grpc_code(), code, "{kind:?}");
            assert!(!kind.title().is_empty());
        }
    }

    #[test]
    fn a_problem_serializes_to_rfc_9457_fields() {
        let problem = Problem::new(
            ErrorKind::Unprocessable,
            "invalid-event",
            "the event is invalid",
        )
        .with_errors(vec![FieldError {
            field: "type".to_owned(),
            message: "must not be empty".to_owned(),
        }]);

        assert_eq!(
            serde_json::to_value(&problem).unwrap(),
            json!({
                "type": "https://eventflow.dev/problems/invalid-event",
                "title": "Unprocessable Content",
                "status": 422,
                "detail": "the event is invalid",
                "errors": [{"field": "type", "message": "must not be empty"}],
            })
        );
    }

    #[test]
    fn a_problem_without_field_errors_omits_them() {
        let value = serde_json::to_value(Problem::internal()).unwrap();

        assert_eq!(
            value,
            json!({
                "type": "https://eventflow.dev/problems/internal",
                "title": "Internal Server Error",
                "status": 500,
                "detail": "internal error",
            })
        );
    }

    #[actix_web::test]
    async fn a_problem_response_has_its_status_media_type_and_extra_headers() {
        let problem = Problem::new(ErrorKind::TooManyRequests, "rate-limited", "slow down");

        let response = problem.to_response_with(&[
            ("Retry-After", "7".to_owned()),
            ("bad header", "x".to_owned()),
        ]);

        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response.headers().get("content-type").unwrap(),
            PROBLEM_CONTENT_TYPE
        );
        assert_eq!(response.headers().get("retry-after").unwrap(), "7");
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["type"], "https://eventflow.dev/problems/rate-limited");
        assert_eq!(body["status"], 429);
    }

    #[test]
    fn a_problem_becomes_a_grpc_status_carrying_the_problem() {
        let problem = Problem::new(ErrorKind::NotFound, "event-not-found", "no event évt_1");

        let status = tonic::Status::from(problem);

        assert_eq!(status.code(), tonic::Code::NotFound);
        assert_eq!(status.message(), "no event évt_1");
        let json = status
            .metadata()
            .get_bin(PROBLEM_METADATA_KEY)
            .unwrap()
            .to_bytes()
            .unwrap();
        let body: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            body["type"],
            "https://eventflow.dev/problems/event-not-found"
        );
        assert_eq!(body["detail"], "no event évt_1");
    }

    async fn call(request: TestRequest) -> (StatusCode, String, Value) {
        let app = init_service(
            App::new()
                .app_data(json_config().limit(64))
                .app_data(query_config())
                .app_data(path_config())
                .route(
                    "/things/{number}",
                    web::post().to(
                        |_: web::Path<u32>, _: web::Query<Page>, _: web::Json<Payload>| async {
                            HttpResponse::NoContent().finish()
                        },
                    ),
                )
                .default_service(web::to(not_found)),
        )
        .await;
        let response = call_service(&app, request.to_request()).await;
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = read_body(response).await;
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, content_type, body)
    }

    fn post(uri: &str) -> TestRequest {
        TestRequest::post().uri(uri)
    }

    #[actix_web::test]
    async fn a_valid_request_reaches_the_handler() {
        let (status, _, _) = call(post("/things/1?limit=5").set_json(json!({"name": "a"}))).await;

        assert_eq!(status, StatusCode::NO_CONTENT);
    }

    #[actix_web::test]
    async fn a_malformed_json_body_is_a_problem_400() {
        let request = post("/things/1?limit=5")
            .insert_header(("content-type", "application/json"))
            .set_payload("{\"name\": ");

        let (status, content_type, body) = call(request).await;

        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(content_type, PROBLEM_CONTENT_TYPE);
        assert_eq!(
            body["type"],
            "https://eventflow.dev/problems/malformed-json"
        );
        assert_eq!(body["status"], 400);
    }

    #[actix_web::test]
    async fn a_json_body_of_the_wrong_shape_is_a_validation_problem_422() {
        let (status, content_type, body) =
            call(post("/things/1?limit=5").set_json(json!({"title": "a"}))).await;

        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["type"], "https://eventflow.dev/problems/validation");
        assert_eq!(content_type, PROBLEM_CONTENT_TYPE);
        // Named in the contract's words, not serde's ("missing field `name`").
        assert_eq!(
            body["errors"],
            json!([{"field": "name", "message": "is required"}]),
            "{body}"
        );
    }

    #[actix_web::test]
    async fn an_oversized_body_is_a_problem_413() {
        let name = "x".repeat(100);
        let (status, content_type, body) =
            call(post("/things/1?limit=5").set_json(json!({ "name": name }))).await;

        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(content_type, PROBLEM_CONTENT_TYPE);
        assert_eq!(
            body["type"],
            "https://eventflow.dev/problems/payload-too-large"
        );
    }

    #[actix_web::test]
    async fn a_body_that_is_not_json_is_a_problem_415() {
        let request = post("/things/1?limit=5")
            .insert_header(("content-type", "text/plain"))
            .set_payload("name=a");

        let (status, content_type, body) = call(request).await;

        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(content_type, PROBLEM_CONTENT_TYPE);
        assert_eq!(body["status"], 415);
    }

    #[actix_web::test]
    async fn a_bad_query_string_is_a_validation_problem_422() {
        let (status, content_type, body) =
            call(post("/things/1?limit=many").set_json(json!({"name": "a"}))).await;

        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(content_type, PROBLEM_CONTENT_TYPE);
        assert_eq!(body["type"], "https://eventflow.dev/problems/validation");
    }

    #[actix_web::test]
    async fn an_unknown_query_parameter_is_named() {
        let (status, _, body) =
            call(post("/things/1?limit=5&colour=red").set_json(json!({"name": "a"}))).await;

        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["errors"][0]["field"], "colour", "{body}");
    }

    #[actix_web::test]
    async fn a_bad_path_parameter_is_a_problem_400_naming_it() {
        let (status, content_type, body) =
            call(post("/things/one?limit=5").set_json(json!({"name": "a"}))).await;

        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(content_type, PROBLEM_CONTENT_TYPE);
        assert_eq!(
            body["type"],
            "https://eventflow.dev/problems/invalid-request"
        );
        assert_eq!(body["errors"][0]["field"], "number", "{body}");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("could not load the thing")]
    struct Outer(#[source] std::io::Error);

    impl EdgeError for Outer {
        fn kind(&self) -> ErrorKind {
            ErrorKind::Unavailable
        }

        fn client_problem(&self) -> Problem {
            Problem::new(ErrorKind::Unavailable, "unavailable", "try again")
        }
    }

    edge_error!(Outer);

    #[test]
    fn an_error_chain_names_every_cause() {
        let error = Outer(std::io::Error::other("connection refused"));

        assert_eq!(
            ErrorChain(&error).to_string(),
            "could not load the thing: connection refused"
        );
    }

    #[test]
    fn an_edge_error_answers_with_its_kind_and_says_when_to_retry() {
        let error = Outer(std::io::Error::other("connection refused"));

        let response = ResponseError::error_response(&error);
        let status = tonic::Status::from(Outer(std::io::Error::other("connection refused")));

        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get("retry-after").unwrap(), "1");
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(status.metadata().get("retry-after").unwrap(), "1");
    }

    #[actix_web::test]
    async fn an_unknown_route_is_a_problem_404() {
        let (status, content_type, body) = call(TestRequest::get().uri("/nowhere")).await;

        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(content_type, PROBLEM_CONTENT_TYPE);
        assert_eq!(body["type"], "https://eventflow.dev/problems/not-found");
    }
}
