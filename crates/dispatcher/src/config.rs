//! Settings of the dispatcher: `defaults.toml` < `eventflow.toml` < `EVENTFLOW_*`.

use std::net::SocketAddr;
use std::time::Duration;

use eventflow_runtime::config::{self, ConfigError};
use serde::Deserialize;

const DEFAULTS: &str = include_str!("../defaults.toml");

/// Every setting of the dispatcher, parsed into its final type at load time.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub database_url: String,
    pub redis_url: String,
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub log: String,
    pub redis_key_prefix: String,
    pub database_pool_size: usize,
    #[serde(with = "config::duration")]
    pub database_timeout: Duration,
    #[serde(with = "config::duration")]
    pub redis_timeout: Duration,
    #[serde(with = "config::duration")]
    pub shutdown_timeout: Duration,
}

impl Config {
    /// Loads the settings from defaults, the config file and the environment.
    pub fn load() -> Result<Self, ConfigError> {
        config::load(DEFAULTS)
    }

    /// Returns the defaults with the two connection URLs given, for tests and `eventflow dev`.
    pub fn with_urls(database_url: &str, redis_url: &str) -> Result<Self, ConfigError> {
        config::load_from(
            DEFAULTS,
            None,
            [
                ("EVENTFLOW_DATABASE_URL".to_owned(), database_url.to_owned()),
                ("EVENTFLOW_REDIS_URL".to_owned(), redis_url.to_owned()),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_only_the_connection_urls() {
        let config = Config::with_urls("postgres://localhost/x", "redis://127.0.0.1:6379").unwrap();
        assert_eq!(config.http_addr.port(), 8082);
        assert_eq!(config.grpc_addr.port(), 50053);
        assert_eq!(config.redis_key_prefix, "ef:");
        assert_eq!(config.shutdown_timeout, Duration::from_secs(20));
    }

    #[test]
    fn a_missing_redis_url_is_named() {
        let env = [(
            "EVENTFLOW_DATABASE_URL".to_owned(),
            "postgres://x".to_owned(),
        )];
        let error = config::load_from::<Config>(DEFAULTS, None, env).unwrap_err();
        assert!(error.to_string().contains("EVENTFLOW_REDIS_URL"), "{error}");
    }

    #[test]
    fn a_malformed_duration_is_named() {
        let env = [
            (
                "EVENTFLOW_DATABASE_URL".to_owned(),
                "postgres://x".to_owned(),
            ),
            ("EVENTFLOW_REDIS_URL".to_owned(), "redis://x".to_owned()),
            ("EVENTFLOW_SHUTDOWN_TIMEOUT".to_owned(), "soon".to_owned()),
        ];
        let error = config::load_from::<Config>(DEFAULTS, None, env).unwrap_err();
        assert!(
            error.to_string().contains("EVENTFLOW_SHUTDOWN_TIMEOUT"),
            "{error}"
        );
    }
}
