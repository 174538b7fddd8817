//! `eventflow`: the operator's and developer's command line. Management
//! commands go through the query API (address and key from flags,
//! `EVENTFLOW_URL`/`EVENTFLOW_KEY` or a profile); `send` through the ingest
//! gateway; only `migrate` and `dev` touch the database. Every command takes
//! `--json`; errors print one line on stderr and exit with a documented code.

mod api;
mod dev;
mod endpoints;
mod events;
mod files;
mod keys;
mod listen;
mod migrate;
mod output;
mod paging;
mod profile;
mod projects;
mod receiver;
mod send;
mod stats;
mod status;
mod tail;

use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use eventflow_runtime::telemetry::Telemetry;
use eventflow_runtime::tls;
use eventflow_store::{PoolSettings, Store};

use crate::api::{Exit, Failure};
use crate::output::Output;

const AFTER_HELP: &str = "\
Getting started (after scripts/dev.sh):
  export EVENTFLOW_KEY=$(cat .eventflow/dev-key)
  eventflow send --type order.created --payload '{\"order_id\": 42}'
  eventflow events list
  eventflow listen

Where the CLI finds a stack: --api-url/--gateway-url/--key, else EVENTFLOW_URL,
EVENTFLOW_GATEWAY_URL, EVENTFLOW_KEY, else the profile named by --profile or
EVENTFLOW_PROFILE (default `local`, when saved) in
$XDG_CONFIG_HOME/eventflow/profiles/ (~/.config/eventflow/profiles/), else
http://127.0.0.1:8081 and http://127.0.0.1:8080.

Exit codes:
  0  success
  1  other failure (a local file, an unexpected answer)
  2  wrong usage (unknown command or option)
  3  the service refused the input (400, 409, 413, 422): fix the request
  4  the key is missing, wrong, expired or lacks a scope (401, 403)
  5  no such resource (404)
  6  the service cannot be reached, is overloaded (429) or failed (5xx): try again
  7  `eventflow status` found a service down or not ready";

#[derive(Debug, Parser)]
#[command(
    name = "eventflow",
    version,
    about = "Operate EventFlow: projects, keys, endpoints, events, deliveries, send, tail, listen, status, and the dev stack",
    after_help = AFTER_HELP
)]
struct Cli {
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    connection: profile::Connection,
    /// PostgreSQL URL for `migrate` and `dev`, e.g. postgres://postgres@127.0.0.1:5432/eventflow.
    #[arg(
        long,
        global = true,
        env = "EVENTFLOW_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// Redis URL for `dev`, e.g. redis://127.0.0.1:6379.
    #[arg(
        long,
        global = true,
        env = "EVENTFLOW_REDIS_URL",
        hide_env_values = true
    )]
    redis_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage projects (create and limits: operator token).
    #[command(subcommand)]
    Projects(projects::Command),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(keys::Command),
    /// Manage webhook endpoints.
    #[command(subcommand)]
    Endpoints(endpoints::Command),
    /// List, show and replay events.
    #[command(subcommand)]
    Events(events::EventCommand),
    /// List, show and retry deliveries.
    #[command(subcommand)]
    Deliveries(events::DeliveryCommand),
    /// Events, deliveries and latency over time, with sparklines.
    Stats(stats::Args),
    /// Send one event, or many as JSON lines, to the ingest gateway.
    Send(send::Args),
    /// Follow events and their deliveries live.
    Tail(tail::Args),
    /// Receive deliveries on this machine: verify, print, forward.
    Listen(listen::Args),
    /// Health of each service, backlog, failing deliveries and endpoints.
    Status(status::Args),
    /// Save and show connection profiles.
    #[command(subcommand)]
    Profile(profile::Command),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Example:\n  eventflow completions bash > /etc/bash_completion.d/eventflow"
    )]
    Completions { shell: clap_complete::Shell },
    /// Apply pending database migrations (needs --database-url).
    Migrate,
    /// Run the ingest gateway, dispatcher and query API in this process.
    Dev(dev::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    tls::install_crypto_provider();
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let failure = error.downcast_ref::<Failure>();
            let problem = failure.and_then(|failure| failure.problem.as_ref());
            if let (true, Some(problem)) = (json, problem) {
                // The problem document itself, for scripts; the one-line error follows on stderr.
                println!("{problem}");
            }
            // `{:#}` joins the cause chain with ": "; the error stays on one line.
            let message = format!("{error:#}").replace('\n', " ");
            eprintln!("error: {message}");
            let exit = failure.map_or(Exit::Failure, |failure| failure.exit);
            ExitCode::from(exit as u8)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let output = Output::new(cli.json);
    let connection = &cli.connection;
    let database_url = cli.database_url.as_deref();
    match cli.command {
        Command::Projects(command) => {
            projects::run(command, &connection.query_api()?, &output).await
        }
        Command::Keys(command) => keys::run(command, &connection.query_api()?, &output).await,
        Command::Endpoints(command) => {
            endpoints::run(command, &connection.query_api()?, &output).await
        }
        Command::Events(command) => {
            events::run_events(command, &connection.query_api()?, &output).await
        }
        Command::Deliveries(command) => {
            events::run_deliveries(command, &connection.query_api()?, &output).await
        }
        Command::Stats(args) => stats::run(args, &connection.query_api()?, &output).await,
        Command::Send(args) => send::run(args, &connection.gateway()?, &output).await,
        Command::Tail(args) => tail::run(args, &connection.query_api()?, &output).await,
        Command::Listen(args) => listen::run(args, &connection.query_api()?, &output).await,
        Command::Status(args) => status::run(args, &connection.resolve()?, &output).await,
        Command::Profile(command) => profile::run(command, connection, &output),
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics when stdout closes early (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "eventflow", &mut script);
            match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
                _ => Ok(()),
            }
        }
        Command::Migrate => migrate::run(&connect(database_url).await?, &output).await,
        Command::Dev(args) => {
            let otlp_endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok();
            let telemetry =
                Telemetry::init("eventflow", &args.log_filter(), otlp_endpoint.as_deref())
                    .context("invalid setting EVENTFLOW_LOG")?;
            let outcome = dev::run(args, database_url, cli.redis_url.as_deref(), &output).await;
            telemetry.shutdown().await;
            outcome
        }
    }
}

/// Connects to PostgreSQL and checks that it answers.
async fn connect(database_url: Option<&str>) -> anyhow::Result<Store> {
    let database_url = database_url.ok_or_else(|| {
        Failure::new(
            Exit::Failure,
            "missing --database-url (or EVENTFLOW_DATABASE_URL): only migrate and dev use the database",
        )
    })?;
    let settings = PoolSettings {
        max_connections: 2,
        ..PoolSettings::default()
    };
    let mut store = Store::connect(database_url, &settings).context("invalid --database-url")?;
    // With the key, `migrate` seals endpoint secrets left in plaintext.
    if let Ok(raw) = std::env::var("EVENTFLOW_SECRETS_KEY") {
        let keyring = eventflow_domain::SecretsKeyring::parse(&raw)?;
        store = store.with_secrets(std::sync::Arc::new(keyring));
    }
    store
        .ping()
        .await
        .context("cannot reach PostgreSQL at --database-url")?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
