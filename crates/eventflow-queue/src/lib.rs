//! Redis for EventFlow: the event stream the gateway appends to and the
//! dispatcher reads, and the per-project rate limiter.
//!
//! Redis is a buffer, not a store of record: everything written here can be
//! rebuilt from PostgreSQL, so callers treat a Redis failure as "publish
//! later", never as "lost". Every key name comes from [`Keys`], built from a
//! prefix so that tests (and several deployments) can share one server.

mod consumer;
mod error;
mod keys;
mod rate_limit;
mod streams;

use std::time::Duration;

use fred::prelude::*;
use fred::types::scripts::Script;

pub use consumer::{DISPATCH_GROUP, GroupBacklog, ReceivedEntry};
pub use error::QueueError;
pub use keys::Keys;
pub use rate_limit::RateDecision;
pub use streams::StreamEntry;

/// Connection settings for Redis.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    pub redis_url: String,
    /// Prepended to every key, e.g. `ef:`.
    pub key_prefix: String,
    /// Multiplexed connections; each carries many commands at once.
    pub connections: usize,
    /// A command that takes longer fails instead of holding its caller.
    pub command_timeout: Duration,
}

/// Client for the stream and the rate limiter; cheap to clone.
#[derive(Clone)]
pub struct Queue {
    pool: Pool,
    keys: Keys,
    rate_limit_script: std::sync::Arc<Script>,
    append_script: std::sync::Arc<Script>,
}

impl Queue {
    /// Connects the pool. Fails when Redis does not answer within the command
    /// timeout; after that, lost connections are re-established in the background.
    pub async fn connect(settings: &QueueSettings) -> Result<Self, QueueError> {
        let config = Config::from_url(&settings.redis_url).map_err(QueueError::InvalidUrl)?;
        let pool = Builder::from_config(config)
            .with_connection_config(|connection| {
                connection.connection_timeout = settings.command_timeout;
                connection.internal_command_timeout = settings.command_timeout;
                connection.max_command_attempts = 1;
            })
            .with_performance_config(|performance| {
                performance.default_command_timeout = settings.command_timeout;
            })
            .set_policy(ReconnectPolicy::new_constant(0, 250))
            .build_pool(settings.connections.max(1))
            .map_err(QueueError::Redis)?;
        tokio::time::timeout(settings.command_timeout, pool.init())
            .await
            .map_err(|_| QueueError::Timeout)?
            .map_err(QueueError::Redis)?;
        Ok(Self {
            pool,
            keys: Keys::new(&settings.key_prefix),
            rate_limit_script: std::sync::Arc::new(rate_limit::script()),
            append_script: std::sync::Arc::new(streams::append_script()),
        })
    }

    /// The key names this queue uses.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Returns Ok when Redis answers PING.
    pub async fn ping(&self) -> Result<(), QueueError> {
        self.pool.next().ping::<()>(None).await?;
        Ok(())
    }

    /// Closes the connections.
    pub async fn close(&self) {
        let _ = self.pool.quit().await;
    }

    fn client(&self) -> &Client {
        self.pool.next()
    }
}
