//! The dispatcher started through its real `Application`, on port 0, against
//! a gateway's database and Redis prefix, with settings fit for tests: a
//! short retry schedule, loopback deliveries allowed, quick recovery.

use std::ops::Deref;
use std::time::Duration;

use crate::{
    RunningService, ServiceApplication, ServiceConfig, TestDatabase, TestGateway, redis_url,
};
use dispatcher::{Application, Config, WorkSteps};
use eventflow_domain::{AddressPolicy, EndpointUrl, ProjectId, RetrySchedule};
use eventflow_runtime::internal_auth::InternalToken;
use eventflow_store::{CreatedEndpoint, NewEndpoint};

/// The dispatcher's settings, for tests of crates that do not depend on it.
pub use dispatcher::Config as DispatcherConfig;

/// The internal token every test dispatcher and query API share.
pub const TEST_INTERNAL_TOKEN: &str = "test-internal-token-0123456789";

/// [`TEST_INTERNAL_TOKEN`] as the settings hold it.
pub fn test_internal_token() -> InternalToken {
    InternalToken::new(TEST_INTERNAL_TOKEN).expect("a valid token")
}

/// A running dispatcher (its addresses and client through `Deref`), and the
/// steps of its work loops for a test to take.
pub struct TestDispatcher {
    service: RunningService,
    pub steps: WorkSteps,
}

impl Deref for TestDispatcher {
    type Target = RunningService;

    fn deref(&self) -> &RunningService {
        &self.service
    }
}

impl TestDispatcher {
    /// Keeps `db` until the dispatcher is gone.
    pub fn owning(mut self, db: TestDatabase) -> Self {
        self.service = self.service.owning(db);
        self
    }

    /// Sends the stop signal and returns what `run_until` returned.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.service.shutdown().await
    }
}

/// A due-delivery poll longer than any test: a dispatcher started with it
/// takes due deliveries once at start, then only when the test takes the
/// step (`TestDispatcher::steps`), so a test can show that nothing is due.
pub const STEPPED_RETRY_POLL: Duration = Duration::from_secs(3600);

/// Test settings for a dispatcher on `database_url` and `redis_prefix`.
pub fn dispatcher_config(database_url: &str, redis_prefix: &str) -> Config {
    let mut config = Config::with_urls(database_url, &redis_url()).expect("dispatcher defaults");
    config.service.redis_key_prefix = redis_prefix.to_owned();
    config.service.http_addr = "127.0.0.1:0".parse().expect("address");
    config.service.grpc_addr = "127.0.0.1:0".parse().expect("address");
    config.internal_token = Some(test_internal_token());
    config.secrets_key = Some(crate::test_secrets_keyring());
    config.service.database_pool_size = 4;
    config.service.shutdown_timeout = Duration::from_secs(5);
    config.retry_schedule = RetrySchedule::parse("0s,200ms,400ms").expect("schedule");
    config.endpoint_allow_nets =
        AddressPolicy::parse_allow_list("127.0.0.0/8,::1/128").expect("allow list");
    config.delivery_timeout = Duration::from_secs(2);
    config.claim_timeout = Duration::from_secs(3);
    config.retry_poll_interval = Duration::from_millis(50);
    config.recovery_interval = Duration::from_millis(200);
    config.recovery_grace = Duration::from_millis(500);
    config.endpoint_cache_ttl = Duration::from_millis(500);
    config
}

/// Starts a dispatcher with `config`.
pub async fn spawn_dispatcher(config: Config) -> TestDispatcher {
    crate::prepare_service();
    let app = Application::build(config).await.expect("dispatcher starts");
    let steps = app.work_steps();
    let service = RunningService::run(app);
    TestDispatcher { service, steps }
}

impl TestGateway {
    /// Test settings for a dispatcher sharing this gateway's database and Redis prefix.
    pub fn dispatcher_config(&self) -> Config {
        dispatcher_config(self.db.url(), &self.redis_prefix)
    }

    /// Starts a dispatcher next to this gateway, after `adjust` changed its settings.
    pub async fn spawn_dispatcher_with(&self, adjust: impl FnOnce(&mut Config)) -> TestDispatcher {
        let mut config = self.dispatcher_config();
        adjust(&mut config);
        spawn_dispatcher(config).await
    }

    /// Starts a dispatcher next to this gateway with the test settings.
    pub async fn spawn_dispatcher(&self) -> TestDispatcher {
        self.spawn_dispatcher_with(|_| {}).await
    }

    /// Starts a dispatcher next to this gateway whose due deliveries are
    /// taken only when the test takes the step (see [`STEPPED_RETRY_POLL`]).
    pub async fn spawn_stepped_dispatcher(&self) -> TestDispatcher {
        self.spawn_dispatcher_with(|config| config.retry_poll_interval = STEPPED_RETRY_POLL)
            .await
    }

    /// Creates an endpoint of the project delivering to `url` for `event_types`.
    pub async fn create_endpoint(
        &self,
        project_id: ProjectId,
        url: &str,
        event_types: &[&str],
    ) -> CreatedEndpoint {
        self.store
            .create_endpoint(NewEndpoint {
                project_id,
                url: EndpointUrl::parse(url).expect("endpoint URL"),
                description: String::new(),
                event_types: event_types.iter().map(|t| (*t).to_owned()).collect(),
            })
            .await
            .expect("endpoint")
    }
}
