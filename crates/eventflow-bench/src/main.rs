//! `eventflow-bench`: load generator for EventFlow. Each subcommand drives one workload
//! and prints a text or JSON report: `ingest` (the gateway alone), `e2e` and `fanout`
//! (gateway, dispatcher and webhooks to the benchmark's own receiver, one or several
//! endpoints per event) in closed or open loop, `drain` (a dispatcher working off a
//! backlog), `query` (the query API's reads over a large seeded project while
//! events are ingested), and `soak` (a steady rate for a long time with failing
//! endpoints: memory, p99 and backlog over time).
//!
//! A run sends for `--warmup` without recording, then measures for `--duration`. The
//! report counts what was sent in the measured window: accepted events and events/s,
//! finished requests and requests/s, latency percentiles of the successful requests
//! (from the intended send time in open loop), and errors counted in events by cause
//! (HTTP status, timeout, connect, other transport failure, unreadable answer). A
//! progress line goes to stderr every second. The process fails when no event was
//! accepted.
//!
//! A new workload implements [`runner::Workload`], adds its subcommand with
//! [`args::RunArgs`] flattened into its options, and builds a [`report::Report`]
//! (or another [`report::PrintableReport`]).

mod args;
mod backlog;
mod correlate;
mod delivery;
mod delivery_report;
mod http;
mod ingest;
mod progress;
mod provision;
mod query;
mod receiver;
mod report;
mod runner;
mod schedule;
mod soak;
mod sql;
mod stats;
mod tracking;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::report::PrintableReport;

/// Load generator for EventFlow.
#[derive(Debug, Parser)]
#[command(name = "eventflow-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The workloads.
#[derive(Debug, Subcommand)]
enum Command {
    /// Posts events to the ingest gateway and measures accepted events/s and latency.
    Ingest(ingest::IngestArgs),
    /// Sends events through the gateway to a dispatcher and the benchmark's own webhook
    /// receiver; measures deliveries/s and the latency from each 202 to its webhook.
    #[command(after_help = delivery::SETUP_HELP)]
    E2e(delivery::DeliveryArgs),
    /// Like e2e, with every event delivered to several endpoints; also measures when the
    /// last of an event's deliveries arrived.
    #[command(after_help = delivery::SETUP_HELP)]
    Fanout(delivery::FanoutArgs),
    /// Stores a backlog of events while the dispatcher is stopped, then measures how fast
    /// a dispatcher delivers it once started.
    #[command(after_help = backlog::SETUP_HELP)]
    Drain(backlog::DrainArgs),
    /// Seeds a large project once, then measures the query API's list, search, detail and
    /// statistics reads by concurrent readers, optionally while events are ingested.
    Query(query::QueryArgs),
    /// Sends a steady rate of events for a long time to one healthy and some failing
    /// endpoints; prints throughput, p99, backlog and the services' memory over time.
    #[command(after_help = delivery::SETUP_HELP)]
    Soak(soak::SoakArgs),
}

fn main() -> ExitCode {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the chosen subcommand on a multi-threaded runtime and prints its report.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command {
        Command::Ingest(args) => {
            let json = args.run.json;
            let report = runtime.block_on(ingest::run(args))?;
            print_report(&report, json)?;
            Ok(exit_code(report.accepted))
        }
        Command::E2e(args) => {
            let json = args.run.json;
            let report = runtime.block_on(delivery::run(args, "e2e", 1))?;
            print_report(&report, json)?;
            Ok(delivery_exit_code(
                report.sending.accepted,
                report.delivery.is_complete(),
            ))
        }
        Command::Fanout(args) => {
            let json = args.delivery.run.json;
            let endpoints = usize::from(args.endpoints);
            let report = runtime.block_on(delivery::run(args.delivery, "fanout", endpoints))?;
            print_report(&report, json)?;
            Ok(delivery_exit_code(
                report.sending.accepted,
                report.delivery.is_complete(),
            ))
        }
        Command::Drain(args) => {
            let json = args.json;
            let report = runtime.block_on(backlog::run(args))?;
            print_report(&report, json)?;
            Ok(delivery_exit_code(report.accepted, report.is_complete()))
        }
        Command::Query(args) => {
            let json = args.json;
            let report = runtime.block_on(query::run(args))?;
            print_report(&report, json)?;
            Ok(if report.any_read_succeeded() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Soak(args) => {
            let outcome = runtime.block_on(soak::run(args))?;
            Ok(delivery_exit_code(outcome.accepted, outcome.lost == 0))
        }
    }
}

/// Prints the report on stdout, as JSON or as text.
fn print_report(report: &impl PrintableReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", report.to_json().context("serializing the report")?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

/// Fails the process when no event was accepted.
fn exit_code(accepted: u64) -> ExitCode {
    if accepted == 0 {
        eprintln!("error: no event was accepted");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Fails the process when no event was accepted or an accepted event was not delivered.
fn delivery_exit_code(accepted: u64, all_delivered: bool) -> ExitCode {
    if accepted > 0 && !all_delivered {
        eprintln!("error: some accepted events were not delivered");
        return ExitCode::FAILURE;
    }
    exit_code(accepted)
}
