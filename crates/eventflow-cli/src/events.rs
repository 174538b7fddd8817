//! `eventflow events` and `eventflow deliveries`: what was received and what
//! became of it, through the query API (`read` scope; replay and retry need
//! `admin`).

use serde_json::json;

use crate::api::Api;
use crate::output::Output;
use crate::paging::{Paging, push_opt};

const EVENT_COLUMNS: &[&str] = &["id", "type", "received_at"];
pub const DELIVERY_COLUMNS: &[&str] = &[
    "id",
    "event_id",
    "endpoint_id",
    "status",
    "attempt_count",
    "last_status_code",
    "last_error",
];

#[derive(Debug, clap::Subcommand)]
pub enum EventCommand {
    /// List events, newest first.
    #[command(
        after_help = "Examples:\n  eventflow events list --type 'order.*' --limit 20\n  eventflow events list --status failed --json"
    )]
    List {
        /// An exact type, a prefix such as `order.*`, or `*`.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// RFC 3339: received at or after.
        #[arg(long)]
        since: Option<String>,
        /// RFC 3339: received before.
        #[arg(long)]
        until: Option<String>,
        /// Only events with a delivery in this status: pending, succeeded, failed, refused.
        #[arg(long)]
        status: Option<String>,
        /// ep_…: only events with a delivery to this endpoint.
        #[arg(long)]
        endpoint: Option<String>,
        /// Include each event's payload.
        #[arg(long)]
        payload: bool,
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one event with its payload and deliveries.
    Get { id: String },
    /// Deliver an event again: to every subscribed endpoint, or the ones named.
    Replay {
        id: String,
        /// ep_…; repeat for more.
        #[arg(long = "endpoint")]
        endpoints: Vec<String>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum DeliveryCommand {
    /// List deliveries, newest first.
    #[command(after_help = "Example:\n  eventflow deliveries list --status failed --endpoint ep_…")]
    List {
        /// ep_…: only this endpoint's.
        #[arg(long)]
        endpoint: Option<String>,
        /// pending, succeeded, failed or refused.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one delivery and its attempts.
    Get { id: String },
    /// Attempt a delivery again now.
    Retry { id: String },
}

pub async fn run_events(command: EventCommand, api: &Api, output: &Output) -> anyhow::Result<()> {
    match command {
        EventCommand::List {
            event_type,
            since,
            until,
            status,
            endpoint,
            payload,
            paging,
        } => {
            let mut query = Vec::new();
            push_opt(&mut query, "type", &event_type);
            push_opt(&mut query, "since", &since);
            push_opt(&mut query, "until", &until);
            push_opt(&mut query, "status", &status);
            push_opt(&mut query, "endpoint_id", &endpoint);
            if payload {
                query.push(("include_payload", "true".into()));
            }
            let page = paging.fetch(api, "/v1/events", query).await?;
            output.list(&page, EVENT_COLUMNS)
        }
        EventCommand::Get { id } => {
            let event = api.get(&format!("/v1/events/{id}"), &[]).await?;
            output.print(&event, || {
                let mut summary = event.clone();
                let deliveries = summary
                    .as_object_mut()
                    .and_then(|object| object.remove("deliveries"))
                    .unwrap_or_default();
                let rows = deliveries.as_array().map(Vec::as_slice).unwrap_or_default();
                format!(
                    "{}\n\ndeliveries:\n{}",
                    crate::output::object_text(&summary),
                    crate::output::table(rows, DELIVERY_COLUMNS)
                )
            })
        }
        EventCommand::Replay { id, endpoints } => {
            let body = json!({"endpoint_ids": endpoints});
            let scheduled = api.post(&format!("/v1/events/{id}/replay"), &body).await?;
            output.object(&scheduled)
        }
    }
}

pub async fn run_deliveries(
    command: DeliveryCommand,
    api: &Api,
    output: &Output,
) -> anyhow::Result<()> {
    match command {
        DeliveryCommand::List {
            endpoint,
            status,
            paging,
        } => {
            let mut query = Vec::new();
            push_opt(&mut query, "endpoint_id", &endpoint);
            push_opt(&mut query, "status", &status);
            let page = paging.fetch(api, "/v1/deliveries", query).await?;
            output.list(&page, DELIVERY_COLUMNS)
        }
        DeliveryCommand::Get { id } => {
            let mut delivery = api.get(&format!("/v1/deliveries/{id}"), &[]).await?;
            let attempts = api
                .get(&format!("/v1/deliveries/{id}/attempts"), &[])
                .await?;
            let rows = attempts.get("data").cloned().unwrap_or_default();
            delivery["attempts"] = rows;
            output.print(&delivery, || {
                let mut summary = delivery.clone();
                let attempts = summary
                    .as_object_mut()
                    .and_then(|object| object.remove("attempts"))
                    .unwrap_or_default();
                let rows = attempts.as_array().map(Vec::as_slice).unwrap_or_default();
                let columns: Vec<&str> = rows
                    .first()
                    .and_then(|row| row.as_object())
                    .map(|row| row.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                format!(
                    "{}\n\nattempts:\n{}",
                    crate::output::object_text(&summary),
                    crate::output::table(rows, &columns)
                )
            })
        }
        DeliveryCommand::Retry { id } => {
            let scheduled = api
                .post(&format!("/v1/deliveries/{id}/retry"), &json!({}))
                .await?;
            output.object(&scheduled)
        }
    }
}
