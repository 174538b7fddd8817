//! `eventflow keys`: API keys through the query API. A key's plaintext is
//! printed once, at creation; the service keeps only its hash.

use anyhow::Context;
use eventflow_domain::{format_rfc3339, parse_duration, parse_rfc3339};
use serde_json::{Value, json};

use crate::api::Api;
use crate::output::Output;
use crate::paging::{Paging, push_opt};

const COLUMNS: &[&str] = &[
    "id",
    "name",
    "scopes",
    "created_at",
    "expires_at",
    "revoked_at",
];

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List a project's keys (never the keys themselves).
    List {
        /// prj_… (required with the operator token; an admin key lists its own project's).
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Create a key and print it (shown only this once) and its id.
    #[command(
        after_help = "Examples:\n  eventflow keys create --scopes ingest --name checkout\n  eventflow keys create --project prj_… --scopes ingest,read --expires-in 90d"
    )]
    Create {
        /// prj_… (required with the operator token; an admin key creates keys for its own project).
        #[arg(long)]
        project: Option<String>,
        /// Comma-separated scopes: ingest, read, admin.
        #[arg(long)]
        scopes: String,
        /// A label to tell keys apart.
        #[arg(long)]
        name: Option<String>,
        /// Refuse the key from this RFC 3339 instant on (e.g. 2027-01-01T00:00:00Z).
        #[arg(long, conflicts_with = "expires_in")]
        expires_at: Option<String>,
        /// Refuse the key after this long from now (e.g. 90d, 12h).
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// Revoke a key; requests with it fail from then on.
    Revoke {
        /// The key's id (key_…), not the key itself.
        id: String,
    },
}

pub async fn run(command: Command, api: &Api, output: &Output) -> anyhow::Result<()> {
    match command {
        Command::List { project, paging } => {
            let mut query = Vec::new();
            push_opt(&mut query, "project_id", &project);
            output.list(&paging.fetch(api, "/v1/api-keys", query).await?, COLUMNS)
        }
        Command::Create {
            project,
            scopes,
            name,
            expires_at,
            expires_in,
        } => {
            let scopes: Vec<&str> = scopes.split(',').map(str::trim).collect();
            let mut body = json!({"scopes": scopes});
            if let Some(project) = project {
                body["project_id"] = json!(project);
            }
            if let Some(name) = name {
                body["name"] = json!(name);
            }
            if let Some(at) = expiry(expires_at.as_deref(), expires_in.as_deref())? {
                body["expires_at"] = json!(format_rfc3339(at));
            }
            let created = api.post("/v1/api-keys", &body).await?;
            output.print(&created, || created_text(&created))
        }
        Command::Revoke { id } => {
            api.delete(&format!("/v1/api-keys/{id}")).await?;
            let revoked = api.get(&format!("/v1/api-keys/{id}"), &[]).await?;
            output.print(&revoked, || format!("revoked {id}"))
        }
    }
}

fn created_text(created: &Value) -> String {
    let field = |name: &str| crate::output::cell(created.get(name));
    let expiry = match created.get("expires_at").and_then(Value::as_str) {
        Some(at) => format!(", expires {at}"),
        None => String::new(),
    };
    format!(
        "{}\nkey id {} (project {}, scopes {}{expiry}); the key is shown only this once",
        field("key"),
        field("id"),
        field("project_id"),
        field("scopes"),
    )
}

/// The instant `--expires-at` names or `--expires-in` reaches from now.
fn expiry(
    expires_at: Option<&str>,
    expires_in: Option<&str>,
) -> anyhow::Result<Option<time::OffsetDateTime>> {
    let now = time::OffsetDateTime::now_utc();
    let at = match (expires_at, expires_in) {
        (Some(raw), _) => parse_rfc3339(raw).context("invalid --expires-at")?,
        (None, Some(raw)) => {
            let duration = parse_duration(raw).context("invalid --expires-in")?;
            now.checked_add(time::Duration::try_from(duration).context("invalid --expires-in")?)
                .context("invalid --expires-in: too far in the future")?
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(at))
}
