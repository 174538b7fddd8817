//! `eventflow send`: posts events to an ingest gateway, as a producer would —
//! one from flags, or many as JSON lines (stdin or a file) in batches, with a
//! progress bar on a terminal and a summary at the end.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};

use crate::api::{Api, Exit, Failure};
use crate::output::Output;

/// The gateway takes at most 1,000 events per batch.
const MAX_BATCH: usize = 1000;
/// How often a batch refused as overloaded (429/5xx) or unreachable is tried.
const BATCH_TRIES: u32 = 5;
/// At most this many refusals are printed (all are in the JSON summary).
const SHOWN_REFUSALS: usize = 20;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  eventflow send --type order.created --payload '{\"order_id\": 42}'\n  printf '%s\\n' '{\"type\":\"a.b\",\"payload\":{}}' | eventflow send\n  eventflow send --file events.jsonl --batch-size 500\n\nEach line is an event as POST /v1/events takes it: {\"type\", \"payload\", \"idempotency_key\"?, \"occurred_at\"?}."
)]
pub struct Args {
    /// Event type of the one event to send, e.g. order.created. Without it, events are read as JSON lines.
    #[arg(long = "type")]
    event_type: Option<String>,
    /// The one event's payload as JSON.
    #[arg(long, default_value = "{}", requires = "event_type")]
    payload: String,
    /// Sending the same key again returns the first event instead of a new one.
    #[arg(long, requires = "event_type")]
    idempotency_key: Option<String>,
    /// Read JSON lines from this file (`-`: stdin, the default without --type).
    #[arg(long, conflicts_with = "event_type")]
    file: Option<PathBuf>,
    /// Events per batch request (1 to 1000).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(1..=1000))]
    batch_size: u16,
    /// Batches in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
}

/// One event that was not stored, and why.
#[derive(Debug, Serialize)]
struct Refusal {
    /// 1-based line of the input.
    line: usize,
    status: Option<u16>,
    reason: String,
}

/// What `send` of many events reports.
#[derive(Debug, Default, Serialize)]
struct Summary {
    accepted: usize,
    /// Of the accepted, how many matched an earlier idempotency key.
    duplicates: usize,
    rejected: usize,
    refusals: Vec<Refusal>,
    seconds: f64,
    events_per_second: f64,
}

pub async fn run(args: Args, gateway: &Api, output: &Output) -> anyhow::Result<()> {
    match &args.event_type {
        Some(event_type) => send_one(&args, event_type, gateway, output).await,
        None => send_many(&args, gateway, output).await,
    }
}

async fn send_one(
    args: &Args,
    event_type: &str,
    gateway: &Api,
    output: &Output,
) -> anyhow::Result<()> {
    let payload: Value = serde_json::from_str(&args.payload).map_err(|error| {
        Failure::new(
            Exit::Invalid,
            format!("invalid --payload: not JSON ({error})"),
        )
    })?;
    let mut body = json!({"type": event_type, "payload": payload});
    if let Some(key) = &args.idempotency_key {
        body["idempotency_key"] = Value::String(key.clone());
    }
    let accepted = gateway.post("/v1/events", &body).await?;
    let id = crate::output::cell(accepted.get("id"));
    output.print(&accepted, || {
        if accepted.get("duplicate") == Some(&Value::Bool(true)) {
            format!("{id} (already stored under this idempotency key)")
        } else {
            id.clone()
        }
    })
}

/// One line of input: its number and the event, or why it is not one.
type Line = (usize, Result<Value, String>);

async fn send_many(args: &Args, gateway: &Api, output: &Output) -> anyhow::Result<()> {
    let lines = read_lines(args.file.as_ref())?;
    let total = lines.len();
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut progress = Progress::new(total);
    let mut events = Vec::with_capacity(total);
    for (line, parsed) in lines {
        match parsed {
            Ok(event) => events.push((line, event)),
            Err(reason) => summary.refusals.push(Refusal {
                line,
                status: None,
                reason,
            }),
        }
    }
    progress.advance(summary.refusals.len());
    let batch_size = usize::from(args.batch_size).min(MAX_BATCH);
    let batches: Vec<Vec<(usize, Value)>> = events
        .chunks(batch_size)
        .map(<[(usize, Value)]>::to_vec)
        .collect();
    let mut answers = futures_util::stream::iter(batches)
        .map(|batch| send_batch(gateway, batch))
        .buffer_unordered(usize::from(args.concurrency));
    while let Some(answer) = answers.next().await {
        let (sent, outcome) = answer?;
        progress.advance(sent);
        summary.add(outcome);
    }
    progress.finish();
    summary.rejected = summary.refusals.len();
    summary.refusals.sort_by_key(|refusal| refusal.line);
    summary.seconds = started.elapsed().as_secs_f64();
    summary.events_per_second = if summary.seconds > 0.0 {
        (summary.accepted as f64 / summary.seconds).round()
    } else {
        0.0
    };
    output.print(&summary, || summary.text())?;
    if summary.rejected > 0 {
        return Err(Failure::new(
            Exit::Invalid,
            format!(
                "{} of {total} events were rejected (reasons above)",
                summary.rejected
            ),
        )
        .into());
    }
    Ok(())
}

/// The input's non-blank lines, each parsed as JSON.
fn read_lines(file: Option<&PathBuf>) -> anyhow::Result<Vec<Line>> {
    let reader: Box<dyn BufRead> = match file {
        Some(path) if path.as_os_str() != "-" => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?,
        )),
        _ => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(Failure::new(
                    Exit::Invalid,
                    "nothing to send: give --type (one event), --file, or pipe JSON lines on stdin",
                )
                .into());
            }
            Box::new(stdin.lock())
        }
    };
    let mut lines = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.context("cannot read the input")?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed =
            serde_json::from_str::<Value>(&line).map_err(|error| format!("not JSON: {error}"));
        lines.push((index + 1, parsed));
    }
    Ok(lines)
}

/// What one batch did: accepted, duplicates and refusals.
#[derive(Debug, Default)]
struct BatchOutcome {
    accepted: usize,
    duplicates: usize,
    refusals: Vec<Refusal>,
}

impl Summary {
    fn add(&mut self, outcome: BatchOutcome) {
        self.accepted += outcome.accepted;
        self.duplicates += outcome.duplicates;
        self.refusals.extend(outcome.refusals);
    }

    fn text(&self) -> String {
        let mut lines: Vec<String> = self
            .refusals
            .iter()
            .take(SHOWN_REFUSALS)
            .map(|refusal| format!("line {}: {}", refusal.line, refusal.reason))
            .collect();
        if self.refusals.len() > SHOWN_REFUSALS {
            lines.push(format!(
                "… and {} more (--json lists them all)",
                self.refusals.len() - SHOWN_REFUSALS
            ));
        }
        lines.push(format!(
            "{} accepted ({} duplicates), {} rejected in {:.1} s ({} events/s)",
            self.accepted, self.duplicates, self.rejected, self.seconds, self.events_per_second
        ));
        lines.join("\n")
    }
}

/// Posts one batch, trying again while the gateway is overloaded or away;
/// returns how many events it held and what became of them.
async fn send_batch(
    gateway: &Api,
    batch: Vec<(usize, Value)>,
) -> anyhow::Result<(usize, BatchOutcome)> {
    let line_numbers: Vec<usize> = batch.iter().map(|(line, _)| *line).collect();
    let events: Vec<Value> = batch.into_iter().map(|(_, event)| event).collect();
    let body = json!({"events": events});
    let mut delay = Duration::from_millis(200);
    let mut tries = 0;
    let answer = loop {
        tries += 1;
        match gateway.post("/v1/events/batch", &body).await {
            Ok(answer) => break answer,
            Err(error) => {
                let retry = error
                    .downcast_ref::<Failure>()
                    .is_some_and(|failure| failure.exit == Exit::Unavailable);
                if !retry || tries >= BATCH_TRIES {
                    return Err(error);
                }
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    };
    let mut outcome = BatchOutcome::default();
    let results = answer
        .get("results")
        .and_then(Value::as_array)
        .context("the gateway's batch answer has no results")?;
    for result in results {
        let index = result.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
        let line = line_numbers.get(index).copied().unwrap_or(0);
        let status = result.get("status").and_then(Value::as_u64).unwrap_or(0) as u16;
        if status == 202 {
            outcome.accepted += 1;
            if result.get("duplicate") == Some(&Value::Bool(true)) {
                outcome.duplicates += 1;
            }
        } else {
            let problem = result.get("error").cloned().unwrap_or_default();
            let reason = crate::api::describe_problem(
                reqwest::StatusCode::from_u16(status)
                    .unwrap_or(reqwest::StatusCode::UNPROCESSABLE_ENTITY),
                &problem,
            );
            outcome.refusals.push(Refusal {
                line,
                status: Some(status),
                reason,
            });
        }
    }
    Ok((line_numbers.len(), outcome))
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
struct Progress {
    total: usize,
    done: usize,
    started: Instant,
    visible: bool,
}

impl Progress {
    fn new(total: usize) -> Self {
        Self {
            total,
            done: 0,
            started: Instant::now(),
            visible: std::io::stderr().is_terminal() && total > 0,
        }
    }

    fn advance(&mut self, count: usize) {
        self.done += count;
        if !self.visible {
            return;
        }
        const WIDTH: usize = 30;
        let filled = WIDTH * self.done / self.total.max(1);
        let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let mut stderr = std::io::stderr();
        let _ = write!(
            stderr,
            "\r[{}{}] {}/{} events  {:.0}/s ",
            "#".repeat(filled),
            " ".repeat(WIDTH - filled),
            self.done,
            self.total,
            rate
        );
        let _ = stderr.flush();
    }

    fn finish(&self) {
        if self.visible {
            eprintln!();
        }
    }
}
