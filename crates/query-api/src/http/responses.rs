//! The answers several routes share, each declared once for the OpenAPI
//! document: a handler lists them in its `#[utoipa::path(responses(…))]`
//! beside its own. What every route answers (401, 403, 503, and 400, 413,
//! 415 or 422 where it parses something) is added by `docs::complete`.

/// A route of the project's data that needs the `read` scope.
#[derive(utoipa::IntoResponses)]
#[response(status = 403, description = "the key lacks the `read` scope")]
pub struct NeedsRead;

/// A route that changes the project's data: it needs the `admin` scope.
#[derive(utoipa::IntoResponses)]
#[response(status = 403, description = "the key lacks the `admin` scope")]
pub struct NeedsAdmin;

/// A route of the operator's, also open to a project's `admin` key.
#[derive(utoipa::IntoResponses)]
#[response(status = 403, description = "neither the operator nor an `admin` key")]
pub struct NeedsManager;

/// A route that names a resource by the id in its path.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 404,
    description = "no such resource in the caller's project (another project's ids are not found either)"
)]
pub struct NotFound;

/// A route that asks the dispatcher to act.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 503,
    description = "the dispatcher or the database is unavailable; retry after Retry-After seconds"
)]
pub struct ViaDispatcher;
