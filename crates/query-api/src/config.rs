//! Settings of the query API: `defaults.toml` < `eventflow.toml` < `EVENTFLOW_*`.

use std::time::Duration;

use eventflow_domain::{AddressPolicy, SecretString, SecretsKeyring};
use eventflow_runtime::config::{self, ServiceSettings};
use eventflow_runtime::internal_auth::InternalToken;
use serde::Deserialize;

pub(crate) const DEFAULTS: &str = include_str!("../defaults.toml");

/// Every setting of the query API, parsed into its final type at load time.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Addresses, connections, logging and drain, as every service has them.
    #[serde(flatten)]
    pub service: ServiceSettings,
    /// Scans admitted at once (see `ScanGate`); 0: twice the CPUs.
    pub max_concurrent_scans: usize,
    /// The operator token of the admin routes; None disables them.
    #[serde(default)]
    pub admin_token: Option<SecretString>,
    #[serde(with = "config::duration")]
    pub auth_cache_ttl: Duration,
    pub dispatcher_grpc_url: String,
    /// The token sent with every `DispatchControl` call; equal to the dispatcher's.
    #[serde(default)]
    pub internal_token: Option<InternalToken>,
    /// Seals and opens endpoint signing secrets (`EVENTFLOW_SECRETS_KEY`); required at start.
    #[serde(default)]
    pub secrets_key: Option<SecretsKeyring>,
    #[serde(deserialize_with = "comma_separated")]
    pub cors_allowed_origins: Vec<String>,
    pub default_page_limit: u32,
    pub max_page_limit: u32,
    /// Most endpoints one project may have (creating one more answers 409).
    pub max_endpoints_per_project: usize,
    /// Networks an endpoint URL may name by IP literal (or `localhost`)
    /// although private, loopback or link-local; empty: public addresses only.
    /// The dispatcher reads the same setting for deliveries.
    pub endpoint_allow_nets: AddressPolicy,
}

fn comma_separated<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    let raw = String::deserialize(deserializer)?;
    Ok(raw
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventflow_runtime::config::ServiceConfig;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_need_only_the_connection_urls() {
        let config = Config::with_urls("postgres://localhost/x", "redis://127.0.0.1:6379").unwrap();
        assert_eq!(config.service.http_addr.port(), 8081);
        assert_eq!(config.service.grpc_addr.port(), 50052);
        assert_eq!(config.service.redis_key_prefix, "ef:");
        assert!(config.admin_token.is_none());
        assert!(config.internal_token.is_none());
        assert!(config.endpoint_allow_nets.allow.is_empty());
    }

    #[test]
    fn the_endpoint_allow_list_is_parsed_and_a_bad_entry_is_named() {
        let env_ok = env(&[
            ("EVENTFLOW_DATABASE_URL", "postgres://x"),
            ("EVENTFLOW_REDIS_URL", "redis://x"),
            ("EVENTFLOW_ENDPOINT_ALLOW_NETS", "127.0.0.0/8, ::1"),
        ]);
        let config = config::load_from::<Config>(DEFAULTS, None, env_ok).unwrap();
        assert_eq!(config.endpoint_allow_nets.allow.len(), 2);

        let env_bad = env(&[
            ("EVENTFLOW_DATABASE_URL", "postgres://x"),
            ("EVENTFLOW_REDIS_URL", "redis://x"),
            ("EVENTFLOW_ENDPOINT_ALLOW_NETS", "localhost"),
        ]);
        let error = config::load_from::<Config>(DEFAULTS, None, env_bad).unwrap_err();
        assert!(
            error.to_string().contains("EVENTFLOW_ENDPOINT_ALLOW_NETS"),
            "{error}"
        );
    }

    #[test]
    fn the_admin_token_comes_from_the_environment_and_stays_redacted() {
        let env = env(&[
            ("EVENTFLOW_DATABASE_URL", "postgres://x"),
            ("EVENTFLOW_REDIS_URL", "redis://x"),
            ("EVENTFLOW_ADMIN_TOKEN", "0123-very-secret"),
        ]);
        let config = config::load_from::<Config>(DEFAULTS, None, env).unwrap();
        assert_eq!(
            config.admin_token.as_ref().map(SecretString::expose),
            Some("0123-very-secret")
        );
        assert!(!format!("{config:?}").contains("very-secret"));
    }

    #[test]
    fn a_malformed_address_is_named() {
        let env = env(&[
            ("EVENTFLOW_DATABASE_URL", "postgres://x"),
            ("EVENTFLOW_REDIS_URL", "redis://x"),
            ("EVENTFLOW_GRPC_ADDR", "localhost"),
        ]);
        let error = config::load_from::<Config>(DEFAULTS, None, env).unwrap_err();
        assert!(error.to_string().contains("EVENTFLOW_GRPC_ADDR"), "{error}");
    }
}
