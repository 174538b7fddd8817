//! Settings of the dispatcher: `defaults.toml` < `eventflow.toml` < `EVENTFLOW_*`.

use std::time::Duration;

use eventflow_domain::{AddressPolicy, RetrySchedule, SecretsKeyring};
use eventflow_runtime::config::{self, ServiceSettings};
use eventflow_runtime::internal_auth::InternalToken;
use serde::Deserialize;

pub(crate) const DEFAULTS: &str = include_str!("../defaults.toml");

/// Every setting of the dispatcher, parsed into its final type at load time.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Addresses, connections, logging and drain, as every service has them.
    #[serde(flatten)]
    pub service: ServiceSettings,
    /// The token `DispatchControl` callers must present; None refuses every call.
    #[serde(default)]
    pub internal_token: Option<InternalToken>,
    /// Opens endpoint signing secrets (`EVENTFLOW_SECRETS_KEY`); required at start.
    #[serde(default)]
    pub secrets_key: Option<SecretsKeyring>,
    pub retry_schedule: RetrySchedule,
    /// Networks deliveries may reach although private, loopback or link-local; the query
    /// API reads the same setting to refuse such endpoint URLs when they are created.
    pub endpoint_allow_nets: AddressPolicy,
    #[serde(with = "config::duration")]
    pub delivery_connect_timeout: Duration,
    #[serde(with = "config::duration")]
    pub delivery_timeout: Duration,
    pub max_response_bytes: usize,
    #[serde(with = "config::duration")]
    pub max_retry_after: Duration,
    #[serde(with = "config::duration")]
    pub claim_timeout: Duration,
    pub read_batch: u64,
    pub max_in_flight: usize,
    pub endpoint_queue_limit: usize,
    #[serde(with = "config::duration")]
    pub endpoint_max_queued_wait: Duration,
    pub circuit_failure_threshold: u32,
    #[serde(with = "config::duration")]
    pub circuit_open_duration: Duration,
    #[serde(with = "config::duration")]
    pub disable_failing_after: Duration,
    #[serde(with = "config::duration")]
    pub endpoint_cache_ttl: Duration,
    #[serde(with = "config::duration")]
    pub retry_poll_interval: Duration,
    pub retry_batch: i64,
    #[serde(with = "config::duration")]
    pub recovery_interval: Duration,
    #[serde(with = "config::duration")]
    pub recovery_grace: Duration,
    #[serde(with = "config::duration")]
    pub recovery_initial_lookback: Duration,
    pub consumer_name: String,
    #[serde(with = "config::duration")]
    pub retention_interval: Duration,
    pub retention_batch: i64,
    #[serde(with = "config::duration")]
    pub retention_batch_pause: Duration,
    /// Deliver nothing, write nothing: report what would be resumed (restore drill).
    pub dry_run: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventflow_runtime::config::ServiceConfig;

    #[test]
    fn defaults_need_only_the_connection_urls() {
        let config = Config::with_urls("postgres://localhost/x", "redis://127.0.0.1:6379").unwrap();
        assert_eq!(config.service.http_addr.port(), 8082);
        assert_eq!(config.service.grpc_addr.port(), 50053);
        assert_eq!(config.service.redis_key_prefix, "ef:");
        assert_eq!(config.service.shutdown_timeout, Duration::from_secs(20));
        assert_eq!(config.retry_schedule, RetrySchedule::default());
        assert!(config.endpoint_allow_nets.allow.is_empty());
        assert!(config.claim_timeout > config.delivery_timeout);
        assert!(config.internal_token.is_none());
    }

    #[test]
    fn the_internal_token_comes_from_the_environment_and_a_short_one_is_named() {
        let mut env = vec![
            (
                "EVENTFLOW_DATABASE_URL".to_owned(),
                "postgres://x".to_owned(),
            ),
            ("EVENTFLOW_REDIS_URL".to_owned(), "redis://x".to_owned()),
            (
                "EVENTFLOW_INTERNAL_TOKEN".to_owned(),
                "0123456789abcdef0123".to_owned(),
            ),
        ];
        let config = config::load_from::<Config>(DEFAULTS, None, env.clone()).unwrap();
        assert_eq!(
            config.internal_token.as_ref().map(InternalToken::expose),
            Some("0123456789abcdef0123")
        );
        assert!(!format!("{config:?}").contains("0123456789abcdef0123"));
        env[2].1 = "short".to_owned();
        let error = config::load_from::<Config>(DEFAULTS, None, env).unwrap_err();
        assert!(
            error.to_string().contains("EVENTFLOW_INTERNAL_TOKEN"),
            "{error}"
        );
    }

    #[test]
    fn the_retry_schedule_and_allow_list_come_from_the_environment() {
        let env = [
            (
                "EVENTFLOW_DATABASE_URL".to_owned(),
                "postgres://x".to_owned(),
            ),
            ("EVENTFLOW_REDIS_URL".to_owned(), "redis://x".to_owned()),
            ("EVENTFLOW_RETRY_SCHEDULE".to_owned(), "0s,1s,2s".to_owned()),
            (
                "EVENTFLOW_ENDPOINT_ALLOW_NETS".to_owned(),
                "127.0.0.0/8,::1/128".to_owned(),
            ),
        ];
        let config = config::load_from::<Config>(DEFAULTS, None, env).unwrap();
        assert_eq!(config.retry_schedule.attempts(), 3);
        assert_eq!(config.endpoint_allow_nets.allow.len(), 2);
    }

    #[test]
    fn a_bad_allow_list_is_named() {
        let env = [
            (
                "EVENTFLOW_DATABASE_URL".to_owned(),
                "postgres://x".to_owned(),
            ),
            ("EVENTFLOW_REDIS_URL".to_owned(), "redis://x".to_owned()),
            (
                "EVENTFLOW_ENDPOINT_ALLOW_NETS".to_owned(),
                "localhost".to_owned(),
            ),
        ];
        let error = config::load_from::<Config>(DEFAULTS, None, env).unwrap_err();
        assert!(
            error.to_string().contains("EVENTFLOW_ENDPOINT_ALLOW_NETS"),
            "{error}"
        );
    }

    #[test]
    fn the_former_allow_list_name_stops_the_start_naming_the_new_one() {
        for value in ["127.0.0.0/8", "localhost"] {
            let env = [
                (
                    "EVENTFLOW_DATABASE_URL".to_owned(),
                    "postgres://x".to_owned(),
                ),
                ("EVENTFLOW_REDIS_URL".to_owned(), "redis://x".to_owned()),
                ("EVENTFLOW_DELIVERY_ALLOW_NETS".to_owned(), value.to_owned()),
            ];
            let error = config::load_from::<Config>(DEFAULTS, None, env).unwrap_err();
            assert_eq!(
                error.to_string(),
                "setting EVENTFLOW_DELIVERY_ALLOW_NETS was renamed: \
                 set EVENTFLOW_ENDPOINT_ALLOW_NETS instead"
            );
        }
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
