//! `eventflow endpoints`: where deliveries go, through the query API. The
//! project is the key's; reads need `read`, changes and the secret `admin`.
//! Creating one prints the secret that signs its deliveries.
//!
//! The URL, headers and limits are parsed with the domain types the query API
//! parses them with, so what the API would refuse is refused here, with the
//! same reason, before any request. Only the address allow-list is the
//! deployment's (`EVENTFLOW_ENDPOINT_ALLOW_NETS`) and checked by the API alone.

use anyhow::Context;
use eventflow_domain::{DomainError, EndpointHeaders, EndpointLimits, EndpointUrl};
use serde_json::{Map, Value, json};

use crate::api::{Api, Exit, Failure};
use crate::output::Output;
use crate::paging::Paging;

const COLUMNS: &[&str] = &[
    "id",
    "url",
    "event_types",
    "enabled",
    "paused",
    "failing_since",
];

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the project's endpoints.
    List {
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one endpoint.
    Get { id: String },
    /// Create an endpoint and print it with its signing secret.
    #[command(
        after_help = "Example:\n  eventflow endpoints create --url https://example.com/webhooks --event-types 'order.*'"
    )]
    Create {
        /// Where deliveries are POSTed: an http or https URL.
        #[arg(long)]
        url: String,
        #[command(flatten)]
        definition: Definition,
    },
    /// Change an endpoint; only the options given change.
    Update {
        id: String,
        /// A new URL.
        #[arg(long)]
        url: Option<String>,
        #[command(flatten)]
        definition: Definition,
    },
    /// Deliver to it again (deliveries held while disabled go out).
    Enable { id: String },
    /// Stop delivering to it; deliveries wait until it is enabled.
    Disable { id: String },
    /// Hold its deliveries until resumed.
    Pause { id: String },
    /// Release its held deliveries.
    Resume { id: String },
    /// Delete it.
    Delete { id: String },
    /// Print its signing secret (and the previous one during a rotation).
    Secret { id: String },
    /// Replace its signing secret; the old one keeps signing for the grace period.
    RotateSecret {
        id: String,
        /// How long the old secret keeps signing, in seconds (default: a day).
        #[arg(long)]
        grace_seconds: Option<u64>,
    },
    /// Send it an `eventflow.test` event now.
    Test { id: String },
    /// Send its failed deliveries created since a time again.
    Recover {
        id: String,
        /// RFC 3339, e.g. 2026-12-07T00:00:00Z.
        #[arg(long)]
        since: String,
    },
}

/// The endpoint settings shared by create and update.
#[derive(Debug, clap::Args)]
pub struct Definition {
    /// Comma-separated event types: exact types, `prefix.*` or `*` (every event; the default on create).
    #[arg(long)]
    event_types: Option<String>,
    /// A note for humans.
    #[arg(long)]
    description: Option<String>,
    /// A payload predicate as JSON (see the README's filters).
    #[arg(long)]
    payload_filter: Option<String>,
    /// A header added to every delivery, `name=value`; repeat for more.
    #[arg(long = "header")]
    headers: Vec<String>,
    /// Deliveries per second at most.
    #[arg(long)]
    rate_limit: Option<i64>,
    /// Deliveries in flight at most.
    #[arg(long)]
    max_concurrency: Option<i64>,
}

impl Definition {
    fn into_body(self, mut body: Map<String, Value>) -> anyhow::Result<Value> {
        if let Some(types) = self.event_types {
            let types: Vec<&str> = types.split(',').map(str::trim).collect();
            body.insert("event_types".into(), json!(types));
        }
        if let Some(description) = self.description {
            body.insert("description".into(), json!(description));
        }
        if let Some(filter) = self.payload_filter {
            let filter: Value =
                serde_json::from_str(&filter).context("invalid --payload-filter: not JSON")?;
            body.insert("payload_filter".into(), filter);
        }
        if !self.headers.is_empty() {
            let mut pairs = Vec::with_capacity(self.headers.len());
            for header in &self.headers {
                let (name, value) = header
                    .split_once('=')
                    .with_context(|| format!("invalid --header {header:?}: use name=value"))?;
                pairs.push((name.trim(), value));
            }
            let headers = EndpointHeaders::parse(pairs).map_err(refused)?;
            body.insert("headers".into(), headers.to_json());
        }
        if let Some(rate) = self.rate_limit {
            let rate = EndpointLimits::parse_rate_limit_per_second(rate).map_err(refused)?;
            body.insert("rate_limit_per_second".into(), json!(rate));
        }
        if let Some(concurrency) = self.max_concurrency {
            let concurrency =
                EndpointLimits::parse_max_concurrency(concurrency).map_err(refused)?;
            body.insert("max_concurrency".into(), json!(concurrency));
        }
        Ok(Value::Object(body))
    }
}

/// A part of the definition the query API would refuse: exit 3, as its refusal would.
fn refused(error: DomainError) -> anyhow::Error {
    Failure::new(Exit::Invalid, error.to_string()).into()
}

pub async fn run(command: Command, api: &Api, output: &Output) -> anyhow::Result<()> {
    let path = |id: &str| format!("/v1/endpoints/{id}");
    let answer = match command {
        Command::List { paging } => {
            let page = paging.fetch(api, "/v1/endpoints", Vec::new()).await?;
            return output.list(&page, COLUMNS);
        }
        Command::Get { id } => api.get(&path(&id), &[]).await?,
        Command::Create { url, definition } => {
            let url = EndpointUrl::parse(&url).map_err(refused)?;
            let mut body = Map::new();
            body.insert("url".into(), json!(url.as_str()));
            api.post("/v1/endpoints", &definition.into_body(body)?)
                .await?
        }
        Command::Update {
            id,
            url,
            definition,
        } => {
            let mut body = Map::new();
            if let Some(url) = url {
                let url = EndpointUrl::parse(&url).map_err(refused)?;
                body.insert("url".into(), json!(url.as_str()));
            }
            api.patch(&path(&id), &definition.into_body(body)?).await?
        }
        Command::Enable { id } => api.patch(&path(&id), &json!({"enabled": true})).await?,
        Command::Disable { id } => api.patch(&path(&id), &json!({"enabled": false})).await?,
        Command::Pause { id } => api.patch(&path(&id), &json!({"paused": true})).await?,
        Command::Resume { id } => api.patch(&path(&id), &json!({"paused": false})).await?,
        Command::Delete { id } => {
            api.delete(&path(&id)).await?;
            let deleted = json!({"id": id, "deleted": true});
            return output.print(&deleted, || format!("deleted {id}"));
        }
        Command::Secret { id } => {
            let secret = api.get(&format!("{}/secret", path(&id)), &[]).await?;
            return output.print(&secret, || crate::output::object_text(&secret));
        }
        Command::RotateSecret { id, grace_seconds } => {
            let mut body = json!({});
            if let Some(grace) = grace_seconds {
                body["grace_period_seconds"] = json!(grace);
            }
            api.post(&format!("{}/secret/rotate", path(&id)), &body)
                .await?
        }
        Command::Test { id } => api.post(&format!("{}/test", path(&id)), &json!({})).await?,
        Command::Recover { id, since } => {
            api.post(&format!("{}/recover", path(&id)), &json!({"since": since}))
                .await?
        }
    };
    output.object(&answer)
}
