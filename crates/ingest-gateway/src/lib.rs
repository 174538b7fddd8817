//! `ingest-gateway`: where producers hand events to EventFlow.
//!
//! It authenticates the API key, rate-limits per project, validates, and
//! acknowledges an event only once PostgreSQL has committed it (group commit:
//! many requests, one transaction). Then it appends the event to the Redis
//! stream for the dispatcher; when that fails the event goes to the outbox
//! and is re-published, so an acknowledged event is never lost.
//!
//! `Application::build` + `run_until` are the only way to run it: `main`,
//! `eventflow dev` and the tests all use them.

mod config;
mod error;
mod fault;
mod group_commit;
mod grpc;
pub mod http;
mod ingest;
mod maintenance;

use std::sync::Arc;

use actix_web::{App, web};
use anyhow::Context;
use eventflow_proto::ingest::v1::ingest_service_server::IngestServiceServer;
use eventflow_queue::Queue;
use eventflow_runtime::config::{ServiceConfig, ServiceSettings};
use eventflow_runtime::connect::Connections;
use eventflow_runtime::serve::{Listeners, Service, ServiceApplication, StopSignal};
use eventflow_store::Store;
use tokio_util::task::TaskTracker;
use tonic::server::NamedService;
use tonic::service::Routes;

pub use crate::config::Config;
use crate::group_commit::{GroupCommitSettings, GroupCommitter};
use crate::grpc::IngestGrpc;
use crate::ingest::Ingestor;
/// The validation of one event's fields, for the fuzz targets (fuzz/); not an API.
#[doc(hidden)]
pub use crate::ingest::{EventFields, validate_event};
use eventflow_auth::Authenticator;

impl ServiceConfig for Config {
    const DEFAULTS: &str = config::DEFAULTS;

    fn service(&self) -> &ServiceSettings {
        &self.service
    }
}

/// Size limits of requests.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_event_bytes: usize,
    /// Deepest nesting of objects and arrays in a payload.
    pub max_payload_depth: usize,
    pub max_batch_bytes: usize,
    pub max_batch_events: usize,
}

/// What every request handler shares.
pub struct AppState {
    store: Store,
    queue: Queue,
    authenticator: Authenticator,
    ingestor: Ingestor,
    limits: Limits,
}

/// A gateway with its connections made and its listeners bound, not yet serving.
pub struct Application {
    config: Config,
    state: Arc<AppState>,
    listeners: Listeners,
    writers: TaskTracker,
}

impl ServiceApplication for Application {
    type Config = Config;
    type Error = anyhow::Error;
    const NAME: &str = "ingest-gateway";

    /// Opens PostgreSQL and Redis, prepares partitions and starts the
    /// group-commit writers; serves nothing yet.
    async fn build_on(config: Config, listeners: Listeners) -> anyhow::Result<Self> {
        let Connections { store, queue } = Connections::open(&config.service).await?;
        store
            .ensure_partitions(config.partition_days_ahead)
            .await
            .context("cannot create partitions")?;
        let writers = TaskTracker::new();
        let committer = GroupCommitter::start(
            store.clone(),
            queue.clone(),
            GroupCommitSettings {
                writers: config.group_commit_writers,
                max_events: config.group_commit_max_events,
                timeout: config.service.database_timeout,
            },
            &writers,
        );
        let default_rate_limit = eventflow_domain::RateLimit {
            per_second: config.default_rate_limit_per_second,
            burst: config.default_rate_limit_burst,
        };
        let state = Arc::new(AppState {
            authenticator: Authenticator::new(store.clone(), config.auth_cache_ttl),
            ingestor: Ingestor::new(queue.clone(), committer, default_rate_limit),
            store,
            queue,
            limits: Limits {
                max_event_bytes: config.max_event_bytes,
                max_payload_depth: config.max_payload_depth,
                max_batch_bytes: config.max_batch_bytes,
                max_batch_events: config.max_batch_events,
            },
        });
        Ok(Self {
            config,
            state,
            listeners,
            writers,
        })
    }

    /// Serves until `signal` resolves, then reports NOT_SERVING, stops
    /// accepting, lets requests in flight finish and the writers flush what
    /// they hold (within `shutdown_timeout`), and returns. Returns an error if
    /// a server stopped on its own.
    async fn run_until(self, signal: impl StopSignal) -> anyhow::Result<()> {
        let Self {
            config,
            state,
            listeners,
            writers,
        } = self;
        let connections = Connections::of(&state.store, &state.queue);
        let ping = move || connections.ping();
        let http_state = web::Data::from(state.clone());
        let (store, queue) = (state.store.clone(), state.queue.clone());
        Service::new(Self::NAME, listeners, &config.service, ping)
            .http(http::route_table(), move || {
                App::new()
                    .app_data(http_state.clone())
                    .configure(http::routes)
            })
            .grpc(
                IngestServiceServer::<IngestGrpc>::NAME,
                Routes::new(IngestServiceServer::new(IngestGrpc::new(state.clone()))),
                eventflow_proto::FILE_DESCRIPTOR_SET,
            )
            .background(|stop| {
                maintenance::relay_outbox(store.clone(), queue, config.outbox_relay_interval, stop)
            })
            .background(|stop| {
                maintenance::maintain_partitions(store.clone(), config.partition_days_ahead, stop)
            })
            .background(|stop| {
                maintenance::purge_idempotency_keys(store, config.idempotency_retention, stop)
            })
            // The writers exit once the last handle to the committer is gone
            // and they have committed everything queued.
            .after_servers("writers not finished", async move {
                drop(state);
                writers.close();
                writers.wait().await;
            })
            .run_until(signal)
            .await
            .map_err(anyhow::Error::from)
    }

    fn listeners(&self) -> &Listeners {
        &self.listeners
    }
}
