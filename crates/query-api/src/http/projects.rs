//! `/v1/projects`: the operator creates projects and alone sets their rate
//! limit and retention (they bound what a tenant costs everyone else); a
//! project's `admin` key may read its own project and rename it. See the
//! README's "Who may do what".

/// Why an `admin` key may not change a project's limits.
const OPERATOR_ONLY_SETTINGS: &str = "only the operator (admin token) sets a project's rate limit and retention; an admin key may change its name only";

use actix_web::{HttpResponse, get, patch, post, web};
use eventflow_domain::ProjectId;
use eventflow_store::{Project, ProjectSettings};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::responses::{NeedsManager, NotFound};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// Registers this module's routes.
pub fn register(config: &mut ServiceConfig) {
    config
        .service(create_project)
        .service(list_projects)
        .service(get_project)
        .service(update_project);
}

/// A project as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProjectOut {
    /// `prj_…`
    pub id: String,
    pub name: String,
    /// Events per second the gateway accepts; null: the gateway's default.
    pub rate_limit_per_second: Option<i32>,
    /// Events allowed in a burst; null: the gateway's default.
    pub rate_limit_burst: Option<i32>,
    /// Days events are kept.
    pub retention_days: i32,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<Project> for ProjectOut {
    fn from(project: Project) -> Self {
        Self {
            id: project.id.to_string(),
            name: project.name,
            rate_limit_per_second: project.rate_limit_per_second,
            rate_limit_burst: project.rate_limit_burst,
            retention_days: project.retention_days,
            created_at: project.created_at,
        }
    }
}

/// What creating a project takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectIn {
    pub name: String,
    pub rate_limit_per_second: Option<i32>,
    pub rate_limit_burst: Option<i32>,
    pub retention_days: Option<i32>,
}

/// Changes to a project's settings; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub rate_limit_per_second: Option<i32>,
    pub rate_limit_burst: Option<i32>,
    pub retention_days: Option<i32>,
}

/// The projects the caller may manage.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectList {
    pub data: Vec<ProjectOut>,
}

fn check_settings(
    name: Option<&str>,
    rate: Option<i32>,
    burst: Option<i32>,
    retention_days: Option<i32>,
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: &str| {
        errors.push(eventflow_runtime::api_error::FieldError {
            field: field.into(),
            message: message.into(),
        })
    };
    // PostgreSQL text cannot hold NUL, and no name needs a control character.
    if name.is_some_and(|name| {
        name.trim().is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control)
    }) {
        fail(
            "name",
            "must be 1 to 200 characters, none of them control characters",
        );
    }
    if rate.is_some_and(|rate| rate <= 0) {
        fail("rate_limit_per_second", "must be positive");
    }
    if burst.is_some_and(|burst| burst <= 0) {
        fail("rate_limit_burst", "must be positive");
    }
    if retention_days.is_some_and(|days| !(1..=3650).contains(&days)) {
        fail("retention_days", "must be between 1 and 3650");
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// Creates a project (operator only).
#[utoipa::path(
    request_body = ProjectIn,
    responses(
        (status = 201, description = "created", body = ProjectOut),
        (status = 422, description = "invalid settings"),
        (status = 403, description = "not the operator"),
    )
)]
#[post("/v1/projects")]
pub async fn create_project(
    caller: Caller,
    body: web::Json<ProjectIn>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !caller.is_operator() {
        return Err(ApiError::Forbidden(
            "only the operator (admin token) creates projects".into(),
        ));
    }
    let body = body.into_inner();
    check_settings(
        Some(&body.name),
        body.rate_limit_per_second,
        body.rate_limit_burst,
        body.retention_days,
    )?;
    let mut project = state
        .store
        .create_project(
            body.name.trim(),
            body.rate_limit_per_second,
            body.rate_limit_burst,
        )
        .await?;
    if let Some(retention_days) = body.retention_days {
        let settings = ProjectSettings {
            retention_days: Some(retention_days),
            ..Default::default()
        };
        project = state.store.update_project(project.id, &settings).await?;
    }
    Ok(HttpResponse::Created().json(ProjectOut::from(project)))
}

/// Lists projects: all of them for the operator, its own for an `admin` key.
#[utoipa::path(responses((status = 200, description = "OK", body = ProjectList)))]
#[get("/v1/projects")]
pub async fn list_projects(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let projects = match &caller {
        Caller::Operator => state.store.list_projects().await?,
        Caller::Key(principal) => {
            caller.manage(principal.project_id)?;
            vec![state.store.project(principal.project_id).await?]
        }
    };
    Ok(HttpResponse::Ok().json(ProjectList {
        data: projects.into_iter().map(ProjectOut::from).collect(),
    }))
}

/// Returns one project.
#[utoipa::path(
    responses(
        (status = 200, description = "OK", body = ProjectOut),
        NeedsManager,
        NotFound,
    )
)]
#[get("/v1/projects/{id}")]
pub async fn get_project(
    caller: Caller,
    id: web::Path<ProjectId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    caller.manage(id)?;
    Ok(HttpResponse::Ok().json(ProjectOut::from(state.store.project(id).await?)))
}

/// Changes a project's name (the operator or the project's `admin` key), rate
/// limit or retention (the operator only).
#[utoipa::path(
    request_body = ProjectPatch,
    responses(
        (status = 200, description = "OK", body = ProjectOut),
        (status = 422, description = "invalid settings"),
        (status = 403, description = "an `admin` key tried to change the rate limit or retention, which only the operator sets; or the key lacks `admin`"),
        NotFound,
    )
)]
#[patch("/v1/projects/{id}")]
pub async fn update_project(
    caller: Caller,
    id: web::Path<ProjectId>,
    body: web::Json<ProjectPatch>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    caller.manage(id)?;
    let body = body.into_inner();
    let sets_limits = body.rate_limit_per_second.is_some()
        || body.rate_limit_burst.is_some()
        || body.retention_days.is_some();
    if sets_limits && !caller.is_operator() {
        return Err(ApiError::Forbidden(OPERATOR_ONLY_SETTINGS.into()));
    }
    check_settings(
        body.name.as_deref(),
        body.rate_limit_per_second,
        body.rate_limit_burst,
        body.retention_days,
    )?;
    let settings = ProjectSettings {
        name: body.name.map(|name| name.trim().to_owned()),
        rate_limit_per_second: body.rate_limit_per_second,
        rate_limit_burst: body.rate_limit_burst,
        retention_days: body.retention_days,
    };
    Ok(HttpResponse::Ok().json(ProjectOut::from(
        state.store.update_project(id, &settings).await?,
    )))
}
