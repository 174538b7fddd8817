//! `eventflow`: what an operator does by hand — migrate, create projects, keys
//! and endpoints, send a test event — and `eventflow dev`, the whole stack in
//! one process. Every command takes `--json`; errors print one line on stderr
//! and exit non-zero.

mod dev;
mod endpoints;
mod keys;
mod migrate;
mod output;
mod projects;
mod send;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use eventflow_runtime::telemetry::Telemetry;
use eventflow_runtime::tls;
use eventflow_store::{PoolSettings, Store};

use crate::output::Output;

#[derive(Debug, Parser)]
#[command(
    name = "eventflow",
    version,
    about = "Operate EventFlow: migrate, manage projects, keys and endpoints, send events, run the dev stack"
)]
struct Cli {
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/eventflow.
    #[arg(
        long,
        global = true,
        env = "EVENTFLOW_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// Redis URL, e.g. redis://127.0.0.1:6379 (used by `dev`).
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
    /// Apply pending database migrations.
    Migrate,
    /// Manage projects.
    #[command(subcommand)]
    Projects(projects::Command),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(keys::Command),
    /// Manage webhook endpoints.
    #[command(subcommand)]
    Endpoints(endpoints::Command),
    /// Send one event to an ingest gateway.
    Send(send::Args),
    /// Run the ingest gateway, dispatcher and query API in this process.
    Dev(dev::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    tls::install_crypto_provider();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` joins the cause chain with ": "; the error stays on one line.
            let message = format!("{error:#}").replace('\n', " ");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let output = Output::new(cli.json);
    let database_url = cli.database_url.as_deref();
    match cli.command {
        Command::Migrate => migrate::run(&connect(database_url).await?, &output).await,
        Command::Projects(command) => {
            projects::run(command, &connect(database_url).await?, &output).await
        }
        Command::Keys(command) => keys::run(command, &connect(database_url).await?, &output).await,
        Command::Endpoints(command) => {
            endpoints::run(command, &connect(database_url).await?, &output).await
        }
        Command::Send(args) => send::run(args, &output).await,
        Command::Dev(args) => {
            let otlp_endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok();
            let telemetry = Telemetry::init("eventflow", &args.log, otlp_endpoint.as_deref())
                .context("invalid setting EVENTFLOW_LOG")?;
            let outcome = dev::run(args, database_url, cli.redis_url.as_deref(), &output).await;
            telemetry.shutdown().await;
            outcome
        }
    }
}

/// Connects to PostgreSQL and checks that it answers.
async fn connect(database_url: Option<&str>) -> anyhow::Result<Store> {
    let database_url =
        database_url.context("missing --database-url (or EVENTFLOW_DATABASE_URL)")?;
    let settings = PoolSettings {
        max_connections: 2,
        ..PoolSettings::default()
    };
    let store = Store::connect(database_url, &settings).context("invalid --database-url")?;
    store
        .ping()
        .await
        .context("cannot reach PostgreSQL at --database-url")?;
    Ok(store)
}
