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

use actix_web::{App, HttpServer, web};
use anyhow::Context;
use eventflow_proto::ingest::v1::ingest_service_server::IngestServiceServer;
use eventflow_queue::{Queue, QueueSettings};
use eventflow_runtime::metrics::{Metrics, RequestMetrics};
use eventflow_runtime::serve::{Dependencies, HealthChecks, Listeners, drain_servers};
use eventflow_store::{PoolSettings, Store};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::server::NamedService;

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
    metrics: Metrics,
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
            metrics: Metrics::install(),
        });

        let listeners = Listeners::bind(config.service.http_addr, config.service.grpc_addr).await?;
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
    /// they hold (within `shutdown_timeout`), and returns.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self {
            config,
            state,
            listeners,
            writers,
        } = self;
        let stop = CancellationToken::new();
        let background = TaskTracker::new();
        let (reporter, health_service) = tonic_health::server::health_reporter();
        let (store, queue) = (state.store.clone(), state.queue.clone());
        let health = HealthChecks::start(
            reporter,
            IngestServiceServer::<IngestGrpc>::NAME,
            move || {
                let (store, queue) = (store.clone(), queue.clone());
                async move { ping_dependencies(&store, &queue).await }
            },
        )
        .await;
        spawn_background(&background, &config, &state, &stop);

        let http_state = web::Data::from(state.clone());
        let workers = if config.http_workers == 0 {
            num_cpus()
        } else {
            config.http_workers
        };
        let route_table = Arc::new(http::route_table());
        let http_server = HttpServer::new(move || {
            App::new()
                .wrap(RequestMetrics)
                .app_data(http_state.clone())
                .configure(http::routes)
                .default_service(route_table.fallback())
        })
        .workers(workers)
        .keep_alive(eventflow_runtime::serve::HTTP_KEEP_ALIVE)
        .disable_signals()
        .shutdown_timeout(config.service.shutdown_timeout.as_secs())
        .listen(listeners.http)?
        .run();
        let http_handle = http_server.handle();
        let http_task = tokio::spawn(http_server);

        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(eventflow_proto::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let grpc_stop = stop.clone();
        let grpc_task = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(health_service)
                .add_service(reflection)
                .add_service(IngestServiceServer::new(IngestGrpc::new(state.clone())))
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listeners.grpc),
                    grpc_stop.cancelled_owned(),
                ),
        );
        tracing::info!(http_addr = %listeners.http_addr, grpc_addr = %listeners.grpc_addr, "ingest-gateway serving");

        signal.await;
        tracing::info!("shutting down: draining requests in flight");
        stop.cancel();
        background.close();
        health.stop().await;
        background.wait().await;
        let outcome = drain_servers(
            http_handle,
            http_task,
            grpc_task,
            config.service.shutdown_timeout,
        )
        .await
        .map_err(anyhow::Error::from);
        // The writers exit once the last handle to the committer is gone and
        // they have committed everything queued.
        drop(state);
        writers.close();
        if tokio::time::timeout(config.service.shutdown_timeout, writers.wait())
            .await
            .is_err()
        {
            tracing::warn!("writers did not finish within the shutdown timeout");
        }
        tracing::info!("ingest-gateway stopped");
        outcome
    }
}

fn spawn_background(
    tracker: &TaskTracker,
    config: &Config,
    state: &AppState,
    stop: &CancellationToken,
) {
    let (store, queue) = (state.store.clone(), state.queue.clone());
    tracker.spawn(maintenance::relay_outbox(
        store.clone(),
        queue.clone(),
        config.outbox_relay_interval,
        stop.clone(),
    ));
    tracker.spawn(maintenance::maintain_partitions(
        store.clone(),
        config.partition_days_ahead,
        stop.clone(),
    ));
    tracker.spawn(maintenance::purge_idempotency_keys(
        store.clone(),
        config.idempotency_retention,
        stop.clone(),
    ));
}

/// Pings PostgreSQL and Redis at once.
pub(crate) async fn ping_dependencies(store: &Store, queue: &Queue) -> Dependencies {
    let (postgres, redis) = tokio::join!(store.ping(), queue.ping());
    Dependencies {
        postgres: postgres.is_ok(),
        redis: redis.is_ok(),
    }
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}
