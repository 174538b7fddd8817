//! `eventflow dev`: the whole stack in one process against a local PostgreSQL
//! and Redis.
//!
//! It reads `eventflow.toml` and `EVENTFLOW_*` as each service does (the
//! addresses excepted: the three listen on `--bind`, 127.0.0.1 by default, on
//! their default ports), creates the database when it does not exist,
//! migrates it, starts the ingest gateway, dispatcher and query API through
//! their own `Application::build` + `run_until`, and stops all three on one
//! ctrl-c or SIGTERM. On the first run it creates a project named `dev` with
//! an `ingest,read,admin` key; the database keeps only the key's hash, so the
//! plaintext is saved (mode 600) in `.eventflow/dev-key` and printed again on
//! later runs. Without `EVENTFLOW_ADMIN_TOKEN` it generates an operator token
//! for the run (saved in `.eventflow/admin-token`). Deliveries to this machine
//! are allowed, and a demo endpoint delivers to a built-in receiver that
//! verifies and prints each delivery; the console follows events and
//! delivery outcomes, readable on a terminal and JSON lines otherwise.

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context;
use eventflow_domain::{ProjectId, Scopes, SecretString, hashes_match, parse_presented_key};
use eventflow_runtime::config::ServiceConfig;
use eventflow_runtime::serve::ServiceApplication;
use eventflow_runtime::shutdown;
use eventflow_store::{PoolSettings, Store};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::output::Output;

const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/eventflow";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
const DEV_PROJECT_NAME: &str = "dev";
const DEV_KEY_SCOPES: &str = "ingest,read,admin";
const DEV_KEY_FILE: &str = "dev-key";
/// Where the key that encrypts endpoint secrets is kept, beside the dev key.
const DEV_SECRETS_KEY_FILE: &str = "secrets-key";
/// The generated operator token, beside the dev key.
const ADMIN_TOKEN_FILE: &str = "admin-token";
const DEMO_PORT: u16 = 8083;
/// How the demo endpoint is told apart, so later runs reuse it.
const DEMO_DESCRIPTION: &str = "eventflow dev demo receiver";
/// The file the services read besides the environment.
const CONFIG_FILE: &str = "eventflow.toml";

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  scripts/dev.sh            (builds, starts PostgreSQL/Redis if needed, the dashboard, then this)\n  eventflow dev --no-demo   (no demo endpoint)\n  eventflow dev --bind 0.0.0.0\n\nSettings: eventflow.toml and EVENTFLOW_* as for the services (EVENTFLOW_DATABASE_URL, EVENTFLOW_REDIS_URL, EVENTFLOW_ADMIN_TOKEN, EVENTFLOW_RETRY_SCHEDULE, …); the listen addresses come from --bind."
)]
pub struct Args {
    /// Log filter (tracing EnvFilter syntax); default `warn` on a terminal (the console shows events and deliveries), `info` otherwise.
    #[arg(long, env = "EVENTFLOW_LOG")]
    log: Option<String>,
    /// Directory for the dev key, operator token and secrets key files.
    #[arg(long, default_value = ".eventflow")]
    state_dir: PathBuf,
    /// The address the three services listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Do not create the demo endpoint and its built-in receiver.
    #[arg(long)]
    no_demo: bool,
    /// Port of the built-in demo receiver on 127.0.0.1.
    #[arg(long, default_value_t = DEMO_PORT)]
    demo_port: u16,
    /// The dashboard's address, shown in the banner (scripts/dev.sh sets it when it starts the dashboard).
    #[arg(long, env = "EVENTFLOW_DASHBOARD_URL")]
    dashboard_url: Option<String>,
}

impl Args {
    /// The log filter: quiet on a terminal, where the console tells the story.
    pub fn log_filter(&self) -> String {
        self.log.clone().unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                "warn".to_owned()
            } else {
                "info".to_owned()
            }
        })
    }
}

/// The dev project and its key.
#[derive(Debug)]
struct DevKey {
    project_id: ProjectId,
    key: SecretString,
}

/// Where one service listens.
#[derive(Debug, Serialize)]
struct Listening {
    http: SocketAddr,
    grpc: SocketAddr,
}

/// What the banner says, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Banner<'a> {
    ingest_gateway: Listening,
    query_api: Listening,
    dispatcher: Listening,
    project_id: ProjectId,
    api_key: &'a str,
    key_file: &'a Path,
    /// The operator token of this run (projects, limits, every project's keys).
    admin_token: &'a str,
    /// Where it was saved, when it was generated rather than configured.
    admin_token_file: Option<&'a Path>,
    /// Networks deliveries may reach although private: this machine.
    loopback_delivery: &'a str,
    /// The built-in receiver of the demo endpoint, unless --no-demo.
    demo_receiver: Option<String>,
    dashboard_url: Option<&'a str>,
}

/// Runs the stack until ctrl-c or SIGTERM, then returns once all three services stopped.
pub async fn run(
    args: Args,
    database_url: Option<&str>,
    redis_url: Option<&str>,
    output: &Output,
) -> anyhow::Result<()> {
    let env = service_env(database_url, redis_url)?;
    let database_url = env_value(&env, "EVENTFLOW_DATABASE_URL").unwrap_or(DEFAULT_DATABASE_URL);

    ensure_database(database_url).await?;
    let store = Store::connect(
        database_url,
        &PoolSettings {
            max_connections: 2,
            ..PoolSettings::default()
        },
    )
    .context("invalid EVENTFLOW_DATABASE_URL")?;
    for name in store.migrate().await.context("cannot apply migrations")? {
        tracing::info!(migration = %name, "applied migration");
    }
    let key_file = args.state_dir.join(DEV_KEY_FILE);
    let dev_key = ensure_dev_key(&store, &key_file).await?;
    store.close();

    let mut gateway_config: ingest_gateway::Config =
        load_settings(&env).context("ingest-gateway settings")?;
    let mut dispatcher_config: dispatcher::Config =
        load_settings(&env).context("dispatcher settings")?;
    let mut query_config: query_api::Config = load_settings(&env).context("query-api settings")?;
    for addr in [
        &mut gateway_config.service.http_addr,
        &mut gateway_config.service.grpc_addr,
        &mut dispatcher_config.service.http_addr,
        &mut dispatcher_config.service.grpc_addr,
        &mut query_config.service.http_addr,
        &mut query_config.service.grpc_addr,
    ] {
        addr.set_ip(args.bind);
    }
    // Local development delivers to receivers on this machine.
    let loopback = eventflow_domain::AddressPolicy::parse_allow_list(DEV_ALLOW_NETS)?;
    dispatcher_config.endpoint_allow_nets = loopback.clone();
    query_config.endpoint_allow_nets = loopback;
    // The query API calls the dispatcher's DispatchControl, which admits only
    // this shared token: a fresh one per run unless one is configured.
    let internal_token = query_config
        .internal_token
        .clone()
        .unwrap_or_else(eventflow_runtime::internal_auth::InternalToken::generate);
    dispatcher_config.internal_token = Some(internal_token.clone());
    query_config.internal_token = Some(internal_token);
    // Endpoint secrets are sealed with a key kept in the state directory, so
    // endpoints created in one run still sign deliveries in the next.
    let secrets_key = match query_config.secrets_key.clone() {
        Some(configured) => configured,
        None => ensure_dev_secrets_key(&args.state_dir.join(DEV_SECRETS_KEY_FILE))?,
    };
    dispatcher_config.secrets_key = Some(secrets_key.clone());
    query_config.secrets_key = Some(secrets_key);
    let admin_token_file = args.state_dir.join(ADMIN_TOKEN_FILE);
    let admin_token = match &query_config.admin_token {
        Some(configured) => configured.expose().to_owned(),
        None => {
            let generated = eventflow_runtime::internal_auth::InternalToken::generate()
                .expose()
                .to_owned();
            crate::files::write_private(&admin_token_file, &format!("{generated}\n"))?;
            query_config.admin_token = Some(SecretString::new(generated.clone()));
            generated
        }
    };
    let gateway = ingest_gateway::Application::build(gateway_config)
        .await
        .context("cannot start ingest-gateway")?;
    let dispatcher = dispatcher::Application::build(dispatcher_config)
        .await
        .context("cannot start dispatcher")?;
    query_config.dispatcher_grpc_url = format!("http://{}", reachable(dispatcher.grpc_addr()));
    let query = query_api::Application::build(query_config)
        .await
        .context("cannot start query-api")?;

    let demo = if args.no_demo {
        None
    } else {
        Some(
            crate::receiver::Receiver::start(
                SocketAddr::from((Ipv4Addr::LOCALHOST, args.demo_port)),
                None,
            )
            .with_context(|| {
                format!(
                    "cannot start the demo receiver on 127.0.0.1:{} (use --demo-port or --no-demo)",
                    args.demo_port
                )
            })?,
        )
    };
    let banner = Banner {
        ingest_gateway: Listening {
            http: gateway.http_addr(),
            grpc: gateway.grpc_addr(),
        },
        query_api: Listening {
            http: query.http_addr(),
            grpc: query.grpc_addr(),
        },
        dispatcher: Listening {
            http: dispatcher.http_addr(),
            grpc: dispatcher.grpc_addr(),
        },
        project_id: dev_key.project_id,
        api_key: dev_key.key.expose(),
        key_file: &key_file,
        admin_token: &admin_token,
        admin_token_file: query_admin_file(&admin_token_file, &admin_token),
        loopback_delivery: DEV_ALLOW_NETS,
        demo_receiver: demo
            .as_ref()
            .map(|(receiver, _)| format!("http://{}/webhooks", receiver.addr)),
        dashboard_url: args.dashboard_url.as_deref(),
    };
    let stop = CancellationToken::new();
    let signal = tokio::spawn({
        let stop = stop.clone();
        async move {
            tokio::select! {
                () = shutdown::sigterm_or_ctrl_c() => stop.cancel(),
                () = stop.cancelled() => {}
            }
        }
    });
    let api = crate::api::Api::new(
        &format!("http://{}", reachable(query.http_addr())),
        dev_key.key.expose(),
        crate::api::Service::Query,
    )?;
    let services = tokio::spawn({
        let stop = stop.clone();
        async move {
            tokio::join!(
                run_service(
                    "ingest-gateway",
                    gateway.run_until(stop.clone().cancelled_owned()),
                    &stop
                ),
                run_service(
                    "dispatcher",
                    dispatcher.run_until(stop.clone().cancelled_owned()),
                    &stop
                ),
                run_service(
                    "query-api",
                    query.run_until(stop.clone().cancelled_owned()),
                    &stop
                ),
            )
        }
    });
    // The banner waits for the demo endpoint: an event sent as soon as it
    // shows reaches a receiver that already knows the endpoint's secret.
    if let Some((receiver, _)) = &demo {
        set_up_demo_endpoint(receiver, &api).await;
    }
    if let Err(error) = output.print(&banner, || banner_text(&banner)) {
        stop.cancel();
        return Err(error);
    }
    // The console: human lines on a terminal, JSON lines otherwise (or with --json).
    let console = Output::new(output.is_json() || !std::io::stdout().is_terminal());
    let demo_task = demo.map(|(receiver, deliveries)| {
        tokio::spawn(run_demo(receiver, deliveries, console, stop.clone()))
    });
    let console_task = tokio::spawn(crate::tail::follow_quietly(api, console, stop.clone()));
    let (gateway, dispatcher, query) = services.await.context("a service panicked")?;
    let _ = signal.await;
    let _ = console_task.await;
    if let Some(task) = demo_task {
        let _ = task.await;
    }
    gateway.and(dispatcher).and(query)
}

/// The operator token file, when the token was generated for this run.
fn query_admin_file<'a>(file: &'a Path, token: &str) -> Option<&'a Path> {
    let saved = std::fs::read_to_string(file).ok()?;
    (saved.trim() == token).then_some(file)
}

/// `EVENTFLOW_*` of this process, with the database and Redis URLs resolved:
/// flag or variable, else the config file, else the local defaults.
fn service_env(
    database_url: Option<&str>,
    redis_url: Option<&str>,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
        .filter(|(key, _)| key.starts_with("EVENTFLOW_"))
        // Three services share one process: each keeps its own default port.
        .filter(|(key, _)| key != "EVENTFLOW_HTTP_ADDR" && key != "EVENTFLOW_GRPC_ADDR")
        .collect();
    let file = file_urls()?;
    for (name, given, in_file, default) in [
        (
            "EVENTFLOW_DATABASE_URL",
            database_url,
            file.database_url,
            DEFAULT_DATABASE_URL,
        ),
        (
            "EVENTFLOW_REDIS_URL",
            redis_url,
            file.redis_url,
            DEFAULT_REDIS_URL,
        ),
    ] {
        let value = given
            .map(str::to_owned)
            .or(in_file)
            .unwrap_or_else(|| default.to_owned());
        env.retain(|(key, _)| key != name);
        env.push((name.to_owned(), value));
    }
    Ok(env)
}

fn env_value<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The connection URLs the config file sets, if any.
#[derive(Debug, Default, serde::Deserialize)]
struct FileUrls {
    database_url: Option<String>,
    redis_url: Option<String>,
}

fn file_urls() -> anyhow::Result<FileUrls> {
    use figment::providers::{Format, Toml};
    let path = std::env::var_os("EVENTFLOW_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CONFIG_FILE));
    if !path.is_file() {
        return Ok(FileUrls::default());
    }
    figment::Figment::from(Toml::file_exact(&path))
        .extract()
        .with_context(|| format!("invalid {}", path.display()))
}

/// One service's settings as its own `load` reads them, from `env`.
fn load_settings<T: ServiceConfig>(env: &[(String, String)]) -> anyhow::Result<T> {
    Ok(eventflow_runtime::config::load_from(
        T::DEFAULTS,
        Some(Path::new(CONFIG_FILE)),
        env.iter().cloned(),
    )?)
}

/// Creates (or reuses) the demo endpoint at the built-in receiver and gives
/// the receiver its secrets; a failure is logged, and the stack runs without.
async fn set_up_demo_endpoint(receiver: &crate::receiver::Receiver, api: &crate::api::Api) {
    let url = format!("http://{}/webhooks", receiver.addr);
    match demo_endpoint(api, &url).await {
        Ok(secrets) => receiver.set_secrets(secrets),
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "could not set up the demo endpoint")
        }
    }
}

/// Prints each delivery the demo receiver gets, verified or not, until `stop`.
async fn run_demo(
    receiver: crate::receiver::Receiver,
    mut deliveries: tokio::sync::mpsc::UnboundedReceiver<crate::receiver::Received>,
    console: Output,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            Some(received) = deliveries.recv() => {
                let mut line = serde_json::to_value(&received).unwrap_or_default();
                line["kind"] = serde_json::json!("demo_receiver");
                let _ = console.print(&line, || {
                    let mark = if received.verified { "verified" } else { "REFUSED" };
                    format!("demo receiver: {mark} {} {} {}", received.id, received.event_type, received.data)
                });
            }
        }
    }
    receiver.stop().await;
}

/// The demo endpoint's secrets, after creating it when it does not exist.
async fn demo_endpoint(
    api: &crate::api::Api,
    url: &str,
) -> anyhow::Result<Vec<eventflow_domain::EndpointSecret>> {
    let endpoints = crate::paging::Paging {
        all: true,
        ..Default::default()
    }
    .fetch(api, "/v1/endpoints", Vec::new())
    .await?;
    let existing = endpoints["data"].as_array().and_then(|all| {
        all.iter()
            .find(|endpoint| endpoint["url"] == url && endpoint["description"] == DEMO_DESCRIPTION)
    });
    let id = match existing {
        Some(endpoint) => crate::output::cell(endpoint.get("id")),
        None => {
            let created = api
                .post(
                    "/v1/endpoints",
                    &serde_json::json!({"url": url, "description": DEMO_DESCRIPTION}),
                )
                .await?;
            crate::output::cell(created.get("id"))
        }
    };
    let secret = api.get(&format!("/v1/endpoints/{id}/secret"), &[]).await?;
    crate::receiver::secrets_of(&secret)
}

/// Runs one service; when it returns, for whatever reason, the others stop too.
async fn run_service(
    name: &'static str,
    service: impl Future<Output = anyhow::Result<()>>,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let outcome = service.await.with_context(|| format!("{name} failed"));
    stop.cancel();
    outcome
}

/// Creates the database named in `database_url` when it does not exist.
async fn ensure_database(database_url: &str) -> anyhow::Result<()> {
    let created = eventflow_store::ensure_database(database_url)
        .await
        .context("cannot reach or create the database of EVENTFLOW_DATABASE_URL")?;
    if created {
        tracing::info!("created the database of EVENTFLOW_DATABASE_URL");
    }
    Ok(())
}

/// Returns the dev project and key: the saved key when it still works on this
/// database, otherwise a new key (for the existing `dev` project, or a new one).
async fn ensure_dev_key(store: &Store, key_file: &Path) -> anyhow::Result<DevKey> {
    if let Some(key) = read_key_file(key_file)? {
        if let Some(project_id) = project_of_working_key(store, &key).await? {
            return Ok(DevKey { project_id, key });
        }
        tracing::warn!(path = %key_file.display(), "the saved dev key does not work on this database, creating a new one");
    }
    let project_id = match find_project_by_name(store, DEV_PROJECT_NAME).await? {
        Some(project_id) => project_id,
        None => {
            store
                .create_project(DEV_PROJECT_NAME, None, None)
                .await
                .context("cannot create the dev project")?
                .id
        }
    };
    let scopes = Scopes::parse_list(DEV_KEY_SCOPES)?;
    let created = store
        .create_api_key(project_id, "dev", &scopes)
        .await
        .context("cannot create the dev key")?;
    write_key_file(key_file, created.plaintext.expose())?;
    tracing::info!(%project_id, key_id = %created.record.id, "created the dev key");
    Ok(DevKey {
        project_id,
        key: created.plaintext,
    })
}

/// Returns the secrets key saved in `path`, generating and saving one on the first run.
fn ensure_dev_secrets_key(path: &Path) -> anyhow::Result<eventflow_domain::SecretsKeyring> {
    if let Some(saved) = read_key_file(path)? {
        return eventflow_domain::SecretsKeyring::parse(saved.expose())
            .with_context(|| format!("invalid secrets key in {}", path.display()));
    }
    let (keyring, text) = eventflow_domain::SecretsKeyring::generate();
    write_key_file(path, &text)?;
    Ok(keyring)
}

/// Returns the key saved in `path`, or None when there is none.
fn read_key_file(path: &Path) -> anyhow::Result<Option<SecretString>> {
    match std::fs::read_to_string(path) {
        Ok(contents) => Ok(Some(SecretString::new(contents.trim().to_owned()))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Saves the key readable by its owner only.
fn write_key_file(path: &Path, key: &str) -> anyhow::Result<()> {
    crate::files::write_private(path, &format!("{key}\n"))
}

/// Returns the project of `key` when the key exists here, is not revoked and has every dev scope.
async fn project_of_working_key(
    store: &Store,
    key: &SecretString,
) -> anyhow::Result<Option<ProjectId>> {
    let Ok(presented) = parse_presented_key(key.expose()) else {
        return Ok(None);
    };
    let Some(stored) = store
        .find_api_key(&presented.lookup_prefix)
        .await
        .context("cannot look up the dev key")?
    else {
        return Ok(None);
    };
    let scopes = Scopes::parse_list(DEV_KEY_SCOPES)?;
    let works = !stored.revoked
        && hashes_match(&stored.key_hash, &presented.hash)
        && scopes.iter().all(|scope| stored.scopes.contains(scope));
    Ok(works.then_some(stored.project_id))
}

async fn find_project_by_name(store: &Store, name: &str) -> anyhow::Result<Option<ProjectId>> {
    let project = store
        .find_project_by_name(name)
        .await
        .context("cannot look up the dev project")?;
    Ok(project.map(|project| project.id))
}

/// What `eventflow dev` lets deliveries reach although private: this machine.
const DEV_ALLOW_NETS: &str = "127.0.0.0/8,::1/128";

fn banner_text(banner: &Banner<'_>) -> String {
    let gateway = reachable(banner.ingest_gateway.http);
    let query = reachable(banner.query_api.http);
    let key = banner.api_key;
    let mut text = format!(
        "\nEventFlow dev stack is running (ctrl-c stops it)\n\n\
         \x20 ingest-gateway  http://{gateway}  grpc {}\n\
         \x20 query-api       http://{query}  grpc {}\n\
         \x20 dispatcher      http://{}  grpc {}\n",
        reachable(banner.ingest_gateway.grpc),
        reachable(banner.query_api.grpc),
        reachable(banner.dispatcher.http),
        reachable(banner.dispatcher.grpc),
    );
    if let Some(url) = banner.dashboard_url {
        text.push_str(&format!(
            "  dashboard       {url}  (sign in with the api key)\n"
        ));
    }
    text.push_str(&format!(
        "\n  project         {}  ({DEV_PROJECT_NAME})\n\
         \x20 api key         {key}  ({DEV_KEY_SCOPES}; saved in {})\n",
        banner.project_id,
        banner.key_file.display(),
    ));
    let saved = banner
        .admin_token_file
        .map(|file| format!("generated for this run, saved in {}", file.display()))
        .unwrap_or_else(|| "EVENTFLOW_ADMIN_TOKEN".to_owned());
    text.push_str(&format!(
        "  operator token  {}  ({saved}; creates projects, sets limits)\n",
        banner.admin_token
    ));
    if let Some(url) = &banner.demo_receiver {
        text.push_str(&format!(
            "  demo endpoint   {url}  (built-in receiver: verifies and prints each delivery; --no-demo to skip)\n"
        ));
    }
    text.push_str(&format!(
        "\nDeliveries to this machine ({}) are allowed here, for local receivers; a deployed\n\
         stack refuses them unless EVENTFLOW_ENDPOINT_ALLOW_NETS says otherwise.\n\n\
         Try it (another terminal):\n\
         \x20 export EVENTFLOW_KEY=$(cat {})\n\
         \x20 eventflow send --type order.created --payload '{{\"order_id\": 42}}'\n\
         \x20 curl -sS http://{gateway}/v1/events -H \"authorization: Bearer $EVENTFLOW_KEY\" \\\n\
         \x20   -H 'content-type: application/json' -d '{{\"type\": \"order.created\", \"payload\": {{}}}}'\n\n\
         Events and delivery outcomes follow below.\n",
        banner.loopback_delivery,
        banner.key_file.display(),
    ));
    text
}

/// A listener on 0.0.0.0 or [::] is reached through loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use eventflow_test_support::TestDatabase;

    use super::*;

    /// A fresh directory under the system's temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("eventflow-cli-{}", ProjectId::new()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[tokio::test]
    async fn the_first_run_creates_the_dev_project_and_later_runs_reuse_its_key() {
        let db = TestDatabase::create().await;
        let store = db.store();
        let dir = TempDir::new();
        let key_file = dir.0.join(".eventflow").join(DEV_KEY_FILE);

        let first = ensure_dev_key(&store, &key_file).await.unwrap();
        let second = ensure_dev_key(&store, &key_file).await.unwrap();

        assert_eq!(first.project_id, second.project_id);
        assert_eq!(first.key.expose(), second.key.expose());
        assert!(first.key.expose().starts_with("efk_"));
        assert_eq!(
            std::fs::read_to_string(&key_file).unwrap().trim(),
            first.key.expose()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(db.count("SELECT count(*) FROM projects").await, 1);
        assert_eq!(db.count("SELECT count(*) FROM api_keys").await, 1);
    }

    #[tokio::test]
    async fn a_lost_key_file_gets_a_new_key_for_the_same_dev_project() {
        let db = TestDatabase::create().await;
        let store = db.store();
        let dir = TempDir::new();
        let key_file = dir.0.join(DEV_KEY_FILE);
        let first = ensure_dev_key(&store, &key_file).await.unwrap();

        std::fs::remove_file(&key_file).unwrap();
        let second = ensure_dev_key(&store, &key_file).await.unwrap();

        assert_eq!(first.project_id, second.project_id);
        assert_ne!(first.key.expose(), second.key.expose());
        assert_eq!(db.count("SELECT count(*) FROM projects").await, 1);
    }

    #[tokio::test]
    async fn a_key_file_from_another_database_is_replaced() {
        let (db, other) = (TestDatabase::create().await, TestDatabase::create().await);
        let dir = TempDir::new();
        let key_file = dir.0.join(DEV_KEY_FILE);
        let stale = ensure_dev_key(&other.store(), &key_file).await.unwrap();

        let fresh = ensure_dev_key(&db.store(), &key_file).await.unwrap();

        assert_ne!(stale.key.expose(), fresh.key.expose());
        assert_eq!(
            std::fs::read_to_string(&key_file).unwrap().trim(),
            fresh.key.expose()
        );
    }

    #[test]
    fn unspecified_listeners_are_shown_on_loopback() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(
            reachable(any),
            "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
        );
        let local: SocketAddr = "10.0.0.5:8080".parse().unwrap();
        assert_eq!(reachable(local), local);
    }
}
