use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use eventflow_domain::SecretsKeyring;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::{Connection, StoreError};

/// Sizes and timeouts of the connection pool.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: usize,
    /// How long to wait for a connection (new or free) before giving up as unavailable.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

/// The PostgreSQL connection pool; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// Seals and opens endpoint signing secrets; None in processes that never
    /// touch them (the gateway), which then get `SecretsKeyMissing` if they try.
    secrets: Option<Arc<SecretsKeyring>>,
}

impl Store {
    /// Builds the pool. Connections are opened lazily, so this succeeds while
    /// PostgreSQL is down; `ping` tells whether it answers.
    pub fn connect(database_url: &str, settings: &PoolSettings) -> Result<Self, StoreError> {
        let mut pg_config =
            tokio_postgres::Config::from_str(database_url).map_err(StoreError::InvalidUrl)?;
        pg_config.connect_timeout(settings.acquire_timeout);
        pg_config.keepalives_idle(Duration::from_secs(30));
        if pg_config.get_application_name().is_none() {
            pg_config.application_name("eventflow");
        }
        if pg_config.get_options().is_none() {
            // Prepared statements keep one generic plan instead of planning
            // every execution afresh. PostgreSQL otherwise prefers custom
            // plans for the partitioned tables (they prune partitions at plan
            // time), and planning across the daily partitions took most of its
            // CPU under the query API's reads; generic plans prune the same
            // partitions when the statement runs.
            pg_config.options("-c plan_cache_mode=force_generic_plan");
        }
        let manager = Manager::from_config(
            pg_config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(settings.max_connections)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(settings.acquire_timeout))
            .create_timeout(Some(settings.acquire_timeout))
            .recycle_timeout(Some(settings.acquire_timeout))
            .build()
            .map_err(|error| StoreError::Unavailable(Box::new(error)))?;
        Ok(Self {
            pool,
            secrets: None,
        })
    }

    /// Returns this store sealing and opening endpoint secrets with `keyring`.
    pub fn with_secrets(mut self, keyring: Arc<SecretsKeyring>) -> Self {
        self.secrets = Some(keyring);
        self
    }

    /// Returns this store with a copy of `keyring`, or `SecretsKeyMissing`
    /// when there is none: for services that cannot work without it.
    pub fn with_required_secrets(
        self,
        keyring: Option<&SecretsKeyring>,
    ) -> Result<Self, StoreError> {
        let keyring = keyring.ok_or(StoreError::SecretsKeyMissing)?;
        Ok(self.with_secrets(Arc::new(keyring.clone())))
    }

    /// The keyring, or `SecretsKeyMissing`.
    pub(crate) fn keyring(&self) -> Result<&SecretsKeyring, StoreError> {
        self.secrets.as_deref().ok_or(StoreError::SecretsKeyMissing)
    }

    /// Checks a connection out of the pool. Crate-private: every statement
    /// the services run lives in this crate.
    pub(crate) async fn connection(&self) -> Result<Connection, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// Checks a connection out and prepares `sql` on it, once per pooled
    /// connection: later calls skip the Parse round trip and planning from
    /// scratch.
    pub(crate) async fn prepared(
        &self,
        sql: &str,
    ) -> Result<(Connection, tokio_postgres::Statement), StoreError> {
        let client = self.connection().await?;
        let statement = client.prepare_cached(sql).await?;
        Ok((client, statement))
    }

    /// Runs `sql` as a [prepared](Self::prepared) statement; its rows.
    pub(crate) async fn query_prepared(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let (client, statement) = self.prepared(sql).await?;
        Ok(client.query(&statement, params).await?)
    }

    /// [`Self::query_prepared`] for at most one row.
    pub(crate) async fn query_opt_prepared(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<tokio_postgres::Row>, StoreError> {
        let (client, statement) = self.prepared(sql).await?;
        Ok(client.query_opt(&statement, params).await?)
    }

    /// [`Self::query_prepared`] for exactly one row.
    pub(crate) async fn query_one_prepared(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<tokio_postgres::Row, StoreError> {
        let (client, statement) = self.prepared(sql).await?;
        Ok(client.query_one(&statement, params).await?)
    }

    /// [`Self::query_prepared`] for a statement returning no rows; the rows it touched.
    pub(crate) async fn execute_prepared(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let (client, statement) = self.prepared(sql).await?;
        Ok(client.execute(&statement, params).await?)
    }

    /// Returns Ok when PostgreSQL answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let client = self.connection().await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// Closes every pooled connection; later calls fail.
    pub fn close(&self) {
        self.pool.close();
    }
}

/// A session-level advisory lock held on a connection taken out of the pool:
/// whoever holds it leads (e.g. runs recovery). It is released when this is
/// dropped (the connection closes) or when the connection dies.
pub struct LeaderLock {
    client: deadpool_postgres::ClientWrapper,
}

impl LeaderLock {
    /// Returns false once the connection holding the lock is gone.
    pub fn is_held(&self) -> bool {
        !self.client.is_closed()
    }
}

impl Store {
    /// Tries to take the advisory lock `key`; None when another session holds it.
    pub async fn try_lead(&self, key: i64) -> Result<Option<LeaderLock>, StoreError> {
        let connection = self.connection().await?;
        let row = connection
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await?;
        let taken: bool = row.get(0);
        // Detached from the pool, the connection closes when the lock is dropped.
        Ok(taken.then(|| LeaderLock {
            client: deadpool_postgres::Object::take(connection),
        }))
    }
}
