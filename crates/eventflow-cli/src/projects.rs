//! `eventflow projects`: through the query API. Creating a project, and
//! changing its rate limit or retention, takes the operator token.

use serde_json::{Map, Value, json};

use crate::api::Api;
use crate::output::Output;

const COLUMNS: &[&str] = &[
    "id",
    "name",
    "rate_limit_per_second",
    "rate_limit_burst",
    "retention_days",
];

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the projects the key may manage (all of them with the operator token).
    List,
    /// Show one project.
    Get {
        /// prj_…
        id: String,
    },
    /// Create a project (operator token).
    #[command(
        after_help = "Example:\n  EVENTFLOW_KEY=$(cat .eventflow/admin-token) eventflow projects create shop --rate-limit 100"
    )]
    Create {
        /// The project's name.
        name: String,
        #[command(flatten)]
        settings: Settings,
    },
    /// Change a project: its name (admin key), rate limit or retention (operator token).
    Update {
        /// prj_…
        id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(Debug, clap::Args)]
pub struct Settings {
    /// Events per second the gateway accepts.
    #[arg(long)]
    rate_limit: Option<i32>,
    /// Events allowed in a burst.
    #[arg(long)]
    burst: Option<i32>,
    /// Days events are kept.
    #[arg(long)]
    retention_days: Option<i32>,
}

impl Settings {
    fn into_body(self, mut body: Map<String, Value>) -> Value {
        for (name, value) in [
            ("rate_limit_per_second", self.rate_limit),
            ("rate_limit_burst", self.burst),
            ("retention_days", self.retention_days),
        ] {
            if let Some(value) = value {
                body.insert(name.into(), json!(value));
            }
        }
        Value::Object(body)
    }
}

pub async fn run(command: Command, api: &Api, output: &Output) -> anyhow::Result<()> {
    match command {
        Command::List => output.list(&api.get("/v1/projects", &[]).await?, COLUMNS),
        Command::Get { id } => output.object(&api.get(&format!("/v1/projects/{id}"), &[]).await?),
        Command::Create { name, settings } => {
            let mut body = Map::new();
            body.insert("name".into(), json!(name));
            output.object(&api.post("/v1/projects", &settings.into_body(body)).await?)
        }
        Command::Update { id, name, settings } => {
            let mut body = Map::new();
            if let Some(name) = name {
                body.insert("name".into(), json!(name));
            }
            let body = settings.into_body(body);
            output.object(&api.patch(&format!("/v1/projects/{id}"), &body).await?)
        }
    }
}
