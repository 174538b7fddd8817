//! `eventflow migrate`: applies pending migrations.

use anyhow::Context;
use eventflow_store::Store;
use serde::Serialize;

use crate::output::Output;

#[derive(Debug, Serialize)]
struct Migrated {
    applied: Vec<String>,
}

/// Applies every pending migration and prints the names of those applied.
pub async fn run(store: &Store, output: &Output) -> anyhow::Result<()> {
    let applied = store.migrate().await.context("cannot apply migrations")?;
    let migrated = Migrated { applied };
    output.print(&migrated, || {
        if migrated.applied.is_empty() {
            "database is up to date".to_owned()
        } else {
            migrated
                .applied
                .iter()
                .map(|name| format!("applied {name}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
    })
}
