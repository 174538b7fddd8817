//! The ingest gateway started through its real `Application`, on port 0,
//! against a fresh database and Redis prefix.

use std::ops::Deref;

use eventflow_domain::{ProjectId, Scopes};
use eventflow_queue::{Queue, QueueSettings};
use eventflow_store::Store;
use ingest_gateway::{Application, Config};

use crate::{
    RunningService, ServiceApplication, ServiceConfig, TestDatabase, redis_url, unique_redis_prefix,
};

/// A running gateway (its addresses and client through `Deref`) and handles
/// on what it writes to.
pub struct TestGateway {
    service: RunningService,
    pub db: TestDatabase,
    pub store: Store,
    pub queue: Queue,
    pub redis_prefix: String,
}

impl Deref for TestGateway {
    type Target = RunningService;

    fn deref(&self) -> &RunningService {
        &self.service
    }
}

/// Starts a gateway with default settings.
pub async fn spawn_gateway() -> TestGateway {
    spawn_gateway_with(|_| {}).await
}

/// Starts a gateway after `adjust` changed its settings (the database and
/// Redis URLs, prefix and addresses are already set for the test).
pub async fn spawn_gateway_with(adjust: impl FnOnce(&mut Config)) -> TestGateway {
    let db = TestDatabase::create().await;
    let config = gateway_config(db.url());
    spawn_gateway_on(db, config, adjust).await
}

/// The settings a test gateway starts from.
pub fn gateway_config(database_url: &str) -> Config {
    let mut config = Config::with_urls(database_url, &redis_url()).expect("gateway defaults");
    config.service.redis_key_prefix = unique_redis_prefix();
    config.service.http_addr = "127.0.0.1:0".parse().expect("address");
    config.service.grpc_addr = "127.0.0.1:0".parse().expect("address");
    config.service.http_workers = 2;
    config.service.database_pool_size = 4;
    config.service.shutdown_timeout = std::time::Duration::from_secs(5);
    config
}

/// Starts a gateway on an existing database with the given settings.
pub async fn spawn_gateway_on(
    db: TestDatabase,
    mut config: Config,
    adjust: impl FnOnce(&mut Config),
) -> TestGateway {
    crate::prepare_service();
    adjust(&mut config);
    let redis_prefix = config.service.redis_key_prefix.clone();
    let app = Application::build(config).await.expect("gateway starts");
    let service = RunningService::run(app);
    let queue = Queue::connect(&QueueSettings {
        redis_url: redis_url(),
        key_prefix: redis_prefix.clone(),
        connections: 1,
        command_timeout: std::time::Duration::from_secs(2),
    })
    .await
    .expect("test redis");
    TestGateway {
        service,
        store: db.store(),
        db,
        queue,
        redis_prefix,
    }
}

impl TestGateway {
    /// Creates a project and a key with `scopes`; returns the project and the key's plaintext.
    pub async fn create_project_with_key(&self, scopes: &str) -> (ProjectId, String) {
        let project = self
            .store
            .create_project("test", None, None)
            .await
            .expect("project");
        let key = self.create_key(project.id, scopes).await;
        (project.id, key)
    }

    /// Creates a key for an existing project.
    pub async fn create_key(&self, project_id: ProjectId, scopes: &str) -> String {
        let scopes = Scopes::parse_list(scopes).expect("scopes");
        let key = self
            .store
            .create_api_key(project_id, "test", &scopes)
            .await
            .expect("key");
        key.plaintext.expose().to_owned()
    }

    /// Posts `body` as JSON to `/v1/events` with the key.
    pub async fn post_event(&self, key: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/events"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request reaches the gateway")
    }

    /// Posts `{"events": events}` to `/v1/events/batch` with the key.
    pub async fn post_batch(&self, key: &str, events: &[serde_json::Value]) -> reqwest::Response {
        self.client
            .post(self.url("/v1/events/batch"))
            .bearer_auth(key)
            .json(&serde_json::json!({ "events": events }))
            .send()
            .await
            .expect("request reaches the gateway")
    }

    /// Waits until every entry of the event stream has been read and
    /// acknowledged (a dispatcher acknowledges once its deliveries are recorded).
    pub async fn wait_until_stream_drained(&self) {
        crate::eventually(
            "every stream entry to be acknowledged",
            crate::WITHIN,
            || async {
                let backlog = self.queue.dispatch_backlog().await.ok()?;
                (backlog.pending == 0 && backlog.lag.unwrap_or(0) == 0).then_some(())
            },
        )
        .await;
    }

    /// Asks the gateway to stop and waits until it has drained.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.service.shutdown().await
    }
}
