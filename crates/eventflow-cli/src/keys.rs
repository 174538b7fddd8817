//! `eventflow keys`: API keys. A key's plaintext is printed once, at creation;
//! the database keeps only its hash.

use anyhow::Context;
use eventflow_domain::{
    ApiKeyId, ProjectId, Scopes, format_rfc3339, parse_duration, parse_rfc3339,
};
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

#[derive(Debug, Serialize)]
struct CreatedKey<'a> {
    id: ApiKeyId,
    project_id: ProjectId,
    name: &'a str,
    scopes: Scopes,
    /// RFC 3339; null never expires.
    expires_at: Option<String>,
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
            expires_at,
            expires_in,
        } => {
            let project_id = ProjectId::parse(&project).context("invalid --project")?;
            let scopes = Scopes::parse_list(&scopes).context("invalid --scopes")?;
            let expires_at = expiry(expires_at.as_deref(), expires_in.as_deref())?;
            let created = store
                .create_expiring_api_key(project_id, &name, &scopes, expires_at)
                .await
                .context("cannot create the key")?;
            let shown = CreatedKey {
                id: created.record.id,
                project_id,
                name: &created.record.name,
                scopes: created.record.scopes,
                expires_at: created.record.expires_at.map(format_rfc3339),
                key: created.plaintext.expose(),
            };
            output.print(&shown, || {
                let expiry = match &shown.expires_at {
                    Some(at) => format!(", expires {at}"),
                    None => String::new(),
                };
                format!(
                    "{}\nkey id {} (project {project_id}, scopes {}{expiry}); the key is shown only this once",
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

/// The instant `--expires-at` names or `--expires-in` reaches from now; it
/// must lie in the future.
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
    anyhow::ensure!(at > now, "invalid --expires-at: must be in the future");
    Ok(Some(at))
}
