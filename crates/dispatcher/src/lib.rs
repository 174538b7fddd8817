//! `dispatcher`: delivers stored events to the endpoints subscribed to them.
//!
//! It reads the event stream as one consumer of a group shared by every
//! replica, fans each event out to the matching endpoints, sends Standard
//! Webhooks requests signed afresh for every attempt, records every attempt
//! and the delivery's state in PostgreSQL before acknowledging the stream
//! entry, and retries on the configured schedule from due times kept in
//! PostgreSQL. Recovery re-publishes committed events the stream lost, so a
//! crash or a Redis wipe loses no acknowledged event (delivery is at least
//! once; duplicates carry the same `webhook-id`).
//!
//! `Application::build` + `run_until` are the only way to run it: `main`,
//! `eventflow dev` and the tests all use them.

mod config;
mod deliver;
mod dispatch;
mod dry_run;
mod endpoints;
mod grpc;
mod http;
mod isolation;
mod recorder;
mod recover;
mod retention;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use anyhow::Context;
use eventflow_proto::dispatch::v1::dispatch_control_server::DispatchControlServer;
use eventflow_queue::{Queue, QueueSettings};
use eventflow_runtime::internal_auth::RequireInternalToken;
use eventflow_runtime::metrics::{Metrics, RequestMetrics, metrics_route};
use eventflow_runtime::serve::{
    Dependencies, HealthChecks, Listeners, drain_servers, stop_when_done,
};
use eventflow_store::{PoolSettings, Store};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::server::NamedService;

pub use crate::config::Config;
use crate::deliver::{ClientSettings, Deliverer, DeliveryClient};
use crate::dispatch::{Dispatch, LoopSettings};
use crate::endpoints::EndpointCache;
use crate::grpc::DispatchControlGrpc;
use crate::isolation::{EndpointGates, IsolationSettings};
use crate::recorder::Recorder;
/// What a recovery step taken by a test can fail with (see [`WorkSteps`]).
#[doc(hidden)]
pub use crate::recover::RecoveryError;
use crate::recover::RecoverySettings;

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

/// Fails start-up when a claim could take over a delivery still in flight.
fn check_timeouts(config: &Config) -> anyhow::Result<()> {
    if config.claim_timeout <= config.delivery_timeout {
        anyhow::bail!(
            "invalid setting EVENTFLOW_CLAIM_TIMEOUT: {:?} must be longer than EVENTFLOW_DELIVERY_TIMEOUT ({:?}), \
             or a slow delivery would be sent twice",
            config.claim_timeout,
            config.delivery_timeout
        );
    }
    Ok(())
}

/// Builds the delivery machinery: client, gates, recorder and loops' shared state.
fn build_dispatch(
    config: &Config,
    store: Store,
    queue: Queue,
    reader: Queue,
    writer: &TaskTracker,
) -> anyhow::Result<Dispatch> {
    let client = DeliveryClient::new(ClientSettings {
        connect_timeout: config.delivery_connect_timeout,
        total_timeout: config.delivery_timeout,
        max_response_bytes: config.max_response_bytes,
        policy: config.endpoint_allow_nets.clone(),
    })
    .context("cannot build the delivery HTTP client")?;
    let gates = EndpointGates::new(IsolationSettings {
        queue_limit: config.endpoint_queue_limit,
        max_queued_wait: config.endpoint_max_queued_wait,
        failure_threshold: config.circuit_failure_threshold,
        open_duration: config.circuit_open_duration,
        max_wait: config.claim_timeout.saturating_sub(config.delivery_timeout) / 2,
    });
    let deliverer = Deliverer::new(
        client,
        gates,
        queue.clone(),
        config.retry_schedule.clone(),
        config.max_retry_after,
    );
    let consumer_name = if config.consumer_name.is_empty() {
        format!("dispatcher-{}", uuid::Uuid::now_v7().simple())
    } else {
        config.consumer_name.clone()
    };
    Ok(Dispatch {
        recorder: Recorder::start(store.clone(), queue.clone(), writer),
        endpoints: EndpointCache::new(store.clone(), config.endpoint_cache_ttl),
        deliverer: Arc::new(deliverer),
        in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
        starting: crate::dispatch::Starting::default(),
        tasks: TaskTracker::new(),
        settings: LoopSettings {
            consumer_name,
            read_batch: config.read_batch,
            claim_timeout: config.claim_timeout,
            retry_poll_interval: config.retry_poll_interval,
            retry_batch: config.retry_batch,
        },
        store,
        queue,
        reader,
    })
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
    dispatch: Arc<Dispatch>,
    recorder_task: TaskTracker,
    /// The work loops (stream, retries, recovery, retention), spawned by `run_until`.
    loops: TaskTracker,
    listeners: Listeners,
}

impl Application {
    /// Connects to PostgreSQL and Redis, checks both answer, and binds both
    /// listeners; serves nothing yet.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        check_timeouts(&config)?;
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
        let reader = Queue::connect(&QueueSettings {
            redis_url: config.service.redis_url.clone(),
            key_prefix: config.service.redis_key_prefix.clone(),
            connections: 1,
            // A blocking read waits up to 500 ms on top of the command time.
            command_timeout: config.service.redis_timeout + std::time::Duration::from_secs(1),
        })
        .await
        .context("cannot reach Redis (EVENTFLOW_REDIS_URL)")?;
        let recorder_task = TaskTracker::new();
        let dispatch = Arc::new(build_dispatch(
            &config,
            store.clone(),
            queue.clone(),
            reader,
            &recorder_task,
        )?);
        let state = Arc::new(AppState {
            store,
            queue,
            metrics: Metrics::install(),
        });

        let listeners = Listeners::bind(config.service.http_addr, config.service.grpc_addr).await?;
        Ok(Self {
            config,
            state,
            dispatch,
            recorder_task,
            loops: TaskTracker::new(),
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

    /// A handle that takes single steps of the work loops, for tests that
    /// show what one step does (and that nothing more is due) instead of
    /// sleeping; not an API.
    #[doc(hidden)]
    pub fn work_steps(&self) -> WorkSteps {
        WorkSteps {
            dispatch: self.dispatch.clone(),
            recovery: recovery_settings(&self.config),
            loops: self.loops.clone(),
        }
    }

    /// Serves until `signal` resolves, then reports NOT_SERVING, stops
    /// accepting, lets requests in flight finish (within `shutdown_timeout`),
    /// and returns. Returns an error if a server stopped on its own.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self {
            config,
            state,
            dispatch,
            recorder_task,
            loops,
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
        let route_table = Arc::new(http::route_table());
        let http_server = HttpServer::new(move || {
            App::new()
                .app_data(http_state.clone())
                .wrap(RequestMetrics)
                .configure(http::routes)
                .service(metrics_route(metrics.clone()))
                .default_service(route_table.fallback())
        })
        .workers(HTTP_WORKERS)
        .keep_alive(eventflow_runtime::serve::HTTP_KEEP_ALIVE)
        .disable_signals()
        .shutdown_timeout(config.service.shutdown_timeout.as_secs())
        .listen(listeners.http)
        .context("cannot serve HTTP")?
        .run();

        let (reporter, health_service) = tonic_health::server::health_reporter();
        let pinged = state.clone();
        let health = HealthChecks::start(
            reporter,
            DispatchControlServer::<DispatchControlGrpc>::NAME,
            move || {
                let state = pinged.clone();
                async move { state.ping_dependencies().await }
            },
        )
        .await;
        let http_handle = http_server.handle();
        let http_task = tokio::spawn(stop_when_done(stop.clone(), http_server));

        let grpc_server = tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(reflection)
            .add_service(DispatchControlServer::with_interceptor(
                DispatchControlGrpc::new(dispatch.clone()),
                RequireInternalToken::new(config.internal_token.clone()),
            ))
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listeners.grpc),
                stop_grpc.clone().cancelled_owned(),
            );
        let grpc_task = tokio::spawn(stop_when_done(stop.clone(), grpc_server));
        let stop_work = CancellationToken::new();
        if config.dry_run {
            loops.spawn(dry_run::report(state.store.clone(), stop_work.clone()));
        } else {
            loops.spawn(dispatch.clone().consume_stream(stop_work.clone()));
            loops.spawn(dispatch.clone().deliver_due_retries(stop_work.clone()));
            loops.spawn(recover::run(
                dispatch.clone(),
                recovery_settings(&config),
                stop_work.clone(),
            ));
            loops.spawn(retention::run(
                state.store.clone(),
                retention_settings(&config),
                stop_work.clone(),
            ));
        }
        loops.close();
        tracing::info!(http_addr = %listeners.http_addr, grpc_addr = %listeners.grpc_addr, consumer = %dispatch.settings.consumer_name, "dispatcher serving");

        tokio::select! {
            () = signal => tracing::info!("shutting down: draining requests in flight"),
            () = stop.cancelled() => tracing::error!("a server stopped on its own, shutting down"),
        }
        // Stop taking work, let deliveries in flight finish and their results
        // be recorded (entries not finished stay pending and are claimed by
        // another dispatcher after the claim timeout).
        stop_work.cancel();
        let drained_work = tokio::time::timeout(config.service.shutdown_timeout, async {
            loops.wait().await;
            dispatch.tasks.close();
            dispatch.tasks.wait().await;
        })
        .await;
        if drained_work.is_err() {
            tracing::warn!("deliveries still in flight after the shutdown timeout");
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
        // The recorder writes what it holds once the last handle is gone.
        drop(dispatch);
        recorder_task.close();
        if tokio::time::timeout(config.service.shutdown_timeout, recorder_task.wait())
            .await
            .is_err()
        {
            tracing::warn!("delivery results not all recorded before the shutdown timeout");
        }
        tracing::info!("dispatcher stopped");
        outcome
    }
}

/// Single steps of a dispatcher's work loops, taken by a test (see
/// [`Application::work_steps`]); the loops themselves take the same steps.
#[doc(hidden)]
#[derive(Clone)]
pub struct WorkSteps {
    dispatch: Arc<Dispatch>,
    recovery: RecoverySettings,
    loops: TaskTracker,
}

impl WorkSteps {
    /// One pass of the due-delivery loop: takes the deliveries due now and
    /// starts them; returns how many.
    pub async fn deliver_due_batch(&self) -> Result<usize, eventflow_store::StoreError> {
        self.dispatch.deliver_due_batch().await
    }

    /// One pass of recovery (as the leader takes it); returns how many
    /// events it re-published.
    pub async fn recover_once(&self) -> Result<usize, RecoveryError> {
        recover::recover_once(&self.dispatch, self.recovery).await
    }

    /// Whether the dispatcher has stopped working: its loops returned and
    /// no delivery is under way, so nothing more can be sent.
    pub fn stopped_working(&self) -> bool {
        self.loops.is_closed() && self.loops.is_empty() && self.dispatch.tasks.is_empty()
    }
}

fn recovery_settings(config: &Config) -> RecoverySettings {
    RecoverySettings {
        interval: config.recovery_interval,
        grace: config.recovery_grace,
        initial_lookback: config.recovery_initial_lookback,
        disable_failing_after: config.disable_failing_after,
    }
}

fn retention_settings(config: &Config) -> retention::RetentionSettings {
    retention::RetentionSettings {
        interval: config.retention_interval,
        batch: config.retention_batch,
        batch_pause: config.retention_batch_pause,
    }
}
