//! Configuration loading shared by every service.
//!
//! Layers, lowest first: the service's embedded `defaults.toml`, then a config file (the path in
//! `EVENTFLOW_CONFIG`, which must exist when set, else `./eventflow.toml` when present), then
//! `EVENTFLOW_*` environment variables. Keys are flat and equal the lower-cased variable name
//! without its prefix (`http_addr` ↔ `EVENTFLOW_HTTP_ADDR`), so every error names the setting
//! as an operator would set it. Every service's `Config` flattens [`ServiceSettings`], the
//! settings all three share, and adds its own; the services own their validation beyond
//! parsing, this module only layers, parses and names.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::error::Kind;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::de::DeserializeOwned;

const ENV_PREFIX: &str = "EVENTFLOW_";
const CONFIG_FILE_VAR: &str = "EVENTFLOW_CONFIG";
const DEFAULT_CONFIG_FILE: &str = "eventflow.toml";

/// Settings that were renamed, as (old key, new key). Set under its old name, a setting stops
/// the start-up with an error naming the new one, rather than being silently ignored.
const RENAMED_SETTINGS: &[(&str, &str)] = &[
    // One allow-list for the query API (endpoint URLs) and the dispatcher (deliveries).
    ("delivery_allow_nets", "endpoint_allow_nets"),
];

/// A configuration that cannot be loaded; its `Display` is one line naming the setting.
///
/// It keeps no `source()`: figment's own message is multi-line and names internal key paths,
/// and the point of this type is the single line an operator reads when the service stops.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required setting has no value in any layer.
    #[error("missing setting {setting}")]
    Missing {
        /// The environment variable that would set it, e.g. `EVENTFLOW_DATABASE_URL`.
        setting: String,
    },
    /// A setting has a value that does not parse into its type.
    #[error("invalid setting {setting}: {reason}")]
    Invalid {
        /// The environment variable that would set it, e.g. `EVENTFLOW_HTTP_ADDR`.
        setting: String,
        /// Why the value was refused.
        reason: String,
    },
    /// `EVENTFLOW_CONFIG` names a file that does not exist.
    #[error("config file {} named by EVENTFLOW_CONFIG does not exist", path.display())]
    FileNotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// A setting is set under a name it no longer has.
    #[error("setting {old} was renamed: set {new} instead")]
    Renamed {
        /// The former variable, e.g. `EVENTFLOW_DELIVERY_ALLOW_NETS`.
        old: String,
        /// The variable to set instead.
        new: String,
    },
    /// A layer could not be read at all, e.g. a config file that is not valid TOML.
    #[error("unreadable configuration: {reason}")]
    Unreadable {
        /// What failed and where.
        reason: String,
    },
}

impl ConfigError {
    fn from_figment(error: figment::Error) -> Self {
        // figment chains every error it met; the first one is enough to stop start-up.
        let setting_name =
            |path: &[String]| format!("{ENV_PREFIX}{}", path.join("_").to_uppercase());
        match &error.kind {
            Kind::MissingField(field) => {
                let mut path = error.path.clone();
                path.push(field.to_string());
                Self::Missing {
                    setting: setting_name(&path),
                }
            }
            kind if error.path.is_empty() => {
                let origin = error
                    .metadata
                    .as_ref()
                    .map_or_else(String::new, |metadata| match &metadata.source {
                        Some(source) => format!(" in {} {source}", metadata.name),
                        None => format!(" in {}", metadata.name),
                    });
                Self::Unreadable {
                    reason: one_line(&format!("{kind}{origin}")),
                }
            }
            kind => Self::Invalid {
                setting: setting_name(&error.path),
                reason: one_line(&kind.to_string()),
            },
        }
    }
}

/// The settings every service has: where it listens, what it connects to, how it logs and
/// how long it drains. A service's `Config` holds them as a `#[serde(flatten)]` field, so the
/// keys stay flat (`EVENTFLOW_HTTP_ADDR`, not `EVENTFLOW_SERVICE_HTTP_ADDR`); each service's
/// `defaults.toml` gives their defaults (the ports differ).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct ServiceSettings {
    /// PostgreSQL connection URL (`EVENTFLOW_DATABASE_URL`); required.
    pub database_url: String,
    /// Redis connection URL (`EVENTFLOW_REDIS_URL`); required.
    pub redis_url: String,
    /// Address of the HTTP listener (health, metrics and the service's routes).
    pub http_addr: SocketAddr,
    /// Address of the gRPC listener.
    pub grpc_addr: SocketAddr,
    /// The `tracing` filter, e.g. `info,ingest_gateway=debug`.
    pub log: String,
    /// Prefix of every Redis key, so deployments can share one Redis.
    pub redis_key_prefix: String,
    /// Most PostgreSQL connections this process opens.
    pub database_pool_size: usize,
    /// How long a database connection or statement may take.
    #[serde(with = "duration")]
    pub database_timeout: Duration,
    /// How long a Redis command may take.
    #[serde(with = "duration")]
    pub redis_timeout: Duration,
    /// How long a stopping service drains requests and background work.
    #[serde(with = "duration")]
    pub shutdown_timeout: Duration,
    /// HTTP worker threads; 0 means one per CPU core (`serve::Service` resolves it).
    pub http_workers: usize,
}

/// A service's settings: its own over the [`ServiceSettings`] every service
/// has (flattened in), with its `defaults.toml` as the bottom layer.
pub trait ServiceConfig: DeserializeOwned {
    /// The service's `defaults.toml`, embedded in its binary.
    const DEFAULTS: &'static str;

    fn service(&self) -> &ServiceSettings;

    /// Loads the settings from defaults, the config file and the environment.
    fn load() -> Result<Self, ConfigError> {
        load(Self::DEFAULTS)
    }

    /// The defaults with the two connection URLs given, for tests and `eventflow dev`.
    fn with_urls(database_url: &str, redis_url: &str) -> Result<Self, ConfigError> {
        with_urls(Self::DEFAULTS, database_url, redis_url)
    }
}

/// Joins a possibly multi-line message (TOML parse errors draw carets) into one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Loads `T` from `defaults_toml` < config file < `EVENTFLOW_*` variables of this process.
///
/// `T` is a service's `Config`, which flattens [`ServiceSettings`]. The file is the one named
/// by `EVENTFLOW_CONFIG` (which must exist), else `./eventflow.toml` when present. Services
/// call this once in `main`; nothing else reads the environment.
pub fn load<T: DeserializeOwned>(defaults_toml: &str) -> Result<T, ConfigError> {
    // `vars()` panics on any non-UTF-8 variable, even one that is not ours; skip those instead.
    let env = std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)));
    load_from(defaults_toml, Some(Path::new(DEFAULT_CONFIG_FILE)), env)
}

/// Loads `T` as [`load`] does, with the fallback file and the environment passed in.
///
/// If `env` holds `EVENTFLOW_CONFIG`, that file must exist and `file` is not read. Otherwise
/// `file` is layered when it exists and skipped when it does not. Empty variables count as
/// unset, as `FOO=` in a compose file usually means.
pub fn load_from<T: DeserializeOwned>(
    defaults_toml: &str,
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    let env = RawEnv::prefixed(env);
    let file = match &env.config_file {
        Some(path) if path.is_file() => Some(path.clone()),
        Some(path) => return Err(ConfigError::FileNotFound { path: path.clone() }),
        None => file.filter(|path| path.is_file()).map(Path::to_path_buf),
    };
    let mut figment = Figment::from(Toml::string(defaults_toml));
    if let Some(path) = file {
        figment = figment.merge(Toml::file_exact(path));
    }
    extract(figment.merge(env))
}

/// Loads `T` from `defaults_toml` alone: no file, no environment. Tests build configs from it.
pub fn defaults<T: DeserializeOwned>(defaults_toml: &str) -> Result<T, ConfigError> {
    extract(Figment::from(Toml::string(defaults_toml)))
}

/// Loads `T` from `defaults_toml` with only the two connection URLs set: no file, no other
/// variable. Tests and `eventflow dev` start services from it.
pub fn with_urls<T: DeserializeOwned>(
    defaults_toml: &str,
    database_url: &str,
    redis_url: &str,
) -> Result<T, ConfigError> {
    load_from(
        defaults_toml,
        None,
        [
            ("EVENTFLOW_DATABASE_URL".to_owned(), database_url.to_owned()),
            ("EVENTFLOW_REDIS_URL".to_owned(), redis_url.to_owned()),
        ],
    )
}

/// Extracts a service config from its layers.
///
/// serde's `flatten` buffers the flattened fields before parsing them, which loses both
/// figment's key path (errors would not name the variable) and its lossy parsing (a number
/// from the environment would stay a string). So [`ServiceSettings`] is parsed first on its
/// own, with both, and merged back as typed values that the flattened parse cannot refuse.
fn extract<T: DeserializeOwned>(figment: Figment) -> Result<T, ConfigError> {
    let variable = |key: &str| format!("{ENV_PREFIX}{}", key.to_uppercase());
    if let Some((old, new)) = RENAMED_SETTINGS
        .iter()
        .find(|(old, _)| figment.contains(old))
    {
        return Err(ConfigError::Renamed {
            old: variable(old),
            new: variable(new),
        });
    }
    // Lossy: "8080" becomes a u16 and "true" a bool where the field asks for one, while
    // "0123" stays the string "0123" for a String field.
    let service: ServiceSettings = figment.extract_lossy().map_err(ConfigError::from_figment)?;
    figment
        .merge(Serialized::defaults(service))
        .extract_lossy()
        .map_err(ConfigError::from_figment)
}

/// `EVENTFLOW_*` variables as plain strings.
///
/// figment's own `Env` provider parses values as TOML-ish literals, turning `0123` into the
/// number 123; this one hands every value over as a string and lets `extract_lossy` convert
/// only where the target type asks for a number or a bool.
struct RawEnv {
    vars: Dict,
    config_file: Option<PathBuf>,
}

impl RawEnv {
    fn prefixed(env: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut vars = Dict::new();
        let mut config_file = None;
        for (key, value) in env {
            if value.is_empty() {
                continue;
            }
            if key == CONFIG_FILE_VAR {
                config_file = Some(PathBuf::from(value));
            } else if let Some(name) = key.strip_prefix(ENV_PREFIX) {
                vars.insert(name.to_lowercase(), Value::from(value));
            }
        }
        Self { vars, config_file }
    }
}

impl Provider for RawEnv {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable")
            .interpolater(|_profile, keys| format!("{ENV_PREFIX}{}", keys.join("_").to_uppercase()))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.vars.clone()))
    }
}

/// Serde helpers for a `Duration` field written as `15s`:
/// `#[serde(with = "eventflow_runtime::config::duration")]`.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    use eventflow_domain::{format_duration, parse_duration};

    /// Serializes the duration as a string such as `15s`.
    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(*duration))
    }

    /// Deserializes a string such as `250ms`, `15s`, `1.5s`, `5m`, `2h` or `1d` (the grammar
    /// of [`eventflow_domain::parse_duration`]).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let raw = String::deserialize(deserializer)?;
        parse_duration(&raw).map_err(D::Error::custom)
    }
}

/// Serde helpers for a `Vec<Duration>` field written as `0s,1s,2s` (the form an environment
/// variable can carry) or as a TOML array of such strings:
/// `#[serde(with = "eventflow_runtime::config::duration_list")]`.
pub mod duration_list {
    use std::fmt;
    use std::time::Duration;

    use eventflow_domain::{format_duration, parse_duration};
    use serde::de::{Error as _, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    /// Serializes the durations as one comma-separated string.
    pub fn serialize<S: Serializer>(
        durations: &[Duration],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let joined = durations
            .iter()
            .map(|duration| format_duration(*duration))
            .collect::<Vec<_>>()
            .join(",");
        serializer.serialize_str(&joined)
    }

    /// Deserializes `0s,1s,2s` or `["0s", "1s", "2s"]`; an empty string is an empty list.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Duration>, D::Error> {
        deserializer.deserialize_any(DurationListVisitor)
    }

    struct DurationListVisitor;

    impl<'de> Visitor<'de> for DurationListVisitor {
        type Value = Vec<Duration>;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("comma-separated durations such as 0s,1s,2s")
        }

        fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<Self::Value, E> {
            if raw.trim().is_empty() {
                return Ok(Vec::new());
            }
            raw.split(',')
                .map(|item| parse_duration(item).map_err(E::custom))
                .collect()
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut durations = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                durations.push(parse_duration(&item).map_err(A::Error::custom)?);
            }
            Ok(durations)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared settings but the two URLs, as a service's `defaults.toml` gives them.
    const SERVICE_DEFAULTS: &str = r#"
        http_addr = "0.0.0.0:8080"
        grpc_addr = "0.0.0.0:50051"
        log = "info"
        redis_key_prefix = "ef:"
        database_pool_size = 16
        database_timeout = "5s"
        redis_timeout = "1s"
        shutdown_timeout = "20s"
        http_workers = 0
    "#;

    /// A service's defaults: its own settings, and URLs so tests need not set them.
    fn defaults_toml() -> String {
        format!(
            r#"{SERVICE_DEFAULTS}
            database_url = "postgres://localhost/eventflow"
            redis_url = "redis://localhost"
            drain_timeout = "15s"
            retry_schedule = "0s,5s,5m"
            tls = false
            batch = 100
            "#
        )
    }

    /// A service config as the services write theirs: the shared settings flattened.
    #[derive(Debug, serde::Deserialize)]
    struct TestConfig {
        #[serde(flatten)]
        service: ServiceSettings,
        #[serde(with = "duration")]
        drain_timeout: Duration,
        #[serde(with = "duration_list")]
        retry_schedule: Vec<Duration>,
        tls: bool,
        batch: u32,
        nickname: Option<String>,
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    /// A file in a fresh temporary directory, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, contents: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("eventflow-runtime-{}-{name}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("eventflow.toml");
            std::fs::write(&path, contents).unwrap();
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    #[test]
    fn defaults_alone_give_a_complete_config() {
        let config: TestConfig = defaults(&defaults_toml()).unwrap();

        assert_eq!(config.service.http_addr, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(config.drain_timeout, Duration::from_secs(15));
        assert_eq!(
            config.retry_schedule,
            [0, 5, 300].map(Duration::from_secs).to_vec()
        );
        assert_eq!(config.service.database_pool_size, 16);
        assert_eq!(config.batch, 100);
        assert_eq!(config.nickname, None);
        assert!(!config.tls);
    }

    #[test]
    fn a_config_file_overrides_the_defaults() {
        let file = TempFile::new(
            "file-overrides",
            "log = \"debug\"\nhttp_addr = \"127.0.0.1:9000\"\n",
        );

        let config: TestConfig = load_from(&defaults_toml(), Some(&file.0), Vec::new()).unwrap();

        assert_eq!(config.service.log, "debug");
        assert_eq!(config.service.http_addr, "127.0.0.1:9000".parse().unwrap());
    }

    #[test]
    fn a_missing_fallback_file_is_skipped() {
        let missing = Path::new("/nonexistent/eventflow.toml");

        let config: TestConfig = load_from(&defaults_toml(), Some(missing), Vec::new()).unwrap();

        assert_eq!(config.service.log, "info");
    }

    #[test]
    fn environment_variables_override_the_file() {
        let file = TempFile::new("env-overrides", "log = \"debug\"\n");
        let env = env(&[
            ("EVENTFLOW_LOG", "warn,ingest_gateway=debug"),
            ("EVENTFLOW_HTTP_ADDR", "127.0.0.1:0"),
            ("EVENTFLOW_RETRY_SCHEDULE", "0s, 1s,2s"),
            ("EVENTFLOW_DRAIN_TIMEOUT", "250ms"),
            ("EVENTFLOW_TLS", "true"),
            ("OTHER_LOG", "error"),
        ]);

        let config: TestConfig = load_from(&defaults_toml(), Some(&file.0), env).unwrap();

        assert_eq!(config.service.log, "warn,ingest_gateway=debug");
        assert_eq!(config.service.http_addr, "127.0.0.1:0".parse().unwrap());
        assert_eq!(
            config.retry_schedule,
            [0, 1, 2].map(Duration::from_secs).to_vec()
        );
        assert_eq!(config.drain_timeout, Duration::from_millis(250));
        assert!(config.tls);
    }

    #[test]
    fn the_file_named_by_eventflow_config_replaces_the_fallback() {
        let named = TempFile::new("named-file", "log = \"trace\"\n");
        let fallback = TempFile::new("fallback-file", "log = \"debug\"\n");
        let env = vec![("EVENTFLOW_CONFIG".to_owned(), named.0.display().to_string())];

        let config: TestConfig = load_from(&defaults_toml(), Some(&fallback.0), env).unwrap();

        assert_eq!(config.service.log, "trace");
    }

    #[test]
    fn a_missing_file_named_by_eventflow_config_is_an_error() {
        let env = env(&[("EVENTFLOW_CONFIG", "/nonexistent/eventflow.toml")]);

        let error = load_from::<TestConfig>(&defaults_toml(), None, env).unwrap_err();

        assert_eq!(
            error.to_string(),
            "config file /nonexistent/eventflow.toml named by EVENTFLOW_CONFIG does not exist"
        );
    }

    #[test]
    fn a_bad_value_names_the_environment_variable() {
        let env = env(&[("EVENTFLOW_HTTP_ADDR", "not-an-address")]);

        let error = load_from::<TestConfig>(&defaults_toml(), None, env).unwrap_err();

        assert_eq!(
            error.to_string(),
            "invalid setting EVENTFLOW_HTTP_ADDR: invalid socket address syntax"
        );
    }

    #[test]
    fn a_bad_duration_names_the_environment_variable() {
        let env = env(&[("EVENTFLOW_RETRY_SCHEDULE", "0s,5x")]);

        let error = load_from::<TestConfig>(&defaults_toml(), None, env).unwrap_err();

        let message = error.to_string();
        assert!(
            message
                .starts_with("invalid setting EVENTFLOW_RETRY_SCHEDULE: invalid duration \"5x\""),
            "{message}"
        );
        assert!(!message.contains('\n'));
    }

    #[test]
    fn a_missing_required_setting_is_named() {
        let without_urls = format!("{SERVICE_DEFAULTS}\nredis_url = \"redis://x\"");

        let error = load_from::<ServiceSettings>(&without_urls, None, Vec::new()).unwrap_err();

        assert_eq!(error.to_string(), "missing setting EVENTFLOW_DATABASE_URL");
    }

    #[test]
    fn numbers_from_the_environment_parse_in_shared_and_own_settings() {
        // The shared ones pass through serde's flatten, which alone would keep "7" a string.
        let env = env(&[
            ("EVENTFLOW_DATABASE_POOL_SIZE", "7"),
            ("EVENTFLOW_REDIS_TIMEOUT", "1.5s"),
            ("EVENTFLOW_BATCH", "42"),
            ("EVENTFLOW_NICKNAME", "0042"),
        ]);

        let config: TestConfig = load_from(&defaults_toml(), None, env).unwrap();

        assert_eq!(config.service.database_pool_size, 7);
        assert_eq!(config.service.redis_timeout, Duration::from_millis(1_500));
        assert_eq!(config.batch, 42);
        assert_eq!(config.nickname.as_deref(), Some("0042"));
    }

    #[test]
    fn bad_shared_and_own_settings_are_named() {
        let cases = [
            ("EVENTFLOW_DATABASE_POOL_SIZE", "many"),
            ("EVENTFLOW_GRPC_ADDR", "localhost"),
            ("EVENTFLOW_SHUTDOWN_TIMEOUT", "soon"),
            ("EVENTFLOW_BATCH", "-1"),
            ("EVENTFLOW_DRAIN_TIMEOUT", "5"),
        ];
        for (name, value) in cases {
            let error =
                load_from::<TestConfig>(&defaults_toml(), None, env(&[(name, value)])).unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("invalid setting {name}: ")),
                "{name}: {error}"
            );
        }
    }

    #[test]
    fn an_unparsable_config_file_is_one_line_naming_the_file() {
        let file = TempFile::new("unparsable", "log = \n");

        let error =
            load_from::<TestConfig>(&defaults_toml(), Some(&file.0), Vec::new()).unwrap_err();

        let message = error.to_string();
        assert!(
            message.starts_with("unreadable configuration: "),
            "{message}"
        );
        assert!(message.contains(&file.0.display().to_string()), "{message}");
        assert!(!message.contains('\n'));
    }

    #[test]
    fn leading_zeros_stay_in_a_string_setting() {
        let env = env(&[
            ("EVENTFLOW_LOG", "0123"),
            ("EVENTFLOW_DATABASE_URL", "0123"),
        ]);

        let config: TestConfig = load_from(&defaults_toml(), None, env).unwrap();

        assert_eq!(config.service.log, "0123");
        assert_eq!(config.service.database_url, "0123");
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let env = env(&[("EVENTFLOW_LOG", ""), ("EVENTFLOW_CONFIG", "")]);

        let config: TestConfig = load_from(&defaults_toml(), None, env).unwrap();

        assert_eq!(config.service.log, "info");
    }

    #[test]
    fn a_renamed_setting_stops_the_start_naming_the_new_one() {
        let env = env(&[("EVENTFLOW_DELIVERY_ALLOW_NETS", "127.0.0.0/8")]);
        let error = load_from::<TestConfig>(&defaults_toml(), None, env).unwrap_err();
        assert_eq!(
            error.to_string(),
            "setting EVENTFLOW_DELIVERY_ALLOW_NETS was renamed: set EVENTFLOW_ENDPOINT_ALLOW_NETS instead"
        );

        let file = TempFile::new("renamed", "delivery_allow_nets = \"\"\n");
        let error =
            load_from::<TestConfig>(&defaults_toml(), Some(&file.0), Vec::new()).unwrap_err();
        assert!(matches!(error, ConfigError::Renamed { .. }), "{error}");
    }
}
