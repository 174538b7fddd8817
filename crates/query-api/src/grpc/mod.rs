//! gRPC `QueryService`: reads for internal callers.
//!
//! `GetEvent` answers UNIMPLEMENTED until the query-api issue adds event reads
//! (with the caller's key deciding which project it may see).

use eventflow_proto::query::v1::query_service_server::QueryService;
use eventflow_proto::query::v1::{Event, GetEventRequest};
use tonic::{Request, Response, Status};

/// The gRPC face of the query API.
pub struct QueryGrpc {
    #[allow(dead_code)] // used once the reads are filled in
    state: std::sync::Arc<crate::AppState>,
}

impl QueryGrpc {
    pub fn new(state: std::sync::Arc<crate::AppState>) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl QueryService for QueryGrpc {
    async fn get_event(
        &self,
        _request: Request<GetEventRequest>,
    ) -> Result<Response<Event>, Status> {
        Err(Status::unimplemented(
            "GetEvent is not available yet: event reads arrive with the query-api issue",
        ))
    }
}
