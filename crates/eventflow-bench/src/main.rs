//! `eventflow-bench`: load generator for EventFlow. Each subcommand drives one workload
//! (for now `ingest`) in closed or open loop and prints a text or JSON report.
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
//! [`args::RunArgs`] flattened into its options, and builds a [`report::Report`].

mod args;
mod duration;
mod http;
mod ingest;
mod progress;
mod report;
mod runner;
mod schedule;
mod stats;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::report::Report;

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
