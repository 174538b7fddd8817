//! The one skeleton every service runs on: [`Service`] binds nothing and
//! starts nothing until [`Service::run_until`], which prepares every fallible
//! piece first (the HTTP server on its listener, gRPC reflection) and only then
//! spawns the health checks, both servers and the background work, so an error
//! leaves nothing running. Every HTTP app gets the same operational routes
//! (`/healthz`, `/readyz`, `/metrics`), middleware (a request span, request
//! metrics) and 404/405 fallback; either server ending on its own brings the
//! service down; shutdown drains in one order, bounded by the shutdown timeout.
//! What a service adds: its HTTP app, its gRPC service, its background work and
//! what must finish after each stage of the drain. [`main`] is every binary.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::config::{ConfigError, ServiceConfig, ServiceSettings};
use crate::fallback::RouteTable;
use crate::metrics::{Metrics, metrics_route, request_metrics};
use crate::request_span::request_span;
use crate::telemetry::{Telemetry, TelemetryError};

/// How long every service's HTTP server keeps an idle client connection open
/// (actix's `keep_alive`; its default is 5 s). An AWS ALB reuses its
/// connections to a target for up to its idle timeout (60 s) and answers 502
/// when the target closed one under it first, so the server must hold them
/// longer than the load balancer does.
pub const HTTP_KEEP_ALIVE: Duration = Duration::from_secs(75);

/// A service's HTTP and gRPC listeners, bound before it serves: port 0 is
/// resolved, and a port already taken is reported, when the service is built.
pub struct Listeners {
    pub http: std::net::TcpListener,
    pub http_addr: SocketAddr,
    pub grpc: tokio::net::TcpListener,
    pub grpc_addr: SocketAddr,
}

/// A listener that could not be bound, named by its setting.
#[derive(Debug, thiserror::Error)]
#[error("cannot bind {setting} {addr}")]
pub struct BindError {
    setting: &'static str,
    addr: SocketAddr,
    #[source]
    source: std::io::Error,
}

impl Listeners {
    /// Binds `http` (`EVENTFLOW_HTTP_ADDR`) and `grpc` (`EVENTFLOW_GRPC_ADDR`).
    pub async fn bind(http: SocketAddr, grpc: SocketAddr) -> Result<Self, BindError> {
        let failed = |setting, addr| {
            move |source| BindError {
                setting,
                addr,
                source,
            }
        };
        let http_listener =
            std::net::TcpListener::bind(http).map_err(failed("EVENTFLOW_HTTP_ADDR", http))?;
        let grpc_listener = tokio::net::TcpListener::bind(grpc)
            .await
            .map_err(failed("EVENTFLOW_GRPC_ADDR", grpc))?;
        Ok(Self {
            http_addr: http_listener
                .local_addr()
                .map_err(failed("EVENTFLOW_HTTP_ADDR", http))?,
            grpc_addr: grpc_listener
                .local_addr()
                .map_err(failed("EVENTFLOW_GRPC_ADDR", grpc))?,
            http: http_listener,
            grpc: grpc_listener,
        })
    }
}

/// What [`Service`] reads of the [`ServiceSettings`].
#[derive(Debug, Clone, Copy)]
struct ServeSettings {
    /// HTTP worker threads (`EVENTFLOW_HTTP_WORKERS`); 0 means one per CPU core.
    http_workers: usize,
    /// How long each stage of shutdown waits (`EVENTFLOW_SHUTDOWN_TIMEOUT`).
    shutdown_timeout: Duration,
}

impl ServeSettings {
    /// The number of HTTP workers to start: the setting, or one per CPU core for 0.
    fn http_workers(&self) -> usize {
        if self.http_workers > 0 {
            return self.http_workers;
        }
        std::thread::available_parallelism()
            .map(|cores| cores.get())
            .unwrap_or(2)
    }
}

/// Which of a service's dependencies answered a ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dependencies {
    pub postgres: bool,
    pub redis: bool,
}

impl Dependencies {
    /// Runs both pings at once.
    pub async fn check<P, R, PE, RE>(postgres: P, redis: R) -> Self
    where
        P: Future<Output = Result<(), PE>>,
        R: Future<Output = Result<(), RE>>,
    {
        let (postgres, redis) = tokio::join!(postgres, redis);
        Self {
            postgres: postgres.is_ok(),
            redis: redis.is_ok(),
        }
    }

    pub fn all_up(self) -> bool {
        self.postgres && self.redis
    }

    /// `/readyz`: 200 when both answer, 503 naming the one that does not.
    pub fn readiness(self) -> HttpResponse {
        let status = |up: bool| if up { "ok" } else { "unavailable" };
        let body = serde_json::json!({
            "postgres": status(self.postgres),
            "redis": status(self.redis),
        });
        if self.all_up() {
            HttpResponse::Ok().json(body)
        } else {
            HttpResponse::ServiceUnavailable().json(body)
        }
    }
}

/// The gRPC health entries of one service: the overall entry (`""`) and the
/// service's own move together. Cheap to clone.
#[derive(Clone)]
struct GrpcHealth {
    reporter: HealthReporter,
    service: &'static str,
}

impl GrpcHealth {
    /// Reports through `reporter` for the gRPC service named `service`
    /// (its `NamedService::NAME`).
    fn new(reporter: HealthReporter, service: &'static str) -> Self {
        Self { reporter, service }
    }

    /// Sets both entries to SERVING or NOT_SERVING.
    async fn set_serving(&self, serving: bool) {
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.reporter.set_service_status("", status).await;
        self.reporter.set_service_status(self.service, status).await;
    }

    /// Reports SERVING only while `ping` finds every dependency up, checking
    /// every `interval` (the first check at once) until `stop` is cancelled.
    async fn follow<P, F>(self, interval: Duration, stop: CancellationToken, mut ping: P)
    where
        P: FnMut() -> F,
        F: Future<Output = Dependencies>,
    {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticker.tick() => {
                    let dependencies = ping().await;
                    if !dependencies.all_up() {
                        tracing::warn!(
                            postgres = dependencies.postgres,
                            redis = dependencies.redis,
                            "a dependency does not answer"
                        );
                    }
                    self.set_serving(dependencies.all_up()).await;
                }
            }
        }
    }
}

/// How often gRPC health pings the dependencies.
const HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// gRPC health following a service's dependencies, NOT_SERVING from start
/// until the first check passes and again from [`HealthChecks::stop`] on.
struct HealthChecks {
    health: GrpcHealth,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl HealthChecks {
    /// Reports NOT_SERVING, then checks `ping` every two seconds (the first
    /// check at once) for the gRPC service named `service`.
    async fn start(reporter: HealthReporter, service: &'static str, ping: Ping) -> Self {
        let health = GrpcHealth::new(reporter, service);
        health.set_serving(false).await;
        let stop = CancellationToken::new();
        let task = tokio::spawn(health.clone().follow(
            HEALTH_CHECK_INTERVAL,
            stop.clone(),
            move || ping(),
        ));
        Self { health, stop, task }
    }

    /// Ends the checks, then reports NOT_SERVING: no check can turn it
    /// SERVING again once shutdown has begun.
    async fn stop(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "the health check loop ended abnormally");
        }
        self.health.set_serving(false).await;
    }
}

/// Runs a server to its end, then cancels `stop`, so that a server stopping
/// on its own (an accept loop failing) brings the whole service down.
async fn stop_when_done<T>(stop: CancellationToken, server: impl Future<Output = T>) -> T {
    let outcome = server.await;
    stop.cancel();
    outcome
}

/// Why a service could not start, or how a server ended other than cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot serve HTTP")]
    Listen(#[source] std::io::Error),
    #[error("cannot build gRPC reflection")]
    Reflection(#[source] tonic_reflection::server::Error),
    #[error("HTTP server failed")]
    Http(#[source] std::io::Error),
    #[error("gRPC server failed")]
    Grpc(#[source] tonic::transport::Error),
    #[error("{0} server panicked")]
    Panicked(&'static str),
}

/// Stops accepting HTTP requests and waits, within `timeout`, for the
/// requests in flight on both servers (the gRPC server must already have been
/// told to stop). Past the timeout both are aborted and the rest is logged.
async fn drain_servers(
    http: ServerHandle,
    http_task: JoinHandle<std::io::Result<()>>,
    grpc_task: JoinHandle<Result<(), tonic::transport::Error>>,
    timeout: Duration,
) -> Result<(), ServeError> {
    let (http_abort, grpc_abort) = (http_task.abort_handle(), grpc_task.abort_handle());
    let drained = tokio::time::timeout(timeout, async {
        http.stop(true).await;
        tokio::join!(http_task, grpc_task)
    })
    .await;
    let Ok((http, grpc)) = drained else {
        tracing::warn!("requests still in flight after the shutdown timeout");
        http_abort.abort();
        grpc_abort.abort();
        return Ok(());
    };
    http.map_err(|_| ServeError::Panicked("HTTP"))?
        .map_err(ServeError::Http)?;
    grpc.map_err(|_| ServeError::Panicked("gRPC"))?
        .map_err(ServeError::Grpc)
}

/// Pings a service's dependencies: gRPC health every two seconds, and `/readyz`.
type Ping = Arc<dyn Fn() -> Work<Dependencies> + Send + Sync>;

/// Work handed over to run later: a future does nothing until polled.
type Work<T = ()> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Makes the HTTP server of a service on its listener; run once, by [`Service::run_until`].
type MakeHttpServer =
    Box<dyn FnOnce(std::net::TcpListener, ServeSettings, Ping) -> std::io::Result<Server> + Send>;

/// A service's gRPC service, named for its health entry.
struct GrpcService {
    name: &'static str,
    routes: Routes,
    file_descriptor_set: &'static [u8],
}

/// Everything a service serves and runs, gathered before anything starts.
///
/// `Service::new(..).http(..).grpc(..).background(..).after_work(..).after_servers(..)`,
/// then [`Service::run_until`]. Building it spawns nothing: background work is
/// handed over as futures, which do nothing until the service runs them.
#[must_use = "a service does nothing until `run_until` is awaited"]
pub struct Service {
    name: &'static str,
    listeners: Listeners,
    settings: ServeSettings,
    ping: Ping,
    /// Set by `new` (the operational routes alone) or `http`.
    http: Option<MakeHttpServer>,
    grpc: Option<GrpcService>,
    stop_work: CancellationToken,
    work: Vec<Work>,
    after_work: Vec<(&'static str, Work)>,
    after_servers: Vec<(&'static str, Work)>,
}

impl Service {
    /// The service `name` (its binary and OpenTelemetry name) on `listeners`,
    /// whose readiness is what `ping` finds. It serves the operational routes
    /// until [`Service::http`] adds an app.
    pub fn new<P, F>(
        name: &'static str,
        listeners: Listeners,
        settings: &ServiceSettings,
        ping: P,
    ) -> Self
    where
        P: Fn() -> F + Send + Sync + 'static,
        F: Future<Output = Dependencies> + Send + 'static,
    {
        Self {
            name,
            listeners,
            settings: ServeSettings {
                http_workers: settings.http_workers,
                shutdown_timeout: settings.shutdown_timeout,
            },
            ping: Arc::new(move || -> Work<Dependencies> { Box::pin(ping()) }),
            http: None,
            grpc: None,
            stop_work: CancellationToken::new(),
            work: Vec::new(),
            after_work: Vec::new(),
            after_servers: Vec::new(),
        }
        .http(RouteTable::new(), App::new)
    }

    /// Serves the app `app` makes (one per worker), whose paths and methods are
    /// `routes`. The service adds `/healthz`, `/readyz`, `/metrics`, the 404/405
    /// fallback, and around everything the request span and request metrics.
    pub fn http<F, T, B>(mut self, routes: RouteTable, app: F) -> Self
    where
        F: Fn() -> App<T> + Send + Clone + 'static,
        T: ServiceFactory<
                ServiceRequest,
                Config = (),
                Response = ServiceResponse<B>,
                Error = actix_web::Error,
                InitError = (),
            > + 'static,
        B: MessageBody + 'static,
    {
        // The service's app, then the operational routes and fallback, wrapped
        // in the request span (outermost) and metrics.
        self.http = Some(Box::new(move |listener, settings, ping| {
            let routes = Arc::new(
                routes
                    .route("/healthz", &["GET"])
                    .route("/readyz", &["GET"])
                    .route("/metrics", &["GET"]),
            );
            let metrics = Metrics::install();
            let server = HttpServer::new(move || {
                let ping = ping.clone();
                app()
                    .route("/healthz", web::get().to(healthz))
                    .route(
                        "/readyz",
                        web::get().to(move || {
                            let checked = ping();
                            async move { checked.await.readiness() }
                        }),
                    )
                    .service(metrics_route(metrics.clone()))
                    .default_service(routes.fallback())
                    .wrap(from_fn(request_metrics))
                    .wrap(from_fn(request_span))
            })
            .workers(settings.http_workers())
            .keep_alive(HTTP_KEEP_ALIVE)
            .disable_signals()
            .shutdown_timeout(settings.shutdown_timeout.as_secs())
            .listen(listener)?
            .run();
            Ok(server)
        }));
        self
    }

    /// Serves `routes` (`Routes::new(service)`) over gRPC, with gRPC health
    /// (under `name`, the service's `NamedService::NAME`, and the overall
    /// entry) and reflection of `file_descriptor_set`.
    pub fn grpc(
        mut self,
        name: &'static str,
        routes: Routes,
        file_descriptor_set: &'static [u8],
    ) -> Self {
        self.grpc = Some(GrpcService {
            name,
            routes,
            file_descriptor_set,
        });
        self
    }

    /// Runs the future `task` makes while the service serves; the token it is
    /// given is cancelled when shutdown begins, and the task must then return.
    pub fn background<F>(mut self, task: impl FnOnce(CancellationToken) -> F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.work.push(Box::pin(task(self.stop_work.clone())));
        self
    }

    /// At shutdown, once the background work has returned and before the
    /// servers stop, awaits `step` (within what is left of the shutdown
    /// timeout; past it, logs "`what` after the shutdown timeout").
    pub fn after_work(
        mut self,
        what: &'static str,
        step: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.after_work.push((what, Box::pin(step)));
        self
    }

    /// At shutdown, once both servers have stopped (and dropped what they
    /// held), awaits `step` within the shutdown timeout: the place to flush
    /// what requests left buffered.
    pub fn after_servers(
        mut self,
        what: &'static str,
        step: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.after_servers.push((what, Box::pin(step)));
        self
    }

    /// The bound HTTP address (the real port when configured with port 0).
    pub fn http_addr(&self) -> SocketAddr {
        self.listeners.http_addr
    }

    /// The bound gRPC address (the real port when configured with port 0).
    pub fn grpc_addr(&self) -> SocketAddr {
        self.listeners.grpc_addr
    }

    /// Serves until `signal` resolves or a server stops on its own, then
    /// drains: the background work is told to stop and awaited, then the
    /// [`Service::after_work`] steps; gRPC health turns NOT_SERVING; both
    /// servers stop accepting and finish the requests in flight; then the
    /// [`Service::after_servers`] steps. Each stage is bounded by the shutdown
    /// timeout. Returns an error if it could not start (with nothing left
    /// running) or if a server failed.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> Result<(), ServeError> {
        let Self {
            name,
            listeners,
            settings,
            ping,
            http,
            grpc,
            stop_work,
            work,
            after_work,
            after_servers,
        } = self;
        // Every fallible step comes before anything is spawned, so an early
        // return leaves nothing running.
        let http_server =
            http.expect("Service::new sets an HTTP app")(listeners.http, settings, ping.clone())
                .map_err(ServeError::Listen)?;
        let (reporter, health_service) = tonic_health::server::health_reporter();
        let (grpc_name, routes) = match grpc {
            Some(grpc) => {
                let reflection = tonic_reflection::server::Builder::configure()
                    .register_encoded_file_descriptor_set(grpc.file_descriptor_set)
                    .build_v1()
                    .map_err(ServeError::Reflection)?;
                (grpc.name, grpc.routes.add_service(reflection))
            }
            None => ("", Routes::default()),
        };
        let grpc_server =
            tonic::transport::Server::builder().add_routes(routes.add_service(health_service));

        // Cancelled by a server that stops on its own.
        let stop = CancellationToken::new();
        let stop_grpc = CancellationToken::new();
        let health = HealthChecks::start(reporter, grpc_name, ping).await;
        let http_handle = http_server.handle();
        let http_task = tokio::spawn(stop_when_done(stop.clone(), http_server));
        let grpc_task = tokio::spawn(stop_when_done(
            stop.clone(),
            grpc_server.serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listeners.grpc),
                stop_grpc.clone().cancelled_owned(),
            ),
        ));
        let background = TaskTracker::new();
        for task in work {
            background.spawn(task);
        }
        background.close();
        tracing::info!(http_addr = %listeners.http_addr, grpc_addr = %listeners.grpc_addr, "{name} serving");

        tokio::select! {
            () = signal => tracing::info!("shutting down: draining requests in flight"),
            () = stop.cancelled() => tracing::error!("a server stopped on its own, shutting down"),
        }
        stop_work.cancel();
        let deadline = tokio::time::Instant::now() + settings.shutdown_timeout;
        let work_steps = std::iter::once((
            "background work still running",
            Box::pin(async move { background.wait().await }) as Work,
        ));
        for (what, step) in work_steps.chain(after_work) {
            if tokio::time::timeout_at(deadline, step).await.is_err() {
                tracing::warn!("{what} after the shutdown timeout");
            }
        }
        health.stop().await;
        stop_grpc.cancel();
        let outcome =
            drain_servers(http_handle, http_task, grpc_task, settings.shutdown_timeout).await;
        for (what, step) in after_servers {
            if tokio::time::timeout(settings.shutdown_timeout, step)
                .await
                .is_err()
            {
                tracing::warn!("{what} after the shutdown timeout");
            }
        }
        tracing::info!("{name} stopped");
        outcome
    }
}

/// `/healthz`: answers while the process runs.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// What stops a running service: SIGTERM in a binary, a token in a test.
pub trait StopSignal: Future<Output = ()> + Send + 'static {}

impl<F: Future<Output = ()> + Send + 'static> StopSignal for F {}

/// A service as its binary, `eventflow dev` and the tests run it: [`build`]
/// binds the listeners the settings name, then (only then, so that a taken
/// port fails before anything connects) makes the service's connections with
/// [`build_on`]; [`run_until`] serves until a signal and drains. Everything
/// fallible happens in `build` or before `run_until` spawns anything.
///
/// [`build`]: ServiceApplication::build
/// [`build_on`]: ServiceApplication::build_on
/// [`run_until`]: ServiceApplication::run_until
pub trait ServiceApplication: Sized + Send {
    type Config: ServiceConfig + Send;
    type Error: From<ConfigError> + From<TelemetryError> + From<BindError> + Send;
    /// The name of its crate, binary, image and OpenTelemetry service.
    const NAME: &'static str;

    /// Makes the connections the settings name, on listeners already bound; serves nothing yet.
    fn build_on(
        config: Self::Config,
        listeners: Listeners,
    ) -> impl Future<Output = Result<Self, Self::Error>> + Send;

    /// Serves until `signal` resolves, then drains (see [`Service::run_until`]).
    /// Returns an error if a server stopped on its own.
    fn run_until(
        self,
        signal: impl StopSignal,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The listeners [`ServiceApplication::build`] bound.
    fn listeners(&self) -> &Listeners;

    /// Binds both listeners, then [`ServiceApplication::build_on`] them.
    fn build(config: Self::Config) -> impl Future<Output = Result<Self, Self::Error>> + Send {
        async move {
            let service = config.service();
            let listeners = Listeners::bind(service.http_addr, service.grpc_addr).await?;
            Self::build_on(config, listeners).await
        }
    }

    /// The bound HTTP address (the real port when configured with port 0).
    fn http_addr(&self) -> SocketAddr {
        self.listeners().http_addr
    }

    /// The bound gRPC address (the real port when configured with port 0).
    fn grpc_addr(&self) -> SocketAddr {
        self.listeners().grpc_addr
    }
}

/// The whole `main` of the binary of service `A`: installs the TLS crypto
/// provider, loads the settings, starts telemetry (exporting spans to
/// `OTEL_EXPORTER_OTLP_ENDPOINT` when it is set), builds the service and runs
/// it until SIGTERM or Ctrl-C, and flushes the last spans, whatever it returned.
pub async fn main<A: ServiceApplication>() -> Result<(), A::Error> {
    crate::tls::install_crypto_provider();
    let config = A::Config::load()?;
    let otlp_endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok();
    let telemetry = Telemetry::init(A::NAME, &config.service().log, otlp_endpoint.as_deref())?;
    let outcome = match A::build(config).await {
        Ok(app) => app.run_until(crate::shutdown::sigterm_or_ctrl_c()).await,
        Err(error) => Err(error),
    };
    telemetry.shutdown().await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_names_the_dependency_that_does_not_answer() {
        let both = Dependencies {
            postgres: true,
            redis: true,
        };
        assert_eq!(both.readiness().status().as_u16(), 200);
        let redis_down = Dependencies {
            postgres: true,
            redis: false,
        };
        assert!(!redis_down.all_up());
        assert_eq!(redis_down.readiness().status().as_u16(), 503);
    }

    #[tokio::test]
    async fn listeners_resolve_port_zero_and_name_a_taken_port_by_its_setting() {
        let any: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let bound = Listeners::bind(any, any).await.expect("free ports bind");
        assert_ne!(bound.http_addr.port(), 0);
        assert_ne!(bound.grpc_addr.port(), 0);
        let taken = Listeners::bind(any, bound.grpc_addr)
            .await
            .err()
            .expect("the gRPC port is taken");
        assert_eq!(
            taken.to_string(),
            format!("cannot bind EVENTFLOW_GRPC_ADDR {}", bound.grpc_addr)
        );
    }

    fn any_address() -> SocketAddr {
        "127.0.0.1:0".parse().expect("address")
    }

    fn test_settings() -> ServiceSettings {
        ServiceSettings {
            database_url: String::new(),
            redis_url: String::new(),
            http_addr: any_address(),
            grpc_addr: any_address(),
            log: "info".to_owned(),
            redis_key_prefix: String::new(),
            database_pool_size: 1,
            database_timeout: Duration::from_secs(1),
            redis_timeout: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(5),
            http_workers: 1,
        }
    }

    async fn all_up() -> Dependencies {
        Dependencies {
            postgres: true,
            redis: true,
        }
    }

    fn alive_tasks() -> usize {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    }

    #[test]
    fn zero_http_workers_means_one_per_core() {
        let settings = |http_workers| ServeSettings {
            http_workers,
            shutdown_timeout: Duration::from_secs(1),
        };
        assert_eq!(settings(3).http_workers(), 3);
        let cores = std::thread::available_parallelism().map_or(2, |cores| cores.get());
        assert_eq!(settings(0).http_workers(), cores);
    }

    #[tokio::test]
    async fn a_service_that_cannot_start_returns_the_error_with_nothing_running() {
        let listeners = Listeners::bind(any_address(), any_address())
            .await
            .expect("free ports bind");
        let http_addr = listeners.http_addr;
        let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let alive_before = alive_tasks();
        let (_, health) = tonic_health::server::health_reporter();
        let service = Service::new("test", listeners, &test_settings(), all_up)
            .grpc("test", Routes::new(health), b"not a file descriptor set")
            .background(|_| {
                let started = started.clone();
                async move { started.store(true, std::sync::atomic::Ordering::SeqCst) }
            });

        let error = service
            .run_until(std::future::pending())
            .await
            .expect_err("reflection cannot be built");

        assert!(matches!(error, ServeError::Reflection(_)), "{error:?}");
        assert_eq!(alive_tasks(), alive_before, "a task was left running");
        assert!(!started.load(std::sync::atomic::Ordering::SeqCst));
        std::net::TcpListener::bind(http_addr).expect("the HTTP port is free again");
    }

    #[tokio::test]
    async fn a_server_that_stops_on_its_own_brings_the_service_down_in_drain_order() {
        let listeners = Listeners::bind(any_address(), any_address())
            .await
            .expect("free ports bind");
        let steps = Arc::new(std::sync::Mutex::new(Vec::new()));
        let step = |name: &'static str| {
            let steps = steps.clone();
            async move { steps.lock().expect("steps").push(name) }
        };
        // An app whose data cannot be made: its worker fails to start, and the
        // HTTP server ends with an error of its own accord.
        let service = Service::new("test", listeners, &test_settings(), all_up)
            .http(RouteTable::new(), || {
                App::new().data_factory(|| async { Err::<u8, _>("no data") })
            })
            .background(|stop| {
                let stopped = step("background work stopped");
                async move {
                    stop.cancelled().await;
                    stopped.await;
                }
            })
            .after_work("after work", step("after work"))
            .after_servers("after servers", step("after servers"));

        let outcome = tokio::time::timeout(
            Duration::from_secs(10),
            service.run_until(std::future::pending()),
        )
        .await
        .expect("the service comes down without a signal");

        assert!(matches!(outcome, Err(ServeError::Http(_))), "{outcome:?}");
        assert_eq!(
            *steps.lock().expect("steps"),
            ["background work stopped", "after work", "after servers"]
        );
    }

    #[tokio::test]
    async fn health_follows_the_dependencies() {
        use tonic_health::pb::HealthCheckRequest;
        use tonic_health::pb::health_server::Health;

        let reporter = HealthReporter::new();
        let server = tonic_health::server::HealthService::from_health_reporter(reporter.clone());
        let health = GrpcHealth::new(reporter, "test.v1.Service");
        let status = async |service: &str| {
            server
                .check(tonic::Request::new(HealthCheckRequest {
                    service: service.to_owned(),
                }))
                .await
                .map(|reply| reply.into_inner().status)
        };
        let stop = CancellationToken::new();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let follow = tokio::spawn(health.clone().follow(
            Duration::from_millis(10),
            stop.clone(),
            {
                let up = up.clone();
                move || {
                    let redis = up.load(std::sync::atomic::Ordering::SeqCst);
                    async move {
                        Dependencies {
                            postgres: true,
                            redis,
                        }
                    }
                }
            },
        ));
        let serving = ServingStatus::Serving as i32;
        let not_serving = ServingStatus::NotServing as i32;
        let wait_for = async |wanted: i32| {
            for _ in 0..200 {
                if status("test.v1.Service").await.ok() == Some(wanted)
                    && status("").await.ok() == Some(wanted)
                {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            false
        };
        assert!(wait_for(serving).await, "SERVING while both answer");
        up.store(false, std::sync::atomic::Ordering::SeqCst);
        assert!(
            wait_for(not_serving).await,
            "NOT_SERVING once Redis does not"
        );
        stop.cancel();
        follow.await.expect("the loop ends when stopped");
    }
}
