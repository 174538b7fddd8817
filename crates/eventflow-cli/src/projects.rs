//! `eventflow projects`: tenants.

use anyhow::{Context, bail};
use eventflow_store::Store;

use crate::output::Output;

/// The longest project name the schema accepts.
const MAX_NAME_CHARS: usize = 200;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a project and print its id.
    Create {
        /// A name for humans, 1 to 200 characters.
        name: String,
        /// Sustained events per second (default: the gateway's setting).
        #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
        rate_limit: Option<i32>,
        /// Events allowed in a burst above the sustained rate (default: the gateway's setting).
        #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
        burst: Option<i32>,
    },
}

pub async fn run(command: Command, store: &Store, output: &Output) -> anyhow::Result<()> {
    match command {
        Command::Create {
            name,
            rate_limit,
            burst,
        } => {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
                bail!("invalid project name: must be 1 to {MAX_NAME_CHARS} characters");
            }
            let project = store
                .create_project(name, rate_limit, burst)
                .await
                .context("cannot create the project")?;
            output.print(&project, || project.id.to_string())
        }
    }
}
