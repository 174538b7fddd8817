//! `ingest-gateway` binary: load config, start telemetry, serve until SIGTERM, flush.
use eventflow_runtime::{shutdown, telemetry::Telemetry, tls};
use ingest_gateway::{Application, Config, SERVICE_NAME};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tls::install_crypto_provider();
    let config = Config::load()?;
    let otlp_endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok();
    let telemetry = Telemetry::init(SERVICE_NAME, &config.service.log, otlp_endpoint.as_deref())?;
    let app = Application::build(config).await;
    let outcome = async { app?.run_until(shutdown::sigterm_or_ctrl_c()).await }.await;
    telemetry.shutdown().await;
    outcome
}
