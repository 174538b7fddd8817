//! `query-api` binary: everything is in `eventflow_runtime::serve::main`.
use query_api::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    eventflow_runtime::serve::main::<Application>().await
}
