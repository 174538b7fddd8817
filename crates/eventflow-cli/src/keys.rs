//! `eventflow keys`: API keys. A key's plaintext is printed once, at creation;
//! the database keeps only its hash.

use anyhow::Context;
use eventflow_domain::{ApiKeyId, ProjectId, Scopes};
use eventflow_store::Store;
use serde::Serialize;

use crate::output::Output;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a key and print it (shown only this once) and its id.
    Create {
        /// The project the key belongs to (prj_…).
        #[arg(long)]
        project: String,
        /// Comma-separated scopes: ingest, read, admin.
        #[arg(long)]
        scopes: String,
        /// A label to tell keys apart.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Revoke a key; requests with it fail from then on.
    Revoke {
        /// The key's id (key_…), not the key itself.
        id: String,
    },
}

#[derive(Debug, Serialize)]
struct CreatedKey<'a> {
    id: ApiKeyId,
    project_id: ProjectId,
    name: &'a str,
    scopes: Scopes,
    /// The key itself; not stored, so not shown again.
    key: &'a str,
}

#[derive(Debug, Serialize)]
struct RevokedKey {
    id: ApiKeyId,
    revoked: bool,
}

pub async fn run(command: Command, store: &Store, output: &Output) -> anyhow::Result<()> {
    match command {
        Command::Create {
            project,
            scopes,
            name,
        } => {
            let project_id = ProjectId::parse(&project).context("invalid --project")?;
            let scopes = Scopes::parse_list(&scopes).context("invalid --scopes")?;
            let created = store
                .create_api_key(project_id, &name, &scopes)
                .await
                .context("cannot create the key")?;
            let shown = CreatedKey {
                id: created.record.id,
                project_id,
                name: &created.record.name,
                scopes: created.record.scopes,
                key: created.plaintext.expose(),
            };
            output.print(&shown, || {
                format!(
                    "{}\nkey id {} (project {project_id}, scopes {}); the key is shown only this once",
                    shown.key, shown.id, shown.scopes
                )
            })
        }
        Command::Revoke { id } => {
            let id = ApiKeyId::parse(&id).context("invalid key id")?;
            store
                .revoke_api_key(id)
                .await
                .context("cannot revoke the key")?;
            output.print(&RevokedKey { id, revoked: true }, || {
                format!("revoked {id}")
            })
        }
    }
}
