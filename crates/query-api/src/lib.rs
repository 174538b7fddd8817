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

use std::sync::Arc;

use actix_web::{App, web};
use anyhow::Context;
use eventflow_auth::Authenticator;
use eventflow_domain::{AddressPolicy, SecretString};
use eventflow_proto::dispatch::v1::dispatch_control_client::DispatchControlClient;
use eventflow_proto::query::v1::query_service_server::QueryServiceServer;
use eventflow_queue::Queue;
use eventflow_runtime::api_error;
use eventflow_runtime::config::{ServiceConfig, ServiceSettings};
use eventflow_runtime::connect::Connections;
use eventflow_runtime::fallback::RouteTable;
use eventflow_runtime::internal_auth::AttachInternalToken;
use eventflow_runtime::serve::{Listeners, Service, ServiceApplication, StopSignal};
use eventflow_store::Store;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use utoipa_actix_web::AppExt;

use crate::pagination::PageLimits;

pub use crate::config::Config;
use crate::grpc::QueryGrpc;
use crate::scan_gate::ScanGate;

impl ServiceConfig for Config {
    const DEFAULTS: &str = config::DEFAULTS;

    fn service(&self) -> &ServiceSettings {
        &self.service
    }
}

/// A `DispatchControl` client that sends the internal token with every call.
pub(crate) type Dispatcher =
    DispatchControlClient<InterceptedService<Channel, AttachInternalToken>>;

/// What every request handler shares.
pub(crate) struct AppState {
    store: Store,
    queue: Queue,
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

/// A query API with its connections made and its listeners bound, not yet serving.
pub struct Application {
    config: Config,
    state: Arc<AppState>,
    listeners: Listeners,
}

impl ServiceApplication for Application {
    type Config = Config;
    type Error = anyhow::Error;
    const NAME: &str = "query-api";

    /// Opens PostgreSQL (sealing endpoint secrets) and Redis and prepares the
    /// dispatcher client; serves nothing yet.
    async fn build_on(config: Config, listeners: Listeners) -> anyhow::Result<Self> {
        let Connections { store, queue } =
            Connections::open_with_secrets(&config.service, config.secrets_key.as_ref()).await?;
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
        });
        Ok(Self {
            config,
            state,
            listeners,
        })
    }

    /// Serves until `signal` resolves, then reports NOT_SERVING, stops
    /// accepting, lets requests in flight finish (within `shutdown_timeout`),
    /// and returns. Returns an error if a server stopped on its own.
    async fn run_until(self, signal: impl StopSignal) -> anyhow::Result<()> {
        let openapi = web::Data::new(http::docs::OpenApiJson(openapi_document(
            self.config.max_page_limit,
        )?));
        let connections = Connections::of(&self.state.store, &self.state.queue);
        let ping = move || connections.ping();
        let http_state = web::Data::from(self.state.clone());
        let cors_origins = self.config.cors_allowed_origins.clone();
        Service::new(Self::NAME, self.listeners, &self.config.service, ping)
            .http(route_table(), move || {
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
                    .configure(http::operational)
            })
            .grpc(
                QueryServiceServer::<QueryGrpc>::NAME,
                Routes::new(QueryServiceServer::new(QueryGrpc::new(self.state))),
                eventflow_proto::FILE_DESCRIPTOR_SET,
            )
            .run_until(signal)
            .await
            .map_err(anyhow::Error::from)
    }

    fn listeners(&self) -> &Listeners {
        &self.listeners
    }
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
/// routes (with those every service has, added by `Service::http`), so that
/// any other method answers 405.
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
