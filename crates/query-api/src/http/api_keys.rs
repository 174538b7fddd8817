//! `/v1/api-keys`: the operator (admin token) manages the keys of every
//! project, a project's `admin` key those of its own project. A key never
//! grants more than it holds: an `admin` key creates keys only with scopes
//! it carries itself, and none that outlives it (a key of an expiring key
//! expires no later; left out, it takes the creator's expiry). A key's
//! plaintext exists only in the answer to its creation; the store keeps its
//! hash, which no route ever returns. Revoking keeps the key listed, with
//! `revoked_at`; services refuse it within their auth cache TTL. A key
//! created with `expires_at` is refused from that instant on (401 saying it
//! expired), by every service, cached or not.

use actix_web::{HttpResponse, delete, get, post, web};
use eventflow_domain::{ApiKeyId, ProjectId, Scope, Scopes, parse_rfc3339};
use eventflow_runtime::api_error::FieldError;
use eventflow_store::ApiKeyRecord;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::responses::{NeedsManager, NotFound};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::pagination::{Page, PageParams};

/// The longest key name accepted.
const MAX_NAME_LEN: usize = 200;

/// Registers this module's routes (collected into the OpenAPI document).
pub fn register(config: &mut ServiceConfig) {
    config
        .service(create_api_key)
        .service(list_api_keys)
        .service(get_api_key)
        .service(revoke_api_key);
}

/// An API key as the API shows it: never the key itself, nor its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyOut {
    /// `key_…`
    #[schema(value_type = String)]
    pub id: ApiKeyId,
    /// `prj_…`
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    pub name: String,
    /// Granted scopes, among `ingest`, `read` and `admin`.
    #[schema(value_type = Vec<String>)]
    pub scopes: Scopes,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When the key was revoked; null while it works.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<OffsetDateTime>,
    /// From when the key is refused (401); null: it never expires.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

impl From<ApiKeyRecord> for ApiKeyOut {
    fn from(record: ApiKeyRecord) -> Self {
        Self {
            id: record.id,
            project_id: record.project_id,
            name: record.name,
            scopes: record.scopes,
            created_at: record.created_at,
            revoked_at: record.revoked_at,
            expires_at: record.expires_at,
        }
    }
}

/// A key just created, with its plaintext: shown this once, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKeyOut {
    #[serde(flatten)]
    pub api_key: ApiKeyOut,
    /// The key to send as `Authorization: Bearer <key>`; store it now.
    pub key: String,
}

/// What creating a key takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyIn {
    /// `prj_…`: required with the admin token; an `admin` key may only name
    /// its own project, or leave it out.
    pub project_id: Option<String>,
    /// A label for people (up to 200 characters); empty by default.
    pub name: Option<String>,
    /// At least one of `ingest`, `read` and `admin`.
    pub scopes: Vec<String>,
    /// RFC 3339 instant in the future from which the key is refused; left
    /// out, the key never expires.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<String>,
}

/// Which keys to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyListParams {
    /// `prj_…`: required with the admin token; an `admin` key lists its own project's.
    pub project_id: Option<String>,
    /// Items per page (1 to the server's maximum).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The project the caller acts on: the one it names (the operator must name
/// one; an `admin` key only its own, another answers 404) or the key's own.
fn target_project(caller: &Caller, requested: Option<&str>) -> Result<ProjectId, ApiError> {
    match (caller, requested) {
        (_, Some(raw)) => {
            let project_id = ProjectId::parse(raw)
                .map_err(|error| ApiError::invalid("project_id", error.to_string()))?;
            caller.manage(project_id)?;
            Ok(project_id)
        }
        (Caller::Key(principal), None) => {
            caller.manage(principal.project_id)?;
            Ok(principal.project_id)
        }
        (Caller::Operator, None) => Err(ApiError::invalid(
            "project_id",
            "is required with the admin token",
        )),
    }
}

/// Returns the key if the caller may manage it: the operator any, an `admin`
/// key those of its project (another project's key answers 404).
async fn managed_key(
    caller: &Caller,
    id: ApiKeyId,
    state: &AppState,
) -> Result<ApiKeyRecord, ApiError> {
    // The scope is checked before the store is read, so a read key learns nothing.
    if let Caller::Key(principal) = caller {
        principal.require(Scope::Admin)?;
    }
    let record = state.store.api_key(id).await?;
    match caller {
        Caller::Key(principal) if principal.project_id != record.project_id => {
            Err(ApiError::NotFound("api key"))
        }
        _ => Ok(record),
    }
}

/// A new key's name, scopes and expiry, checked.
#[derive(Debug)]
struct NewKey {
    name: String,
    scopes: Scopes,
    expires_at: Option<OffsetDateTime>,
}

/// Parses `expires_at`, which must lie in the future.
fn check_expiry(raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<OffsetDateTime> {
    let mut fail = |message: String| {
        errors.push(FieldError {
            field: "expires_at".into(),
            message,
        })
    };
    let expires_at = parse_rfc3339(raw?)
        .map_err(|error| fail(error.to_string()))
        .ok()?;
    if expires_at <= OffsetDateTime::now_utc() {
        fail("must be in the future".into());
        return None;
    }
    Some(expires_at)
}

/// Refuses (403) a key with a scope its creating key lacks, or expiring
/// after it; returns the new key's expiry (the creator's when none is
/// asked). The operator grants anything.
fn within_the_callers_grant(
    caller: &Caller,
    scopes: Scopes,
    expires_at: Option<OffsetDateTime>,
) -> Result<Option<OffsetDateTime>, ApiError> {
    let Caller::Key(principal) = caller else {
        return Ok(expires_at);
    };
    let lacking: Vec<&str> = scopes
        .iter()
        .filter(|scope| !principal.scopes.contains(*scope))
        .map(|scope| scope.as_str())
        .collect();
    if !lacking.is_empty() {
        return Err(ApiError::Forbidden(format!(
            "a key cannot grant scopes it lacks: this key has {} but not {}",
            principal.scopes,
            lacking.join(", ")
        )));
    }
    match (principal.expires_at, expires_at) {
        (Some(limit), Some(asked)) if asked > limit => Err(ApiError::Forbidden(format!(
            "a key cannot outlive the key that creates it: expires_at must not be after {}",
            eventflow_domain::format_rfc3339(limit)
        ))),
        (Some(limit), None) => Ok(Some(limit)),
        _ => Ok(expires_at),
    }
}

fn check_new_key(body: &ApiKeyIn) -> Result<NewKey, ApiError> {
    let mut errors = Vec::new();
    let expires_at = check_expiry(body.expires_at.as_deref(), &mut errors);
    let name = body.name.as_deref().unwrap_or_default().trim().to_owned();
    // PostgreSQL text cannot hold NUL, and no label needs a control character.
    if name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        errors.push(FieldError {
            field: "name".into(),
            message: format!(
                "must be at most {MAX_NAME_LEN} characters, none of them control characters"
            ),
        });
    }
    let scopes = Scopes::from_strings(&body.scopes).map_err(|_| FieldError {
        field: "scopes".into(),
        message: "must list at least one of \"ingest\", \"read\" and \"admin\", and nothing else"
            .into(),
    });
    match scopes {
        Ok(scopes) if errors.is_empty() => Ok(NewKey {
            name,
            scopes,
            expires_at,
        }),
        Ok(_) => Err(ApiError::Invalid(errors)),
        Err(error) => {
            errors.push(error);
            Err(ApiError::Invalid(errors))
        }
    }
}

/// Creates a key; its plaintext is in this answer only.
#[utoipa::path(
    request_body = ApiKeyIn,
    responses(
        (status = 201, description = "created; `key` is shown only here", body = CreatedApiKeyOut),
        (status = 422, description = "invalid project, name, scopes or expiry"),
        (status = 403, description = "neither the operator nor an `admin` key, or an `admin` key asked for a scope it lacks itself or an expiry past its own"),
        (status = 404, description = "no such project (or another project's)"),
    )
)]
#[post("/v1/api-keys")]
pub async fn create_api_key(
    caller: Caller,
    body: web::Json<ApiKeyIn>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let project_id = target_project(&caller, body.project_id.as_deref())?;
    let NewKey {
        name,
        scopes,
        expires_at,
    } = check_new_key(&body)?;
    let expires_at = within_the_callers_grant(&caller, scopes, expires_at)?;
    let created = state
        .store
        .create_expiring_api_key(project_id, &name, &scopes, expires_at)
        .await?;
    tracing::info!(%project_id, key_id = %created.record.id, scopes = %scopes, "api key created");
    Ok(HttpResponse::Created().json(CreatedApiKeyOut {
        key: created.plaintext.expose().to_owned(),
        api_key: created.record.into(),
    }))
}

/// Lists a project's keys, revoked ones included, newest first.
#[utoipa::path(
    params(ApiKeyListParams),
    responses(
        (status = 200, description = "OK", body = Page<ApiKeyOut>),
        NeedsManager,
        (status = 404, description = "another project"),
    )
)]
#[get("/v1/api-keys")]
pub async fn list_api_keys(
    caller: Caller,
    params: web::Query<ApiKeyListParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let project_id = target_project(&caller, params.project_id.as_deref())?;
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .validate(state.page_limits)?;
    let rows = state
        .store
        .list_api_keys(
            project_id,
            page.before.map(ApiKeyId::from_uuid),
            i64::from(page.limit) + 1,
        )
        .await?;
    let rows: Vec<ApiKeyOut> = rows.into_iter().map(ApiKeyOut::from).collect();
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, page, |key| key.id.uuid())))
}

/// Returns one key (never its plaintext).
#[utoipa::path(
    responses(
        (status = 200, description = "OK", body = ApiKeyOut),
        NeedsManager,
        NotFound,
    )
)]
#[get("/v1/api-keys/{id}")]
#[tracing::instrument(skip_all, fields(key_id = %id))]
pub async fn get_api_key(
    caller: Caller,
    id: web::Path<ApiKeyId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let record = managed_key(&caller, id.into_inner(), &state).await?;
    Ok(HttpResponse::Ok().json(ApiKeyOut::from(record)))
}

/// Revokes a key: services refuse it within their auth cache TTL. Revoking
/// twice is harmless and keeps the first `revoked_at`.
#[utoipa::path(
    responses(
        (status = 204, description = "revoked"),
        NeedsManager,
        NotFound,
    )
)]
#[delete("/v1/api-keys/{id}")]
#[tracing::instrument(skip_all, fields(key_id = %id))]
pub async fn revoke_api_key(
    caller: Caller,
    id: web::Path<ApiKeyId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let record = managed_key(&caller, id.into_inner(), &state).await?;
    state.store.revoke_api_key(record.id).await?;
    tracing::info!(project_id = %record.project_id, key_id = %record.id, "api key revoked");
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(name: Option<&str>, scopes: &[&str]) -> ApiKeyIn {
        ApiKeyIn {
            project_id: None,
            name: name.map(str::to_owned),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_at: None,
        }
    }

    fn fields(error: ApiError) -> Vec<String> {
        match error {
            ApiError::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn a_key_needs_known_scopes_and_a_short_name() {
        let key = check_new_key(&body(Some(" ci "), &["read", "admin"])).unwrap();
        assert_eq!(key.name, "ci");
        assert_eq!(key.scopes.to_strings(), ["read", "admin"]);
        assert_eq!(check_new_key(&body(None, &["ingest"])).unwrap().name, "");

        assert_eq!(
            fields(check_new_key(&body(None, &[])).unwrap_err()),
            ["scopes"]
        );
        assert_eq!(
            fields(check_new_key(&body(None, &["root"])).unwrap_err()),
            ["scopes"]
        );
        let long = "n".repeat(201);
        assert_eq!(
            fields(check_new_key(&body(Some(&long), &["write"])).unwrap_err()),
            ["name", "scopes"]
        );
    }

    #[test]
    fn an_expiry_must_be_rfc_3339_in_the_future() {
        let mut expiring = body(None, &["read"]);
        expiring.expires_at = Some("2999-01-01T00:00:00Z".into());
        assert!(check_new_key(&expiring).unwrap().expires_at.is_some());
        expiring.expires_at = Some("2000-01-01T00:00:00Z".into());
        assert_eq!(
            fields(check_new_key(&expiring).unwrap_err()),
            ["expires_at"]
        );
        expiring.expires_at = Some("tomorrow".into());
        assert_eq!(
            fields(check_new_key(&expiring).unwrap_err()),
            ["expires_at"]
        );
    }

    #[test]
    fn the_operator_must_name_a_project() {
        assert_eq!(
            fields(target_project(&Caller::Operator, None).unwrap_err()),
            ["project_id"]
        );
        assert_eq!(
            fields(target_project(&Caller::Operator, Some("prj_nope")).unwrap_err()),
            ["project_id"]
        );
        let project_id = ProjectId::new();
        assert_eq!(
            target_project(&Caller::Operator, Some(&project_id.to_string())).unwrap(),
            project_id
        );
    }
}
