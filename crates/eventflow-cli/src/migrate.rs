//! `eventflow migrate`: applies pending migrations.

use anyhow::Context;
use eventflow_store::{Store, StoreError};
use serde::Serialize;

use crate::output::Output;

#[derive(Debug, Serialize)]
struct Migrated {
    applied: Vec<String>,
    /// Endpoints whose signing secrets were encrypted now (with
    /// EVENTFLOW_SECRETS_KEY set); null without the key.
    sealed_endpoint_secrets: Option<u64>,
}

/// Applies every pending migration and prints the names of those applied;
/// with `EVENTFLOW_SECRETS_KEY` it also encrypts endpoint secrets stored in
/// plaintext (or under a key rotated out), as the services do on start-up.
pub async fn run(store: &Store, output: &Output) -> anyhow::Result<()> {
    let applied = store.migrate().await.context("cannot apply migrations")?;
    let sealed = match store.seal_endpoint_secrets().await {
        Ok(sealed) => Some(sealed),
        Err(StoreError::SecretsKeyMissing) => None,
        Err(error) => {
            return Err(error)
                .context("cannot encrypt endpoint secrets with EVENTFLOW_SECRETS_KEY");
        }
    };
    let migrated = Migrated {
        applied,
        sealed_endpoint_secrets: sealed,
    };
    output.print(&migrated, || {
        let mut lines: Vec<String> = migrated
            .applied
            .iter()
            .map(|name| format!("applied {name}"))
            .collect();
        if lines.is_empty() {
            lines.push("database is up to date".to_owned());
        }
        if let Some(sealed) = migrated.sealed_endpoint_secrets.filter(|n| *n > 0) {
            lines.push(format!(
                "encrypted the signing secrets of {sealed} endpoints"
            ));
        }
        lines.join("\n")
    })
}
