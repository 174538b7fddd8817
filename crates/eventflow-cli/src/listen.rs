//! `eventflow listen`: a receiver on this machine for a developer — creates
//! (or reuses) an endpoint pointing at it, verifies and prints each delivery,
//! optionally forwards it, and removes the endpoint on exit.

use std::net::{Ipv4Addr, SocketAddr};

use serde_json::{Value, json};

use crate::api::Api;
use crate::output::Output;
use crate::receiver::{Received, Receiver, secrets_of};

/// How `listen` marks its endpoints, so a later run reuses one left behind.
const DESCRIPTION: &str = "eventflow listen";

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  eventflow listen\n  eventflow listen --events 'order.*' --forward-to http://localhost:3000/webhooks\n\nThe query API must accept loopback URLs (eventflow dev does; a deployed stack needs EVENTFLOW_ENDPOINT_ALLOW_NETS to include 127.0.0.0/8)."
)]
pub struct Args {
    /// Port on 127.0.0.1 to listen on (0: any free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Comma-separated event types to receive.
    #[arg(long, default_value = "*")]
    events: String,
    /// Also POST each verified delivery here (with its webhook-* headers), answering with its status.
    #[arg(long)]
    forward_to: Option<String>,
    /// Keep the endpoint on exit.
    #[arg(long)]
    keep: bool,
}

pub async fn run(args: Args, api: &Api, output: &Output) -> anyhow::Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let (receiver, mut deliveries) = Receiver::start(addr, args.forward_to.clone())?;
    let url = format!("http://{}/webhooks", receiver.addr);
    let outcome = async {
        let endpoint_id = find_or_create(api, &url, &args.events).await?;
        let secret = api
            .get(&format!("/v1/endpoints/{endpoint_id}/secret"), &[])
            .await?;
        receiver.set_secrets(secrets_of(&secret)?);
        let ready = json!({"listening": url, "endpoint_id": endpoint_id});
        output.print(&ready, || {
            format!("listening on {url} for endpoint {endpoint_id} (ctrl-c stops and removes it)")
        })?;
        let stop = eventflow_runtime::shutdown::sigterm_or_ctrl_c();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                Some(received) = deliveries.recv() => print(&received, output)?,
            }
        }
        anyhow::Ok(endpoint_id)
    }
    .await;
    receiver.stop().await;
    let endpoint_id = outcome?;
    if !args.keep {
        api.delete(&format!("/v1/endpoints/{endpoint_id}")).await?;
        if !output.is_json() {
            eprintln!("removed endpoint {endpoint_id}");
        }
    }
    Ok(())
}

/// The id of this URL's `listen` endpoint, created when there is none.
async fn find_or_create(api: &Api, url: &str, events: &str) -> anyhow::Result<String> {
    let existing = crate::paging::Paging {
        all: true,
        ..Default::default()
    }
    .fetch(api, "/v1/endpoints", Vec::new())
    .await?;
    let found = existing
        .get("data")
        .and_then(Value::as_array)
        .and_then(|endpoints| {
            endpoints.iter().find(|endpoint| {
                endpoint.get("url").and_then(Value::as_str) == Some(url)
                    && endpoint.get("description").and_then(Value::as_str) == Some(DESCRIPTION)
            })
        })
        .and_then(|endpoint| endpoint.get("id").and_then(Value::as_str));
    if let Some(id) = found {
        return Ok(id.to_owned());
    }
    let types: Vec<&str> = events.split(',').map(str::trim).collect();
    let created = api
        .post(
            "/v1/endpoints",
            &json!({"url": url, "event_types": types, "description": DESCRIPTION}),
        )
        .await?;
    Ok(crate::output::cell(created.get("id")))
}

fn print(received: &Received, output: &Output) -> anyhow::Result<()> {
    output.print(received, || {
        let mark = if received.verified {
            "verified"
        } else {
            "REFUSED"
        };
        let problem = received
            .problem
            .as_deref()
            .map(|problem| format!(" ({problem})"))
            .unwrap_or_default();
        let forwarded = received
            .forwarded
            .as_deref()
            .map(|answer| format!(" → forwarded: {answer}"))
            .unwrap_or_default();
        format!(
            "{mark}{problem} {} {}{forwarded}\n  {}",
            received.id, received.event_type, received.data
        )
    })
}
