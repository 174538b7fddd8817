//! gRPC `QueryService`: reads for internal callers.
//!
//! `GetEvent` answers UNIMPLEMENTED until the query-api issue adds event reads
//! (with the caller's key deciding which project it may see).

use eventflow_proto::query::v1::query_service_server::QueryService;
use eventflow_proto::query::v1::{Event, GetEventRequest};
use tonic::{Request, Response, Status};

/// The gRPC face of the query API; it holds no state until reads exist.
#[derive(Debug, Default)]
pub struct QueryGrpc;

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
