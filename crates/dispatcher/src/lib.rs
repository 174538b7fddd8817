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
mod isolation;
mod recorder;
mod recover;
mod retention;

use std::sync::Arc;

use anyhow::Context;
use eventflow_proto::dispatch::v1::dispatch_control_server::DispatchControlServer;
use eventflow_queue::Queue;
use eventflow_runtime::config::{ServiceConfig, ServiceSettings};
use eventflow_runtime::connect::{Connections, open_queue};
use eventflow_runtime::internal_auth::RequireInternalToken;
use eventflow_runtime::serve::{Listeners, Service, ServiceApplication, StopSignal};
use eventflow_store::Store;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use tonic::server::NamedService;
use tonic::service::Routes;

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

impl ServiceConfig for Config {
    const DEFAULTS: &str = config::DEFAULTS;

    fn service(&self) -> &ServiceSettings {
        &self.service
    }
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

/// A dispatcher with its connections made and its listeners bound, not yet serving.
pub struct Application {
    config: Config,
    dispatch: Arc<Dispatch>,
    recorder_task: TaskTracker,
    /// The work loops (stream, retries, recovery, retention), spawned by `run_until`.
    loops: TaskTracker,
    listeners: Listeners,
}

impl ServiceApplication for Application {
    type Config = Config;
    type Error = anyhow::Error;
    const NAME: &str = "dispatcher";

    /// Checks the timeouts, opens PostgreSQL (sealing endpoint secrets) and
    /// Redis, and starts the recorder; serves nothing yet.
    async fn build_on(config: Config, listeners: Listeners) -> anyhow::Result<Self> {
        check_timeouts(&config)?;
        let Connections { store, queue } =
            Connections::open_with_secrets(&config.service, config.secrets_key.as_ref()).await?;
        // A blocking read waits up to 500 ms on top of the command time.
        let read_timeout = config.service.redis_timeout + std::time::Duration::from_secs(1);
        let reader = open_queue(&config.service, 1, read_timeout).await?;
        // The recorder is the first task spawned: every fallible step is above,
        // or inside `build_dispatch` before it starts the recorder.
        let recorder_task = TaskTracker::new();
        let dispatch = Arc::new(build_dispatch(
            &config,
            store,
            queue,
            reader,
            &recorder_task,
        )?);
        Ok(Self {
            config,
            dispatch,
            recorder_task,
            loops: TaskTracker::new(),
            listeners,
        })
    }

    /// Serves until `signal` resolves, then stops taking work and lets the
    /// deliveries in flight finish, reports NOT_SERVING, stops accepting, lets
    /// requests in flight finish and the recorder write what it holds (each
    /// within `shutdown_timeout`), and returns. Returns an error if a server
    /// stopped on its own.
    async fn run_until(self, signal: impl StopSignal) -> anyhow::Result<()> {
        let Self {
            config,
            dispatch,
            recorder_task,
            loops,
            listeners,
        } = self;
        let connections = Connections::of(&dispatch.store, &dispatch.queue);
        let ping = move || connections.ping();
        tracing::info!(consumer = %dispatch.settings.consumer_name, "dispatcher consuming");
        let mut service = Service::new(Self::NAME, listeners, &config.service, ping).grpc(
            DispatchControlServer::<DispatchControlGrpc>::NAME,
            Routes::new(DispatchControlServer::with_interceptor(
                DispatchControlGrpc::new(dispatch.clone()),
                RequireInternalToken::new(config.internal_token.clone()),
            )),
            eventflow_proto::FILE_DESCRIPTOR_SET,
        );
        // `loops` counts the loops from here until they return (what
        // `WorkSteps::stopped_working` reads); the service spawns them.
        service = if config.dry_run {
            service.background(|stop| {
                loops.track_future(dry_run::report(dispatch.store.clone(), stop))
            })
        } else {
            service
                .background(|stop| loops.track_future(dispatch.clone().consume_stream(stop)))
                .background(|stop| loops.track_future(dispatch.clone().deliver_due_retries(stop)))
                .background(|stop| {
                    loops.track_future(recover::run(
                        dispatch.clone(),
                        recovery_settings(&config),
                        stop,
                    ))
                })
                .background(|stop| {
                    loops.track_future(retention::run(
                        dispatch.store.clone(),
                        retention_settings(&config),
                        stop,
                    ))
                })
        };
        loops.close();
        // Entries not finished stay pending and are claimed by another
        // dispatcher after the claim timeout.
        let deliveries = dispatch.clone();
        service
            .after_work("deliveries still in flight", async move {
                deliveries.tasks.close();
                deliveries.tasks.wait().await;
            })
            // The recorder writes what it holds once the last handle is gone.
            .after_servers("delivery results not all recorded", async move {
                drop(dispatch);
                recorder_task.close();
                recorder_task.wait().await;
            })
            .run_until(signal)
            .await
            .map_err(anyhow::Error::from)
    }

    fn listeners(&self) -> &Listeners {
        &self.listeners
    }
}

impl Application {
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
