//! A service started through its real `Application` (`build`, then
//! `run_until`) on port 0, stopped when dropped: what the gateway, the
//! dispatcher and the query API of the tests have in common.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use eventflow_runtime::serve::ServiceApplication;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::TestDatabase;

/// How long `shutdown` waits for `run_until` to return.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// Sets up what every service needs before `Application::build`: test
/// telemetry and the TLS crypto provider.
pub fn prepare_service() {
    eventflow_runtime::telemetry::init_for_tests();
    eventflow_runtime::tls::install_crypto_provider();
}

/// A running service.
pub struct RunningService {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub client: reqwest::Client,
    stop: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    /// A database the service alone uses, dropped after it.
    _db: Option<TestDatabase>,
}

impl RunningService {
    /// Spawns `run_until` of `app`, a built service, until this is stopped or dropped.
    pub fn run<A>(app: A) -> Self
    where
        A: ServiceApplication<Error = anyhow::Error> + 'static,
    {
        prepare_service();
        let stop = CancellationToken::new();
        let (http_addr, grpc_addr) = (app.http_addr(), app.grpc_addr());
        let task = tokio::spawn(app.run_until(stop.clone().cancelled_owned()));
        Self {
            http_addr,
            grpc_addr,
            client: reqwest::Client::new(),
            stop,
            task: Some(task),
            _db: None,
        }
    }

    /// Keeps `db` until the service is gone.
    pub fn owning(mut self, db: TestDatabase) -> Self {
        self._db = Some(db);
        self
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http_addr)
    }

    /// `http://127.0.0.1:<grpc port>`.
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.send("GET", path).await
    }

    /// Sends a request without a body; `method` may be any token, made up too.
    pub async fn send(&self, method: &str, path: &str) -> reqwest::Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method token");
        self.client
            .request(method, self.url(path))
            .send()
            .await
            .expect("request reaches the service")
    }

    /// Sends the stop signal and returns what `run_until` returned.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        tokio::time::timeout(SHUTDOWN_WAIT, task)
            .await
            .context("run_until did not return within 10 s")?
            .context("run_until panicked")?
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
