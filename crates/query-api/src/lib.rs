//! `query-api`: what the dashboard, users and internal callers read.
//!
//! It serves the JSON API under `/v1` (projects and API keys for operators,
//! endpoints, events, deliveries, attempts, replay and recovery, statistics),
//! documented by `/openapi.json` (generated from the handlers) and `/docs`,
//! and the same reads over gRPC `QueryService`. Every data query is scoped to
//! the caller's project. Replay and recovery are carried out by a dispatcher,
//! over gRPC `DispatchControl`.
//!
//! `Application::build` + `run_until` are the only way to run it: `main`,
//! `eventflow dev` and the tests all use them.

mod auth;
mod config;
mod error;
mod grpc;
mod http;
mod pagination;
mod scan_gate;
mod search;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use anyhow::Context;
use eventflow_auth::Authenticator;
use eventflow_domain::{AddressPolicy, SecretString};
use eventflow_proto::dispatch::v1::dispatch_control_client::DispatchControlClient;
use eventflow_proto::query::v1::query_service_server::QueryServiceServer;
use eventflow_queue::{Queue, QueueSettings};
use eventflow_runtime::api_error;
use eventflow_runtime::fallback::RouteTable;
use eventflow_runtime::internal_auth::AttachInternalToken;
use eventflow_runtime::metrics::{Metrics, RequestMetrics, metrics_route};
use eventflow_runtime::serve::{
    Dependencies, HealthChecks, Listeners, drain_servers, stop_when_done,
};
use eventflow_store::{PoolSettings, Store};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use utoipa_actix_web::AppExt;

use crate::pagination::PageLimits;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;

pub use crate::config::Config;
use crate::grpc::QueryGrpc;
use crate::scan_gate::ScanGate;

/// The name of the crate, binary, image and OpenTelemetry service.
pub const SERVICE_NAME: &str = "query-api";

/// A `DispatchControl` client that sends the internal token with every call.
pub(crate) type Dispatcher =
    DispatchControlClient<InterceptedService<Channel, AttachInternalToken>>;

/// What every request handler shares.
pub(crate) struct AppState {
    store: Store,
    queue: Queue,
    metrics: Metrics,
    authenticator: Authenticator,
    admin_token: Option<SecretString>,
    dispatcher: Dispatcher,
    page_limits: PageLimits,
    /// Most endpoints one project may have.
    max_endpoints_per_project: usize,
    /// Bounds the searches and statistics reads running at once.
    scans: ScanGate,
    /// Which private networks endpoint URLs may name (`endpoint_allow_nets`).
    endpoint_allow_nets: AddressPolicy,
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

/// A query API with its connections made and its listeners bound, not yet serving.
pub struct Application {
    config: Config,
    state: Arc<AppState>,
    listeners: Listeners,
}

impl Application {
    /// Connects to PostgreSQL and Redis, checks both answer, and binds both
    /// listeners; serves nothing yet.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = PoolSettings {
            max_connections: config.service.database_pool_size,
            acquire_timeout: config.service.database_timeout,
        };
        let store = Store::connect(&config.service.database_url, &pool)
            .context("invalid setting EVENTFLOW_DATABASE_URL")?
            .with_required_secrets(config.secrets_key.as_ref())
            .context("missing setting EVENTFLOW_SECRETS_KEY")?;
        store
            .ping()
            .await
            .context("cannot reach PostgreSQL (EVENTFLOW_DATABASE_URL)")?;
        store
            .seal_endpoint_secrets()
            .await
            .context("cannot encrypt endpoint secrets with EVENTFLOW_SECRETS_KEY")?;
        let queue = Queue::connect(&QueueSettings {
            redis_url: config.service.redis_url.clone(),
            key_prefix: config.service.redis_key_prefix.clone(),
            connections: 2,
            command_timeout: config.service.redis_timeout,
        })
        .await
        .context("cannot reach Redis (EVENTFLOW_REDIS_URL)")?;
        queue
            .ping()
            .await
            .context("cannot reach Redis (EVENTFLOW_REDIS_URL)")?;
        let dispatcher = Channel::from_shared(config.dispatcher_grpc_url.clone())
            .context("invalid setting EVENTFLOW_DISPATCHER_GRPC_URL")?
            .connect_timeout(config.service.database_timeout)
            .timeout(config.service.database_timeout)
            .connect_lazy();
        if config.internal_token.is_none() {
            tracing::warn!(
                "internal_token (EVENTFLOW_INTERNAL_TOKEN) is not set: the dispatcher will refuse replay, retry, recovery and test sends"
            );
        }
        let state = Arc::new(AppState {
            authenticator: Authenticator::new(store.clone(), config.auth_cache_ttl),
            admin_token: config.admin_token.clone(),
            endpoint_allow_nets: config.endpoint_allow_nets.clone(),
            dispatcher: DispatchControlClient::with_interceptor(
                dispatcher,
                AttachInternalToken::new(config.internal_token.as_ref()),
            ),
            page_limits: PageLimits {
                default: config.default_page_limit,
                max: config.max_page_limit,
            },
            max_endpoints_per_project: config.max_endpoints_per_project,
            scans: ScanGate::new(config.max_concurrent_scans, config.service.database_timeout),
            store,
            queue,
            metrics: Metrics::install(),
        });

        let listeners = Listeners::bind(config.service.http_addr, config.service.grpc_addr).await?;
        Ok(Self {
            config,
            state,
            listeners,
        })
    }

    /// The bound HTTP address (the real port when configured with port 0).
    pub fn http_addr(&self) -> SocketAddr {
        self.listeners.http_addr
    }

    /// The bound gRPC address (the real port when configured with port 0).
    pub fn grpc_addr(&self) -> SocketAddr {
        self.listeners.grpc_addr
    }

    /// Serves until `signal` resolves, then reports NOT_SERVING, stops
    /// accepting, lets requests in flight finish (within `shutdown_timeout`),
    /// and returns. Returns an error if a server stopped on its own.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self {
            config,
            state,
            listeners,
        } = self;
        // Every fallible step comes before anything is spawned, so an early
        // return leaves nothing running.
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(eventflow_proto::FILE_DESCRIPTOR_SET)
            .build_v1()
            .context("cannot build gRPC reflection")?;
        // Cancelled by the signal, or by a server that stops on its own.
        let stop = CancellationToken::new();
        let stop_grpc = CancellationToken::new();

        let http_state = web::Data::from(state.clone());
        let metrics = state.metrics.clone();
        let openapi = web::Data::new(http::docs::OpenApiJson(openapi_document(
            config.max_page_limit,
        )?));
        let route_table = Arc::new(route_table());
        let cors_origins = config.cors_allowed_origins.clone();
        let http_server = HttpServer::new(move || {
            let (app, _) = App::new()
                .into_utoipa_app()
                .configure(http::api)
                .split_for_parts();
            app.app_data(http_state.clone())
                .app_data(openapi.clone())
                .app_data(api_error::json_config())
                .app_data(api_error::query_config())
                .app_data(api_error::path_config())
                .wrap(cors(&cors_origins))
                .wrap(RequestMetrics)
                .configure(http::operational)
                .service(metrics_route(metrics.clone()))
                .default_service(route_table.fallback())
        })
        .workers(http_workers())
        .keep_alive(eventflow_runtime::serve::HTTP_KEEP_ALIVE)
        .disable_signals()
        .shutdown_timeout(config.service.shutdown_timeout.as_secs())
        .listen(listeners.http)
        .context("cannot serve HTTP")?
        .run();

        let (reporter, health_service) = tonic_health::server::health_reporter();
        let pinged = state.clone();
        let health =
            HealthChecks::start(reporter, QueryServiceServer::<QueryGrpc>::NAME, move || {
                let state = pinged.clone();
                async move { state.ping_dependencies().await }
            })
            .await;
        let http_handle = http_server.handle();
        let http_task = tokio::spawn(stop_when_done(stop.clone(), http_server));

        let grpc_server = tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(reflection)
            .add_service(QueryServiceServer::new(QueryGrpc::new(state.clone())))
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listeners.grpc),
                stop_grpc.clone().cancelled_owned(),
            );
        let grpc_task = tokio::spawn(stop_when_done(stop.clone(), grpc_server));
        tracing::info!(http_addr = %listeners.http_addr, grpc_addr = %listeners.grpc_addr, "query-api serving");

        tokio::select! {
            () = signal => tracing::info!("shutting down: draining requests in flight"),
            () = stop.cancelled() => tracing::error!("a server stopped on its own, shutting down"),
        }
        health.stop().await;
        stop_grpc.cancel();

        let outcome = drain_servers(
            http_handle,
            http_task,
            grpc_task,
            config.service.shutdown_timeout,
        )
        .await
        .map_err(anyhow::Error::from);
        tracing::info!("query-api stopped");
        outcome
    }
}

/// One HTTP worker per CPU core: the dashboard's reads land here.
fn http_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// The OpenAPI document of every `/v1` route.
fn openapi() -> utoipa::openapi::OpenApi {
    let (_, document) = App::new()
        .into_utoipa_app()
        .openapi(<http::docs::ApiDoc as utoipa::OpenApi>::openapi())
        .configure(http::api)
        .split_for_parts();
    document
}

/// The OpenAPI document of every `/v1` route, rendered as JSON, for a
/// server whose largest page is `max_page_limit`.
pub fn openapi_document(max_page_limit: u32) -> anyhow::Result<String> {
    let mut document =
        serde_json::to_value(openapi()).context("cannot render the OpenAPI document")?;
    http::docs::complete(&mut document, max_page_limit);
    serde_json::to_string(&document).context("cannot render the OpenAPI document")
}

/// Every path and method served: the documented API and the operational
/// routes, so that any other method answers 405.
fn route_table() -> RouteTable {
    let document = openapi();
    let documented = document
        .paths
        .paths
        .iter()
        .fold(RouteTable::new(), |table, (path, item)| {
            let methods: Vec<&str> = [
                ("GET", item.get.is_some()),
                ("PUT", item.put.is_some()),
                ("POST", item.post.is_some()),
                ("DELETE", item.delete.is_some()),
                ("PATCH", item.patch.is_some()),
            ]
            .into_iter()
            .filter_map(|(method, present)| present.then_some(method))
            .collect();
            table.route(path, &methods)
        });
    http::OPERATIONAL_PATHS
        .iter()
        .fold(documented, |table, path| table.route(path, &["GET"]))
}

/// Browsers may call the API from the configured origins (the dashboard).
fn cors(origins: &[String]) -> actix_cors::Cors {
    origins
        .iter()
        .fold(actix_cors::Cors::default(), |cors, origin| {
            cors.allowed_origin(origin)
        })
        .allowed_methods(["GET", "POST", "PATCH", "PUT", "DELETE"])
        .allowed_headers([
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::CONTENT_TYPE,
        ])
        .max_age(3600)
}
