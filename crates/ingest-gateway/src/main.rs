//! `ingest-gateway` binary: everything is in `eventflow_runtime::serve::main`.
use ingest_gateway::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    eventflow_runtime::serve::main::<Application>().await
}
