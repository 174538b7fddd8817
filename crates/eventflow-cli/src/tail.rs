//! `eventflow tail`: follows events and their deliveries live by polling the
//! query API — one line per new event and per change of a delivery (status,
//! attempt, latency); with `--json`, one JSON object per line.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use eventflow_domain::format_rfc3339;
use serde_json::{Value, json};

use crate::api::Api;
use crate::output::{Output, cell};
use crate::paging::push_opt;

/// Items read per poll; more arriving within one interval wait for the next.
const PAGE: &str = "200";
/// How long ago the tail starts, so an event sent as it starts is not missed.
const LOOK_BACK: Duration = Duration::from_secs(1);

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  eventflow tail\n  eventflow tail --type 'order.*' --endpoint ep_… --json"
)]
pub struct Args {
    /// Only events of this type (exact, `prefix.*` or `*`).
    #[arg(long = "type")]
    event_type: Option<String>,
    /// ep_…: only events delivered to this endpoint, and only its deliveries.
    #[arg(long)]
    endpoint: Option<String>,
    /// How often to ask, e.g. 500ms or 2s.
    #[arg(long, default_value = "500ms", value_parser = parse_interval)]
    interval: Duration,
}

fn parse_interval(raw: &str) -> Result<Duration, String> {
    eventflow_domain::parse_duration(raw).map_err(|error| error.to_string())
}

/// What the tail has printed so far.
#[derive(Debug, Default)]
struct Seen {
    events: HashSet<String>,
    /// Delivery id → (status, attempt count) last printed.
    deliveries: HashMap<String, (String, i64)>,
}

pub async fn run(args: Args, api: &Api, output: &Output) -> anyhow::Result<()> {
    let since = format_rfc3339(time::OffsetDateTime::now_utc() - LOOK_BACK);
    let mut seen = Seen::default();
    if !output.is_json() {
        eprintln!("following events since {since} (ctrl-c stops)");
    }
    let stop = eventflow_runtime::shutdown::sigterm_or_ctrl_c();
    tokio::pin!(stop);
    loop {
        poll(&args, api, output, &since, &mut seen).await?;
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = tokio::time::sleep(args.interval) => {}
        }
    }
}

/// Follows every event and delivery until `stop`, as the `eventflow dev`
/// console: a failed poll is logged and tried again rather than ending it.
pub async fn follow_quietly(api: Api, output: Output, stop: tokio_util::sync::CancellationToken) {
    let args = Args {
        event_type: None,
        endpoint: None,
        interval: Duration::from_millis(500),
    };
    let since = format_rfc3339(time::OffsetDateTime::now_utc() - LOOK_BACK);
    let mut seen = Seen::default();
    let mut failing = false;
    loop {
        match poll(&args, &api, &output, &since, &mut seen).await {
            Ok(()) => failing = false,
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(error = %format!("{error:#}"), "the console cannot read events");
            }
            Err(_) => {}
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(args.interval) => {}
        }
    }
}

async fn poll(
    args: &Args,
    api: &Api,
    output: &Output,
    since: &str,
    seen: &mut Seen,
) -> anyhow::Result<()> {
    let mut query = vec![("since", since.to_owned()), ("limit", PAGE.to_owned())];
    push_opt(&mut query, "type", &args.event_type);
    push_opt(&mut query, "endpoint_id", &args.endpoint);
    let events = api.get("/v1/events", &query).await?;
    // Pages are newest first; print oldest first.
    for event in data(&events).iter().rev() {
        let id = cell(event.get("id"));
        if seen.events.insert(id.clone()) {
            let mut line = event.clone();
            line["kind"] = json!("event");
            output.print(&line, || {
                format!(
                    "{}  event     {id}  {}",
                    cell(event.get("received_at")),
                    cell(event.get("type"))
                )
            })?;
        }
    }
    let mut query = vec![("limit", PAGE.to_owned())];
    push_opt(&mut query, "endpoint_id", &args.endpoint);
    let deliveries = api.get("/v1/deliveries", &query).await?;
    for delivery in data(&deliveries).iter().rev() {
        if !seen.events.contains(&cell(delivery.get("event_id"))) {
            continue;
        }
        let id = cell(delivery.get("id"));
        let state = (
            cell(delivery.get("status")),
            delivery
                .get("attempt_count")
                .and_then(Value::as_i64)
                .unwrap_or(0),
        );
        if seen.deliveries.get(&id) == Some(&state) {
            continue;
        }
        seen.deliveries.insert(id.clone(), state.clone());
        let latency = last_attempt_latency(api, &id, state.1).await;
        let mut line = delivery.clone();
        line["kind"] = json!("delivery");
        line["latency_ms"] = json!(latency);
        output.print(&line, || {
            let at = delivery
                .get("last_attempt_at")
                .map(|at| cell(Some(at)))
                .unwrap_or_default();
            let latency = latency
                .map(|ms| format!("{ms:.0} ms"))
                .unwrap_or("-".into());
            let code = cell(delivery.get("last_status_code"));
            let error = match delivery.get("last_error").and_then(Value::as_str) {
                Some(error) => format!("  {error}"),
                None => String::new(),
            };
            format!(
                "{at}  delivery  {id}  {}  {:<9} attempt {}  http {code}  {latency}{error}",
                cell(delivery.get("endpoint_id")),
                state.0,
                state.1
            )
        })?;
    }
    Ok(())
}

fn data(page: &Value) -> &[Value] {
    page.get("data")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The duration of the delivery's latest attempt, when it had one.
async fn last_attempt_latency(api: &Api, delivery_id: &str, attempts: i64) -> Option<f64> {
    if attempts == 0 {
        return None;
    }
    let page = api
        .get(
            &format!("/v1/deliveries/{delivery_id}/attempts"),
            &[("limit", "1".to_owned())],
        )
        .await
        .ok()?;
    data(&page).first()?.get("duration_ms")?.as_f64()
}
