//! `query-api` binary: everything is in `eventflow_runtime::serve::main`.
use query_api::{Application, Config, SERVICE_NAME};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    eventflow_runtime::serve::main(SERVICE_NAME, Config::load, Application::serve).await
}
