//! gRPC health, kept in step with PostgreSQL and Redis.
//!
//! The overall entry (`""`) and `QueryService` move together: NOT_SERVING
//! from start until the first pings pass, SERVING while both answer, and
//! NOT_SERVING again from the start of shutdown.

use std::sync::Arc;
use std::time::Duration;

use eventflow_proto::query::v1::query_service_server::QueryServiceServer;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::AppState;
use crate::grpc::QueryGrpc;

const CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// The health entries this service reports; cheap to clone.
#[derive(Clone)]
pub struct GrpcHealth {
    reporter: HealthReporter,
}

impl GrpcHealth {
    pub fn new(reporter: HealthReporter) -> Self {
        Self { reporter }
    }

    /// Sets every entry to SERVING or NOT_SERVING.
    pub async fn set_serving(&self, serving: bool) {
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.reporter.set_service_status("", status).await;
        if serving {
            self.reporter
                .set_serving::<QueryServiceServer<QueryGrpc>>()
                .await;
        } else {
            self.reporter
                .set_not_serving::<QueryServiceServer<QueryGrpc>>()
                .await;
        }
    }
}

/// Reports SERVING only while PostgreSQL and Redis both answer, checking every
/// two seconds (the first check at once) until `stop` is cancelled.
pub async fn report_health(state: Arc<AppState>, health: GrpcHealth, stop: CancellationToken) {
    let mut ticker = tokio::time::interval(CHECK_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {
                let dependencies = state.ping_dependencies().await;
                if !dependencies.all_up() {
                    tracing::warn!(
                        postgres = dependencies.postgres,
                        redis = dependencies.redis,
                        "a dependency does not answer"
                    );
                }
                health.set_serving(dependencies.all_up()).await;
            }
        }
    }
}
