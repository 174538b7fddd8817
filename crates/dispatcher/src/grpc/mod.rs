//! gRPC `DispatchControl`: the dispatcher's control plane.
//!
//! `RefreshEndpointCache` is a placeholder that succeeds: the dispatcher does
//! not cache endpoints yet, so there is nothing to drop. The dispatcher issue
//! adds the cache and makes this call clear it; replay and pause arrive then
//! too.

use eventflow_domain::ProjectId;
use eventflow_proto::dispatch::v1::dispatch_control_server::DispatchControl;
use eventflow_proto::dispatch::v1::{RefreshEndpointCacheRequest, RefreshEndpointCacheResponse};
use eventflow_runtime::api_error::{ErrorKind, Problem};
use tonic::{Request, Response, Status};

/// The gRPC face of the dispatcher; it holds no state until the cache exists.
#[derive(Debug, Default)]
pub struct DispatchControlGrpc;

#[tonic::async_trait]
impl DispatchControl for DispatchControlGrpc {
    #[tracing::instrument(skip_all, fields(project_id = %request.get_ref().project_id))]
    async fn refresh_endpoint_cache(
        &self,
        request: Request<RefreshEndpointCacheRequest>,
    ) -> Result<Response<RefreshEndpointCacheResponse>, Status> {
        let project_id = &request.get_ref().project_id;
        // Empty means every project; anything else must be a project id.
        if !project_id.is_empty() {
            ProjectId::parse(project_id).map_err(|error| {
                Problem::new(
                    ErrorKind::BadRequest,
                    "invalid-project-id",
                    error.to_string(),
                )
            })?;
        }
        Ok(Response::new(RefreshEndpointCacheResponse {}))
    }
}
