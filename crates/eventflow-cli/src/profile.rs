//! Where the CLI finds a stack: flags, then `EVENTFLOW_URL` /
//! `EVENTFLOW_GATEWAY_URL` / `EVENTFLOW_KEY` (clap reads both), then the named
//! profile, then the local defaults. A profile is a small TOML file,
//! `$XDG_CONFIG_HOME/eventflow/profiles/<name>.toml` (else
//! `$HOME/.config/eventflow/profiles/<name>.toml`), holding `url`,
//! `gateway_url` and `key`; `eventflow profile set` writes one.

use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Format, Toml};
use serde::{Deserialize, Serialize};

use crate::api::{Api, Exit, Failure, Service};
use crate::output::Output;

pub const DEFAULT_QUERY_URL: &str = "http://127.0.0.1:8081";
pub const DEFAULT_GATEWAY_URL: &str = "http://127.0.0.1:8080";
/// The profile used when none is named, if its file exists.
const DEFAULT_PROFILE: &str = "local";

/// What a profile file holds; every field optional.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The connection flags every command shares.
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// Query API address (management commands, tail, listen, status).
    #[arg(long = "api-url", global = true, env = "EVENTFLOW_URL")]
    pub api_url: Option<String>,
    /// Ingest gateway address (send, status).
    #[arg(long, global = true, env = "EVENTFLOW_GATEWAY_URL")]
    pub gateway_url: Option<String>,
    /// API key (efk_…) or the operator token.
    #[arg(long, global = true, env = "EVENTFLOW_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Named profile from ~/.config/eventflow/profiles/<name>.toml (default: local, when it exists).
    #[arg(long, global = true, env = "EVENTFLOW_PROFILE")]
    pub profile: Option<String>,
}

/// Addresses and key after flags, environment, profile and defaults.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub url: String,
    pub gateway_url: String,
    pub key: Option<String>,
}

impl Connection {
    pub fn resolve(&self) -> anyhow::Result<Resolved> {
        let profile = self.load_profile()?;
        Ok(Resolved {
            url: self
                .api_url
                .clone()
                .or(profile.url)
                .unwrap_or_else(|| DEFAULT_QUERY_URL.to_owned()),
            gateway_url: self
                .gateway_url
                .clone()
                .or(profile.gateway_url)
                .unwrap_or_else(|| DEFAULT_GATEWAY_URL.to_owned()),
            key: self.key.clone().or(profile.key),
        })
    }

    /// The named profile (which must exist), or the default one when present.
    fn load_profile(&self) -> anyhow::Result<Profile> {
        let (name, required) = match &self.profile {
            Some(name) => (name.as_str(), true),
            None => (DEFAULT_PROFILE, false),
        };
        let Some(dir) = config_dir() else {
            return Ok(Profile::default());
        };
        let path = profile_path(&dir, name)?;
        if !path.is_file() {
            if required {
                return Err(Failure::new(
                    Exit::Failure,
                    format!(
                        "no profile {name:?} ({} does not exist); create it with `eventflow profile set {name} --api-url … --key …`",
                        path.display()
                    ),
                )
                .into());
            }
            return Ok(Profile::default());
        }
        read_profile(&path)
    }

    /// A query API client; fails with advice when no key is known.
    pub fn query_api(&self) -> anyhow::Result<Api> {
        let resolved = self.resolve()?;
        Api::new(&resolved.url, &require_key(resolved.key)?, Service::Query)
    }

    /// An ingest gateway client.
    pub fn gateway(&self) -> anyhow::Result<Api> {
        let resolved = self.resolve()?;
        Api::new(
            &resolved.gateway_url,
            &require_key(resolved.key)?,
            Service::Gateway,
        )
    }
}

fn require_key(key: Option<String>) -> anyhow::Result<String> {
    key.filter(|key| !key.is_empty()).ok_or_else(|| {
        Failure::new(
            Exit::Auth,
            "no API key: pass --key, set EVENTFLOW_KEY, or save one in a profile (`eventflow profile set local --key …`); `eventflow dev` prints its key and saves it in .eventflow/dev-key",
        )
        .into()
    })
}

/// `$XDG_CONFIG_HOME/eventflow`, else `$HOME/.config/eventflow`.
pub fn config_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|dir| !dir.is_empty())
                .map(|home| PathBuf::from(home).join(".config"))
        })?;
    Some(base.join("eventflow"))
}

/// The file of profile `name`; names are plain words so they stay file names.
fn profile_path(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !plain {
        return Err(Failure::new(
            Exit::Invalid,
            format!("invalid profile name {name:?}: use letters, digits, - and _"),
        )
        .into());
    }
    Ok(dir.join("profiles").join(format!("{name}.toml")))
}

fn read_profile(path: &Path) -> anyhow::Result<Profile> {
    Figment::from(Toml::file_exact(path))
        .extract()
        .map_err(|error| {
            Failure::new(
                Exit::Failure,
                format!("invalid profile {}: {error}", path.display()),
            )
            .into()
        })
}

/// `eventflow profile`: save and show named profiles.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Save (or update) a profile from --api-url, --gateway-url and --key.
    #[command(
        after_help = "Example:\n  eventflow profile set staging --api-url https://api.staging.example.com --key efk_…"
    )]
    Set {
        /// The profile's name, e.g. local or staging.
        name: String,
    },
    /// Show a profile (the key is masked).
    Show {
        /// The profile's name.
        name: String,
    },
    /// List saved profiles.
    List,
}

pub fn run(command: Command, connection: &Connection, output: &Output) -> anyhow::Result<()> {
    let dir = config_dir().context("neither XDG_CONFIG_HOME nor HOME is set")?;
    match command {
        Command::Set { name } => {
            let path = profile_path(&dir, &name)?;
            let mut profile = if path.is_file() {
                read_profile(&path)?
            } else {
                Profile::default()
            };
            if let Some(url) = &connection.api_url {
                profile.url = Some(url.clone());
            }
            if let Some(url) = &connection.gateway_url {
                profile.gateway_url = Some(url.clone());
            }
            if let Some(key) = &connection.key {
                profile.key = Some(key.clone());
            }
            write_profile(&path, &profile)?;
            let shown =
                serde_json::json!({"name": name, "path": path, "profile": masked(&profile)});
            output.print(&shown, || {
                format!("saved profile {name} in {}", path.display())
            })
        }
        Command::Show { name } => {
            let path = profile_path(&dir, &name)?;
            let profile = read_profile(&path)?;
            let shown = masked(&profile);
            output.print(&shown, || crate::output::object_text(&shown))
        }
        Command::List => {
            let mut names: Vec<String> = std::fs::read_dir(dir.join("profiles"))
                .map(|entries| {
                    entries
                        .filter_map(|entry| {
                            let name = entry.ok()?.file_name().into_string().ok()?;
                            name.strip_suffix(".toml").map(str::to_owned)
                        })
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            output.print(&names, || names.join("\n"))
        }
    }
}

/// The profile as shown: the key's first characters only.
fn masked(profile: &Profile) -> serde_json::Value {
    let mut shown = serde_json::to_value(profile).unwrap_or_default();
    if let Some(key) = &profile.key {
        let visible: String = key.chars().take(8).collect();
        shown["key"] = serde_json::Value::String(format!("{visible}…"));
    }
    shown
}

/// Writes the profile readable by its owner only (it holds a key).
fn write_profile(path: &Path, profile: &Profile) -> anyhow::Result<()> {
    let mut text = String::new();
    for (name, value) in [
        ("url", &profile.url),
        ("gateway_url", &profile.gateway_url),
        ("key", &profile.key),
    ] {
        if let Some(value) = value {
            // A JSON string is a valid TOML basic string.
            text.push_str(&format!("{name} = {}\n", serde_json::to_string(value)?));
        }
    }
    crate::files::write_private(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_must_be_plain_words() {
        let dir = Path::new("/cfg");
        assert_eq!(
            profile_path(dir, "staging").unwrap(),
            Path::new("/cfg/profiles/staging.toml")
        );
        assert!(profile_path(dir, "../etc").is_err());
        assert!(profile_path(dir, "").is_err());
    }
}
