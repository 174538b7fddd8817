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

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{App, web};
use anyhow::Context;
use eventflow_proto::ingest::v1::ingest_service_server::IngestServiceServer;
use eventflow_queue::{Queue, QueueSettings};
use eventflow_runtime::config::ServiceSettings;
use eventflow_runtime::serve::{Dependencies, Listeners, Service, ServiceConfig};
use eventflow_store::{PoolSettings, Store};
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

/// The name of the crate, binary, image and OpenTelemetry service.
pub const SERVICE_NAME: &str = "ingest-gateway";

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

impl Application {
    /// Connects to PostgreSQL and Redis, prepares partitions, starts the
    /// group-commit writers and binds both listeners; serves nothing yet.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // First: a taken port fails the build before anything connects or spawns.
        let listeners = Listeners::bind(config.service.http_addr, config.service.grpc_addr).await?;
        let pool = PoolSettings {
            max_connections: config.service.database_pool_size,
            acquire_timeout: config.service.database_timeout,
        };
        let store = Store::connect(&config.service.database_url, &pool)
            .context("invalid setting EVENTFLOW_DATABASE_URL")?;
        store
            .ping()
            .await
            .context("cannot reach PostgreSQL (EVENTFLOW_DATABASE_URL)")?;
        store
            .ensure_partitions(config.partition_days_ahead)
            .await
            .context("cannot create partitions")?;
        let queue = Queue::connect(&QueueSettings {
            redis_url: config.service.redis_url.clone(),
            key_prefix: config.service.redis_key_prefix.clone(),
            connections: 2,
            command_timeout: config.service.redis_timeout,
        })
        .await
        .context("cannot reach Redis (EVENTFLOW_REDIS_URL)")?;

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

    /// The bound HTTP address (the real port when configured with port 0).
    pub fn http_addr(&self) -> SocketAddr {
        self.listeners.http_addr
    }

    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.listeners.grpc_addr
    }

    /// Serves until `signal` resolves, then reports NOT_SERVING, stops
    /// accepting, lets requests in flight finish and the writers flush what
    /// they hold (within `shutdown_timeout`), and returns. Returns an error if
    /// a server stopped on its own.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self {
            config,
            state,
            listeners,
            writers,
        } = self;
        let (store, queue) = (state.store.clone(), state.queue.clone());
        let ping = move || ping_dependencies(store.clone(), queue.clone());
        let http_state = web::Data::from(state.clone());
        let (store, queue) = (state.store.clone(), state.queue.clone());
        Service::new(SERVICE_NAME, listeners, &config.service, ping)
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

    /// `build`, then `run_until`: what the binary runs.
    pub async fn serve(config: Config, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        Self::build(config).await?.run_until(signal).await
    }
}

impl ServiceConfig for Config {
    fn service(&self) -> &ServiceSettings {
        &self.service
    }
}

/// Pings PostgreSQL and Redis at once.
async fn ping_dependencies(store: Store, queue: Queue) -> Dependencies {
    Dependencies::check(store.ping(), queue.ping()).await
}
