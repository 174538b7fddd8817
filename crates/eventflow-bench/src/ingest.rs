//! The `ingest` workload: posts events to the gateway's `POST /v1/events` (or, with
//! `--batch`, `POST /v1/events/batch`) and counts the accepted ones.

use std::fmt;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Args;
use eventflow_domain::EventId;
use reqwest::header::HeaderValue;
use reqwest::{Client, Url};
use serde::{Deserialize, Serialize};

use crate::args::RunArgs;
use crate::http::{bearer_authorization, build_client, endpoint_url, exchange, post_json};
use crate::report::Report;
use crate::runner::{self, Outcome, Workload};
use crate::stats::ErrorKind;

/// The gateway's default request body limit.
const GATEWAY_BODY_LIMIT: usize = 256 * 1024;

/// Options of `eventflow-bench ingest`.
#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    /// Base URL of the ingest gateway.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: Url,

    /// API key with the `ingest` scope, sent as `Authorization: Bearer <key>`.
    #[arg(long, env = "EVENTFLOW_API_KEY", hide_env_values = true)]
    pub key: String,

    /// Approximate size in bytes of each event's JSON body.
    #[arg(long, default_value_t = 1024)]
    pub payload_bytes: usize,

    /// Send this many events per request to `/v1/events/batch` (1 to 1000).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub batch: Option<u16>,

    #[command(flatten)]
    pub run: RunArgs,
}

/// Ingest-specific settings shown in the report.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct IngestSettings {
    pub batch: Option<u16>,
    pub payload_bytes: usize,
}

impl fmt::Display for IngestSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "payload {} B", self.payload_bytes)?;
        match self.batch {
            Some(batch) => write!(f, ", batches of {batch} events"),
            None => write!(f, ", one event per request"),
        }
    }
}

/// Runs the ingest benchmark and returns its report.
pub async fn run(args: IngestArgs) -> anyhow::Result<Report<IngestSettings>> {
    let workload = IngestWorkload::new(&args)?;
    warn_if_body_too_large(workload.typical_body_len());
    let plan = args.run.load_plan();
    let result = runner::run(workload, plan).await?;
    let settings = IngestSettings {
        batch: args.batch,
        payload_bytes: args.payload_bytes,
    };
    Ok(Report::new("ingest", &plan, settings, result))
}

/// Warns on stderr when request bodies exceed the gateway's default limit.
pub fn warn_if_body_too_large(body_len: usize) {
    if body_len > GATEWAY_BODY_LIMIT {
        eprintln!(
            "warning: request bodies of about {body_len} bytes exceed the gateway's default \
             limit of {GATEWAY_BODY_LIMIT} bytes; expect 413 answers"
        );
    }
}

/// Posts single events or batches of events with increasing sequence numbers.
struct IngestWorkload {
    client: Client,
    endpoint: Url,
    authorization: HeaderValue,
    body: EventBody,
    batch: Option<u16>,
    next_seq: AtomicU64,
}

impl IngestWorkload {
    /// Prepares the client, endpoint, credentials and body template for `args`.
    fn new(args: &IngestArgs) -> anyhow::Result<Self> {
        Ok(Self {
            client: build_client(args.run.concurrency as usize, args.run.timeout)?,
            endpoint: endpoint_url(&args.url, events_path(args.batch))?,
            authorization: bearer_authorization(&args.key)?,
            body: EventBody::sized(args.payload_bytes),
            batch: args.batch,
            next_seq: AtomicU64::new(0),
        })
    }

    /// Returns the length of a request body with a six-digit sequence number.
    fn typical_body_len(&self) -> usize {
        match self.batch {
            Some(batch) => self.body.batch(100_000, u64::from(batch)).len(),
            None => self.body.event(100_000).len(),
        }
    }

    /// Reserves `count` consecutive sequence numbers and returns the first.
    fn reserve_seqs(&self, count: u64) -> u64 {
        self.next_seq.fetch_add(count, Ordering::Relaxed)
    }

    /// Posts one event; it is accepted when the gateway answers 202.
    async fn send_event(&self) -> Outcome {
        let body = self.body.event(self.reserve_seqs(1));
        exchange(self.post(body), 1, |status, _, _| {
            classify_event_status(status)
        })
        .await
    }

    /// Posts a batch of `count` events; each item whose result has status 202 is accepted.
    async fn send_batch(&self, count: u64) -> Outcome {
        let body = self.body.batch(self.reserve_seqs(count), count);
        exchange(self.post(body), count, |status, _, answer| {
            classify_batch_answer(status, answer, count)
        })
        .await
    }

    /// Returns a POST of a JSON body with the API key to the workload's endpoint.
    fn post(&self, body: String) -> reqwest::RequestBuilder {
        post_json(&self.client, &self.endpoint, &self.authorization, body)
    }
}

impl Workload for IngestWorkload {
    async fn execute(&self, _measured: bool) -> Outcome {
        match self.batch {
            Some(batch) => self.send_batch(u64::from(batch)).await,
            None => self.send_event().await,
        }
    }
}

/// Returns the gateway path that takes single events, or batches when `batch` is set.
pub fn events_path(batch: Option<u16>) -> &'static str {
    if batch.is_some() {
        "v1/events/batch"
    } else {
        "v1/events"
    }
}

/// Interprets the status of a single-event request: 202 means accepted.
pub fn classify_event_status(status: u16) -> Outcome {
    if status == 202 {
        Outcome::accepted(1)
    } else {
        Outcome::failed(ErrorKind::Status(status), 1)
    }
}

/// The part of a batch answer the benchmark reads.
#[derive(Debug, Deserialize)]
struct BatchAnswer {
    results: Vec<BatchItemResult>,
}

/// The part of one batch item's result the benchmark reads: its status and, when the
/// item was accepted, its event id.
#[derive(Debug, Deserialize)]
struct BatchItemResult {
    status: u16,
    id: Option<String>,
}

/// Returns the ids of the items of a batch answer accepted with status 202.
pub fn accepted_event_ids(body: &[u8]) -> Vec<EventId> {
    let Ok(answer) = serde_json::from_slice::<BatchAnswer>(body) else {
        return Vec::new();
    };
    answer
        .results
        .into_iter()
        .filter(|item| item.status == 202)
        .filter_map(|item| EventId::parse(item.id.as_deref()?).ok())
        .collect()
}

/// Interprets the answer to a batch of `count` events: a 2xx status with one result per
/// item, where items with status 202 are accepted and the others count as errors by
/// status. A non-2xx status fails every event; results missing from the answer count as
/// invalid responses.
pub fn classify_batch_answer(status: u16, body: &[u8], count: u64) -> Outcome {
    if !(200..300).contains(&status) {
        return Outcome::failed(ErrorKind::Status(status), count);
    }
    let Ok(answer) = serde_json::from_slice::<BatchAnswer>(body) else {
        return Outcome::failed(ErrorKind::InvalidResponse, count);
    };
    let mut outcome = Outcome {
        succeeded: true,
        ..Outcome::default()
    };
    let mut answered = 0;
    for item in answer.results.iter().take(count as usize) {
        answered += 1;
        if item.status == 202 {
            outcome.accepted += 1;
        } else {
            add_error(&mut outcome.errors, ErrorKind::Status(item.status), 1);
        }
    }
    if answered < count {
        add_error(
            &mut outcome.errors,
            ErrorKind::InvalidResponse,
            count - answered,
        );
    }
    outcome
}

/// Adds `count` errors of `kind` to a list of error counts, merging equal kinds.
fn add_error(errors: &mut Vec<(ErrorKind, u64)>, kind: ErrorKind, count: u64) {
    match errors.iter_mut().find(|(known, _)| *known == kind) {
        Some((_, total)) => *total += count,
        None => errors.push((kind, count)),
    }
}

const EVENT_PREFIX: &str = r#"{"type":"bench.event","payload":{"data":""#;
const EVENT_MIDDLE: &str = r#"","seq":"#;
const EVENT_SUFFIX: &str = "}}";
const BATCH_PREFIX: &str = r#"{"events":["#;
const BATCH_SUFFIX: &str = "]}";
/// Sequence numbers are assumed to take this many digits when sizing the filler.
const TYPICAL_SEQ_DIGITS: usize = 6;
/// Characters repeated to fill the payload; none of them needs escaping in JSON.
const FILLER_PATTERN: &str = "abcdefghijklmnopqrstuvwxyz0123456789";

/// Builds event bodies `{"type":"bench.event","payload":{"data":"<filler>","seq":N}}`
/// whose length is about the requested number of bytes.
#[derive(Debug, Clone)]
pub struct EventBody {
    filler: String,
}

impl EventBody {
    /// Creates a template whose events take about `payload_bytes` bytes each.
    pub fn sized(payload_bytes: usize) -> Self {
        let overhead =
            EVENT_PREFIX.len() + EVENT_MIDDLE.len() + EVENT_SUFFIX.len() + TYPICAL_SEQ_DIGITS;
        let filler_len = payload_bytes.saturating_sub(overhead);
        let filler = FILLER_PATTERN.chars().cycle().take(filler_len).collect();
        Self { filler }
    }

    /// Returns the body of one event.
    pub fn event(&self, seq: u64) -> String {
        let mut body = String::with_capacity(self.event_capacity());
        self.write_event(&mut body, seq);
        body
    }

    /// Returns the body `{"events":[...]}` of `count` events numbered from `first_seq`.
    pub fn batch(&self, first_seq: u64, count: u64) -> String {
        let capacity =
            BATCH_PREFIX.len() + BATCH_SUFFIX.len() + (self.event_capacity() + 1) * count as usize;
        let mut body = String::with_capacity(capacity);
        body.push_str(BATCH_PREFIX);
        for seq in first_seq..first_seq + count {
            if seq != first_seq {
                body.push(',');
            }
            self.write_event(&mut body, seq);
        }
        body.push_str(BATCH_SUFFIX);
        body
    }

    /// Appends one event to `out`.
    fn write_event(&self, out: &mut String, seq: u64) {
        out.push_str(EVENT_PREFIX);
        out.push_str(&self.filler);
        out.push_str(EVENT_MIDDLE);
        // Writing to a String cannot fail.
        let _ = write!(out, "{seq}");
        out.push_str(EVENT_SUFFIX);
    }

    /// Returns enough capacity for one event with any sequence number.
    fn event_capacity(&self) -> usize {
        EVENT_PREFIX.len() + self.filler.len() + EVENT_MIDDLE.len() + 20 + EVENT_SUFFIX.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn event_body_is_within_five_percent_of_the_requested_size() {
        let body = EventBody::sized(1024);
        for seq in [0, 7, 123_456, 9_999_999, u64::from(u32::MAX)] {
            let len = body.event(seq).len();
            assert!((973..=1075).contains(&len), "seq {seq}: {len} bytes");
        }
        assert_eq!(body.event(123_456).len(), 1024);
    }

    #[test]
    fn event_body_is_the_documented_json() {
        let body = EventBody::sized(200).event(42);
        let value: Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(value["type"], "bench.event");
        assert_eq!(value["payload"]["seq"], 42);
        let data = value["payload"]["data"].as_str().expect("data is a string");
        assert!(data.starts_with("abcdefghij"));
        assert_eq!(value.as_object().map(|object| object.len()), Some(2));
    }

    #[test]
    fn tiny_payloads_still_build_valid_events() {
        let body = EventBody::sized(0).event(1);
        let value: Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(value["payload"]["data"], "");
    }

    #[test]
    fn batch_body_holds_numbered_events() {
        let body = EventBody::sized(1024).batch(10, 3);
        let value: Value = serde_json::from_str(&body).expect("valid JSON");
        let events = value["events"].as_array().expect("events is an array");
        let seqs: Vec<_> = events
            .iter()
            .map(|event| event["payload"]["seq"].clone())
            .collect();
        assert_eq!(seqs, vec![json!(10), json!(11), json!(12)]);
        assert!(
            (3 * 1000..=3 * 1050).contains(&body.len()),
            "{}",
            body.len()
        );
    }

    #[test]
    fn single_events_are_accepted_only_on_202() {
        assert_eq!(classify_event_status(202), Outcome::accepted(1));
        assert_eq!(
            classify_event_status(429),
            Outcome::failed(ErrorKind::Status(429), 1)
        );
        assert_eq!(
            classify_event_status(200),
            Outcome::failed(ErrorKind::Status(200), 1)
        );
    }

    #[test]
    fn batch_items_are_counted_by_status() {
        let answer = json!({"results": [
            {"status": 202, "id": "evt_1"},
            {"status": 202, "id": "evt_2"},
            {"status": 422, "error": {"type": "invalid"}},
            {"status": 202, "id": "evt_3"},
        ]});
        let outcome = classify_batch_answer(200, answer.to_string().as_bytes(), 5);
        assert!(outcome.succeeded);
        assert_eq!(outcome.accepted, 3);
        assert_eq!(
            outcome.errors,
            vec![(ErrorKind::Status(422), 1), (ErrorKind::InvalidResponse, 1)]
        );
    }

    #[test]
    fn accepted_ids_are_read_from_a_batch_answer() {
        let first = EventId::new();
        let second = EventId::new();
        let answer = json!({"accepted": 2, "rejected": 1, "results": [
            {"index": 0, "status": 202, "id": first.to_string(), "received_at": "x", "duplicate": false},
            {"index": 1, "status": 422, "error": {"type": "invalid"}},
            {"index": 2, "status": 202, "id": second.to_string(), "received_at": "x", "duplicate": false},
        ]});
        assert_eq!(
            accepted_event_ids(answer.to_string().as_bytes()),
            vec![first, second]
        );
        assert!(accepted_event_ids(b"not json").is_empty());
    }

    #[test]
    fn failed_batches_fail_every_event() {
        assert_eq!(
            classify_batch_answer(503, b"{}", 100),
            Outcome::failed(ErrorKind::Status(503), 100)
        );
        assert_eq!(
            classify_batch_answer(200, b"not json", 100),
            Outcome::failed(ErrorKind::InvalidResponse, 100)
        );
    }
}
