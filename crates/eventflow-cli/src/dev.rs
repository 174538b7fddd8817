//! `eventflow dev`: the whole stack in one process against a local PostgreSQL
//! and Redis.
//!
//! It creates the database when it does not exist, migrates it, starts the
//! ingest gateway, dispatcher and query API through their own
//! `Application::build` + `run_until` on their default addresses, and stops
//! all three on one ctrl-c or SIGTERM. On the first run it creates a project
//! named `dev` with an `ingest,read,admin` key; the database keeps only the
//! key's hash, so the plaintext is saved (mode 600) in `.eventflow/dev-key`
//! and printed again on later runs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use eventflow_domain::{ProjectId, Scopes, SecretString, hashes_match, parse_presented_key};
use eventflow_runtime::shutdown;
use eventflow_store::{PoolSettings, Store};
use serde::Serialize;
use tokio_postgres::error::SqlState;
use tokio_util::sync::CancellationToken;

use crate::output::Output;

const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/eventflow";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
const DEV_PROJECT_NAME: &str = "dev";
const DEV_KEY_SCOPES: &str = "ingest,read,admin";
const DEV_KEY_FILE: &str = "dev-key";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, env = "EVENTFLOW_LOG", default_value = "info")]
    pub log: String,
    /// Directory for the dev key file.
    #[arg(long, default_value = ".eventflow")]
    state_dir: PathBuf,
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
}

/// Runs the stack until ctrl-c or SIGTERM, then returns once all three services stopped.
pub async fn run(
    args: Args,
    database_url: Option<&str>,
    redis_url: Option<&str>,
    output: &Output,
) -> anyhow::Result<()> {
    let database_url = database_url.unwrap_or(DEFAULT_DATABASE_URL);
    let redis_url = redis_url.unwrap_or(DEFAULT_REDIS_URL);

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

    let gateway_config = ingest_gateway::Config::with_urls(database_url, redis_url)
        .context("ingest-gateway settings")?;
    let mut dispatcher_config =
        dispatcher::Config::with_urls(database_url, redis_url).context("dispatcher settings")?;
    let mut query_config =
        query_api::Config::with_urls(database_url, redis_url).context("query-api settings")?;
    // Local development delivers to receivers on this machine.
    let loopback = eventflow_domain::AddressPolicy::parse_allow_list(DEV_ALLOW_NETS)?;
    dispatcher_config.delivery_allow_nets = loopback.clone();
    query_config.endpoint_allow_nets = loopback;
    // The query API calls the dispatcher's DispatchControl, which admits only
    // this shared token: a fresh one per run, known to both and nobody else.
    let internal_token = eventflow_runtime::internal_auth::InternalToken::generate();
    dispatcher_config.internal_token = Some(internal_token.clone());
    query_config.internal_token = Some(internal_token);
    let gateway = ingest_gateway::Application::build(gateway_config)
        .await
        .context("cannot start ingest-gateway")?;
    let dispatcher = dispatcher::Application::build(dispatcher_config)
        .await
        .context("cannot start dispatcher")?;
    let query = query_api::Application::build(query_config)
        .await
        .context("cannot start query-api")?;

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
    };
    output.print(&banner, || banner_text(&banner))?;

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
    let (gateway, dispatcher, query) = tokio::join!(
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
    );
    let _ = signal.await;
    gateway.and(dispatcher).and(query)
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

/// Creates the database named in `database_url` when it does not exist, by
/// connecting to the `postgres` maintenance database of the same server.
async fn ensure_database(database_url: &str) -> anyhow::Result<()> {
    let mut config =
        tokio_postgres::Config::from_str(database_url).context("invalid EVENTFLOW_DATABASE_URL")?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    match config.connect(tokio_postgres::NoTls).await {
        Ok(_) => return Ok(()),
        Err(error) if error.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {}
        Err(error) => {
            return Err(error).context("cannot reach PostgreSQL at EVENTFLOW_DATABASE_URL");
        }
    }
    let name = config
        .get_dbname()
        .context("EVENTFLOW_DATABASE_URL names no database")?
        .to_owned();
    let mut maintenance = config.clone();
    maintenance.dbname("postgres");
    let (client, connection) = maintenance
        .connect(tokio_postgres::NoTls)
        .await
        .context("cannot connect to the postgres maintenance database to create the database")?;
    let connection = tokio::spawn(connection);
    let created = client
        .batch_execute(&format!("CREATE DATABASE {}", quote_identifier(&name)))
        .await;
    drop(client);
    let _ = connection.await;
    match created {
        Ok(()) => tracing::info!(database = %name, "created database"),
        // Another process created it meanwhile: what we wanted.
        Err(error) if error.code() == Some(&SqlState::DUPLICATE_DATABASE) => {}
        Err(error) => return Err(error).with_context(|| format!("cannot create database {name}")),
    }
    Ok(())
}

/// Quotes a PostgreSQL identifier (`CREATE DATABASE` takes no parameters).
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
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
    let key = banner.api_key;
    format!(
        "\nEventFlow dev stack is running (ctrl-c stops it)\n\n\
         \x20 ingest-gateway  http://{gateway}  grpc {}\n\
         \x20 query-api       http://{}  grpc {}\n\
         \x20 dispatcher      http://{}  grpc {}\n\n\
         \x20 project  {}  ({DEV_PROJECT_NAME})\n\
         \x20 api key  {key}  ({DEV_KEY_SCOPES}; saved in {})\n\n\
         Send an event:\n\
         \x20 curl -sS http://{gateway}/v1/events \\\n\
         \x20   -H 'authorization: Bearer {key}' -H 'content-type: application/json' \\\n\
         \x20   -d '{{\"type\": \"order.created\", \"payload\": {{\"order_id\": 42}}}}'\n",
        reachable(banner.ingest_gateway.grpc),
        reachable(banner.query_api.http),
        reachable(banner.query_api.grpc),
        reachable(banner.dispatcher.http),
        reachable(banner.dispatcher.grpc),
        banner.project_id,
        banner.key_file.display(),
    )
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

    #[tokio::test]
    async fn a_missing_database_is_created() {
        let db = TestDatabase::create().await;
        let name = format!("{}_dev", db.name());
        let url = db.url().replace(db.name(), &name);

        ensure_database(&url).await.unwrap();
        ensure_database(&url).await.unwrap();

        let store = Store::connect(&url, &PoolSettings::default()).unwrap();
        store.ping().await.unwrap();
        store.close();
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_identifier("eventflow"), "\"eventflow\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
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
