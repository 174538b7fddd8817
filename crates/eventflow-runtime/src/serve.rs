//! What each service's HTTP and gRPC servers share: readiness and gRPC
//! health that follow PostgreSQL and Redis, and the end of both servers at
//! shutdown. Which servers, routes and background work a service runs, and
//! in which order it drains them, stay the service's own.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::dev::ServerHandle;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

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

/// Which of a service's dependencies answered a ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dependencies {
    pub postgres: bool,
    pub redis: bool,
}

impl Dependencies {
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
pub struct GrpcHealth {
    reporter: HealthReporter,
    service: &'static str,
}

impl GrpcHealth {
    /// Reports through `reporter` for the gRPC service named `service`
    /// (its `NamedService::NAME`).
    pub fn new(reporter: HealthReporter, service: &'static str) -> Self {
        Self { reporter, service }
    }

    /// Sets both entries to SERVING or NOT_SERVING.
    pub async fn set_serving(&self, serving: bool) {
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
    pub async fn follow<P, F>(self, interval: Duration, stop: CancellationToken, mut ping: P)
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
pub struct HealthChecks {
    health: GrpcHealth,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl HealthChecks {
    /// Reports NOT_SERVING, then checks `ping` every two seconds (the first
    /// check at once) for the gRPC service named `service`.
    pub async fn start<P, F>(reporter: HealthReporter, service: &'static str, ping: P) -> Self
    where
        P: FnMut() -> F + Send + 'static,
        F: Future<Output = Dependencies> + Send + 'static,
    {
        let health = GrpcHealth::new(reporter, service);
        health.set_serving(false).await;
        let stop = CancellationToken::new();
        let task = tokio::spawn(
            health
                .clone()
                .follow(HEALTH_CHECK_INTERVAL, stop.clone(), ping),
        );
        Self { health, stop, task }
    }

    /// Ends the checks, then reports NOT_SERVING: no check can turn it
    /// SERVING again once shutdown has begun.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "the health check loop ended abnormally");
        }
        self.health.set_serving(false).await;
    }
}

/// Runs a server to its end, then cancels `stop`, so that a server stopping
/// on its own (an accept loop failing) brings the whole service down.
pub async fn stop_when_done<T>(stop: CancellationToken, server: impl Future<Output = T>) -> T {
    let outcome = server.await;
    stop.cancel();
    outcome
}

/// How a server ended other than cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
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
pub async fn drain_servers(
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
