//! PostgreSQL and Redis as a service's settings name them, connected and
//! answering before the service serves: every service opens them here, so each
//! start-up failure names the same setting in every service.

use std::future::Future;
use std::time::Duration;

use eventflow_domain::SecretsKeyring;
use eventflow_queue::{Queue, QueueError, QueueSettings};
use eventflow_store::{PoolSettings, Store, StoreError};

use crate::config::ServiceSettings;
use crate::serve::Dependencies;

/// Why a service could not open its store or queue, named by the setting to look at.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid setting EVENTFLOW_DATABASE_URL")]
    DatabaseUrl(#[source] StoreError),
    #[error("missing setting EVENTFLOW_SECRETS_KEY")]
    SecretsKey(#[source] StoreError),
    #[error("cannot reach PostgreSQL (EVENTFLOW_DATABASE_URL)")]
    Postgres(#[source] StoreError),
    #[error("cannot encrypt endpoint secrets with EVENTFLOW_SECRETS_KEY")]
    Sealing(#[source] StoreError),
    #[error("cannot reach Redis (EVENTFLOW_REDIS_URL)")]
    Redis(#[source] QueueError),
}

/// Whether a service reads endpoint signing secrets, and with which key.
enum EndpointSecrets<'a> {
    NotRead,
    /// Required: a service that reads them refuses to start without it.
    Sealed(Option<&'a SecretsKeyring>),
}

/// A service's store and queue, both answering when opened; cheap to clone.
#[derive(Clone)]
pub struct Connections {
    pub store: Store,
    pub queue: Queue,
}

impl Connections {
    /// Connects to PostgreSQL and Redis and checks that both answer.
    pub async fn open(settings: &ServiceSettings) -> Result<Self, ConnectError> {
        Self::connect(settings, EndpointSecrets::NotRead).await
    }

    /// [`Connections::open`] for a service that reads endpoint signing
    /// secrets: `key` is required, and every plaintext or rotated secret is
    /// sealed with it before the service serves.
    pub async fn open_with_secrets(
        settings: &ServiceSettings,
        key: Option<&SecretsKeyring>,
    ) -> Result<Self, ConnectError> {
        Self::connect(settings, EndpointSecrets::Sealed(key)).await
    }

    async fn connect(
        settings: &ServiceSettings,
        secrets: EndpointSecrets<'_>,
    ) -> Result<Self, ConnectError> {
        let pool = PoolSettings {
            max_connections: settings.database_pool_size,
            acquire_timeout: settings.database_timeout,
        };
        let store =
            Store::connect(&settings.database_url, &pool).map_err(ConnectError::DatabaseUrl)?;
        let (store, seals) = match secrets {
            EndpointSecrets::NotRead => (store, false),
            EndpointSecrets::Sealed(key) => (
                store
                    .with_required_secrets(key)
                    .map_err(ConnectError::SecretsKey)?,
                true,
            ),
        };
        store.ping().await.map_err(ConnectError::Postgres)?;
        if seals {
            store
                .seal_endpoint_secrets()
                .await
                .map_err(ConnectError::Sealing)?;
        }
        let queue = open_queue(settings, 2, settings.redis_timeout).await?;
        Ok(Self { store, queue })
    }

    /// The store and queue a service already opened (with [`Connections::open`]).
    pub fn of(store: &Store, queue: &Queue) -> Self {
        Self {
            store: store.clone(),
            queue: queue.clone(),
        }
    }

    /// Pings both at once: what `/readyz` and gRPC health report.
    pub fn ping(&self) -> impl Future<Output = Dependencies> + Send + use<> {
        let (store, queue) = (self.store.clone(), self.queue.clone());
        async move { Dependencies::check(store.ping(), queue.ping()).await }
    }
}

/// Connects `connections` multiplexed connections to Redis, each command
/// bounded by `command_timeout`, and checks that Redis answers.
pub async fn open_queue(
    settings: &ServiceSettings,
    connections: usize,
    command_timeout: Duration,
) -> Result<Queue, ConnectError> {
    let queue = Queue::connect(&QueueSettings {
        redis_url: settings.redis_url.clone(),
        key_prefix: settings.redis_key_prefix.clone(),
        connections,
        command_timeout,
    })
    .await
    .map_err(ConnectError::Redis)?;
    queue.ping().await.map_err(ConnectError::Redis)?;
    Ok(queue)
}
