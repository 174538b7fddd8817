//! `dispatcher`: delivers stored events to the endpoints subscribed to them.
//!
//! For now it only starts, answers its operational routes and stops cleanly: it
//! connects to PostgreSQL and Redis, serves `/healthz`, `/readyz` and
//! `/metrics` over HTTP and gRPC health, reflection and `DispatchControl`, and
//! drains on shutdown. Reading the stream, matching endpoints, signing,
//! delivering and retrying arrive with the dispatcher issue and will run as
//! workers tracked by [`Application::run_until`].
//!
//! `Application::build` + `run_until` are the only way to run it: `main`,
//! `eventflow dev` and the tests all use them.

mod config;
mod grpc;
mod health;
mod http;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use anyhow::Context;
use eventflow_proto::dispatch::v1::dispatch_control_server::DispatchControlServer;
use eventflow_queue::{Queue, QueueSettings};
use eventflow_runtime::api_error;
use eventflow_runtime::metrics::{Metrics, RequestMetrics, metrics_route};
use eventflow_store::{PoolSettings, Store};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use crate::config::Config;
use crate::grpc::DispatchControlGrpc;
use crate::health::GrpcHealth;

/// The name of the crate, binary, image and OpenTelemetry service.
pub const SERVICE_NAME: &str = "dispatcher";

/// HTTP serves only probes and scrapes, so a couple of workers are plenty.
const HTTP_WORKERS: usize = 2;

/// What every request handler shares.
pub(crate) struct AppState {
    store: Store,
    queue: Queue,
    metrics: Metrics,
}

/// Which dependencies answered a ping.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dependencies {
    pub postgres: bool,
    pub redis: bool,
}

impl Dependencies {
    pub fn all_up(self) -> bool {
        self.postgres && self.redis
    }
}

impl AppState {
    /// Pings PostgreSQL and Redis at once.
    pub async fn ping_dependencies(&self) -> Dependencies {
        let (postgres, redis) = tokio::join!(self.store.ping(), self.queue.ping());
        Dependencies {
            postgres: postgres.is_ok(),
            redis: redis.is_ok(),
        }
    }
}

/// A dispatcher with its connections made and its listeners bound, not yet serving.
pub struct Application {
    config: Config,
    state: Arc<AppState>,
    http_listener: std::net::TcpListener,
    http_addr: SocketAddr,
    grpc_listener: tokio::net::TcpListener,
    grpc_addr: SocketAddr,
}

impl Application {
    /// Connects to PostgreSQL and Redis, checks both answer, and binds both
    /// listeners; serves nothing yet.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = PoolSettings {
            max_connections: config.database_pool_size,
            acquire_timeout: config.database_timeout,
        };
        let store = Store::connect(&config.database_url, &pool)
            .context("invalid setting EVENTFLOW_DATABASE_URL")?;
        store
            .ping()
            .await
            .context("cannot reach PostgreSQL (EVENTFLOW_DATABASE_URL)")?;
        let queue = Queue::connect(&QueueSettings {
            redis_url: config.redis_url.clone(),
            key_prefix: config.redis_key_prefix.clone(),
            connections: 2,
            command_timeout: config.redis_timeout,
        })
        .await
        .context("cannot reach Redis (EVENTFLOW_REDIS_URL)")?;
        queue
            .ping()
            .await
            .context("cannot reach Redis (EVENTFLOW_REDIS_URL)")?;
        let state = Arc::new(AppState {
            store,
            queue,
            metrics: Metrics::install(),
        });

        let http_listener = std::net::TcpListener::bind(config.http_addr)
            .with_context(|| format!("cannot bind EVENTFLOW_HTTP_ADDR {}", config.http_addr))?;
        let http_addr = http_listener.local_addr()?;
        let grpc_listener = tokio::net::TcpListener::bind(config.grpc_addr)
            .await
            .with_context(|| format!("cannot bind EVENTFLOW_GRPC_ADDR {}", config.grpc_addr))?;
        let grpc_addr = grpc_listener.local_addr()?;
        Ok(Self {
            config,
            state,
            http_listener,
            http_addr,
            grpc_listener,
            grpc_addr,
        })
    }

    /// The bound HTTP address (the real port when configured with port 0).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The bound gRPC address (the real port when configured with port 0).
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Serves until `signal` resolves, then reports NOT_SERVING, stops
    /// accepting, lets requests in flight finish (within `shutdown_timeout`),
    /// and returns. Returns an error if a server stopped on its own.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self {
            config,
            state,
            http_listener,
            http_addr,
            grpc_listener,
            grpc_addr,
        } = self;
        // Every fallible step comes before anything is spawned, so an early
        // return leaves nothing running.
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(eventflow_proto::FILE_DESCRIPTOR_SET)
            .build_v1()
            .context("cannot build gRPC reflection")?;
        // Cancelled by the signal, or by a server that stops on its own.
        let stop = CancellationToken::new();
        let stop_checks = CancellationToken::new();
        let stop_grpc = CancellationToken::new();
        let background = TaskTracker::new();

        let http_state = web::Data::from(state.clone());
        let metrics = state.metrics.clone();
        let http_server = HttpServer::new(move || {
            App::new()
                .app_data(http_state.clone())
                .wrap(RequestMetrics)
                .configure(http::routes)
                .service(metrics_route(metrics.clone()))
                .default_service(web::to(api_error::not_found))
        })
        .workers(HTTP_WORKERS)
        .disable_signals()
        .shutdown_timeout(config.shutdown_timeout.as_secs())
        .listen(http_listener)
        .context("cannot serve HTTP")?
        .run();

        let (reporter, health_service) = tonic_health::server::health_reporter();
        let health = GrpcHealth::new(reporter);
        health.set_serving(false).await;
        background.spawn(health::report_health(
            state.clone(),
            health.clone(),
            stop_checks.clone(),
        ));
        let http_handle = http_server.handle();
        let http_task = tokio::spawn(stop_when_done(stop.clone(), http_server));

        let grpc_server = tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(reflection)
            .add_service(DispatchControlServer::new(DispatchControlGrpc))
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(grpc_listener),
                stop_grpc.clone().cancelled_owned(),
            );
        let grpc_task = tokio::spawn(stop_when_done(stop.clone(), grpc_server));
        tracing::info!(%http_addr, %grpc_addr, "dispatcher serving");

        tokio::select! {
            () = signal => tracing::info!("shutting down: draining requests in flight"),
            () = stop.cancelled() => tracing::error!("a server stopped on its own, shutting down"),
        }
        // The health loop stops first, so it cannot turn SERVING again.
        stop_checks.cancel();
        background.close();
        background.wait().await;
        health.set_serving(false).await;
        stop_grpc.cancel();

        let (http_abort, grpc_abort) = (http_task.abort_handle(), grpc_task.abort_handle());
        let drained = tokio::time::timeout(config.shutdown_timeout, async {
            http_handle.stop(true).await;
            tokio::join!(http_task, grpc_task)
        })
        .await;
        let outcome = match drained {
            Ok((http, grpc)) => {
                let http = http
                    .context("HTTP server panicked")?
                    .context("HTTP server failed");
                let grpc = grpc
                    .context("gRPC server panicked")?
                    .context("gRPC server failed");
                http.and(grpc)
            }
            Err(_) => {
                tracing::warn!("requests still in flight after the shutdown timeout");
                http_abort.abort();
                grpc_abort.abort();
                Ok(())
            }
        };
        tracing::info!("dispatcher stopped");
        outcome
    }
}

/// Runs a server to its end, then cancels `stop` so that a server stopping on
/// its own (an accept loop failing) brings the whole service down.
async fn stop_when_done<T>(stop: CancellationToken, server: impl Future<Output = T>) -> T {
    let outcome = server.await;
    stop.cancel();
    outcome
}
