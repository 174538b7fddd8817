//! Who is calling: the operator (the admin token) or an API key of one
//! project. Handlers take [`Caller`] as an argument and ask it for the
//! project and scope they need; every data query is then scoped to that
//! project, so another project's ids answer 404.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use eventflow_auth::Principal;
use eventflow_domain::{ProjectId, Scope};
use eventflow_runtime::internal_auth::constant_time_eq;

use crate::AppState;
use crate::error::ApiError;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The bearer of `EVENTFLOW_ADMIN_TOKEN`: manages every project, reads none.
    Operator,
    /// An API key of one project.
    Key(Principal),
}

impl Caller {
    /// The caller's project, if its key carries `scope`: 401/403 otherwise.
    pub fn project(&self, scope: Scope) -> Result<ProjectId, ApiError> {
        match self {
            Self::Key(principal) => {
                principal.require(scope)?;
                Ok(principal.project_id)
            }
            Self::Operator => Err(ApiError::Forbidden(
                "the admin token manages projects and keys; use a project's API key for its data"
                    .into(),
            )),
        }
    }

    /// Checks that the caller may manage `project_id`: the operator may manage
    /// any, an `admin` key only its own (another project answers 404).
    pub fn manage(&self, project_id: ProjectId) -> Result<(), ApiError> {
        match self {
            Self::Operator => Ok(()),
            Self::Key(principal) => {
                principal.require(Scope::Admin)?;
                if principal.project_id == project_id {
                    Ok(())
                } else {
                    Err(ApiError::NotFound("project"))
                }
            }
        }
    }

    /// True for the operator token.
    pub fn is_operator(&self) -> bool {
        matches!(self, Self::Operator)
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let state = request.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::Internal("application state missing".into()))?;
            let token = authorization
                .as_deref()
                .and_then(|value| {
                    value
                        .strip_prefix("Bearer ")
                        .or_else(|| value.strip_prefix("bearer "))
                })
                .map(str::trim);
            if let (Some(token), Some(admin)) = (token, state.admin_token.as_ref())
                && constant_time_eq(token.as_bytes(), admin.expose().as_bytes())
            {
                return Ok(Caller::Operator);
            }
            let principal = state
                .authenticator
                .authenticate(authorization.as_deref())
                .await?;
            Ok(Caller::Key(principal))
        })
    }
}
