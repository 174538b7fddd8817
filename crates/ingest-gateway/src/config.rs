//! Settings of the ingest gateway: `defaults.toml` < `eventflow.toml` < `EVENTFLOW_*`.

use std::time::Duration;

use eventflow_runtime::config::{self, ServiceSettings};
use serde::Deserialize;

pub(crate) const DEFAULTS: &str = include_str!("../defaults.toml");

/// Every setting of the gateway, parsed into its final type at load time.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Addresses, connections, logging and drain, as every service has them.
    #[serde(flatten)]
    pub service: ServiceSettings,
    pub max_event_bytes: usize,
    pub max_payload_depth: usize,
    pub max_batch_bytes: usize,
    pub max_batch_events: usize,
    pub default_rate_limit_per_second: u32,
    pub default_rate_limit_burst: u32,
    #[serde(with = "config::duration")]
    pub auth_cache_ttl: Duration,
    #[serde(with = "config::duration")]
    pub idempotency_retention: Duration,
    pub group_commit_writers: usize,
    pub group_commit_max_events: usize,
    #[serde(with = "config::duration")]
    pub outbox_relay_interval: Duration,
    pub partition_days_ahead: i32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventflow_runtime::config::ServiceConfig;

    #[test]
    fn defaults_need_only_the_connection_urls() {
        let config = Config::with_urls("postgres://localhost/x", "redis://127.0.0.1:6379").unwrap();
        assert_eq!(config.service.http_addr.port(), 8080);
        assert_eq!(config.service.grpc_addr.port(), 50051);
        assert_eq!(config.max_event_bytes, 256 * 1024);
        assert_eq!(config.max_payload_depth, 64);
        assert_eq!(config.auth_cache_ttl, Duration::from_secs(5));
    }

    #[test]
    fn a_missing_database_url_is_named() {
        let error = config::load_from::<Config>(DEFAULTS, None, Vec::new()).unwrap_err();
        assert!(
            error.to_string().contains("EVENTFLOW_DATABASE_URL"),
            "{error}"
        );
    }

    #[test]
    fn a_malformed_address_is_named() {
        let env = [
            (
                "EVENTFLOW_DATABASE_URL".to_owned(),
                "postgres://x".to_owned(),
            ),
            ("EVENTFLOW_REDIS_URL".to_owned(), "redis://x".to_owned()),
            (
                "EVENTFLOW_HTTP_ADDR".to_owned(),
                "not an address".to_owned(),
            ),
        ];
        let error = config::load_from::<Config>(DEFAULTS, None, env).unwrap_err();
        assert!(error.to_string().contains("EVENTFLOW_HTTP_ADDR"), "{error}");
    }
}
