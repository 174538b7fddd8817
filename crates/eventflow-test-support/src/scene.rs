//! Where traffic and fault tests start: a gateway with a project, its
//! ingest key, and one endpoint taking every event type to a sink.

use eventflow_store::CreatedEndpoint;

use crate::{TestGateway, WebhookSink, spawn_gateway};

/// A gateway, a sink, a project's ingest key and its endpoint to the sink.
pub struct Scene {
    pub gateway: TestGateway,
    pub sink: WebhookSink,
    /// The project's key with the `ingest` scope.
    pub key: String,
    /// Subscribed to `*`, delivering to the sink's `/hooks`.
    pub endpoint: CreatedEndpoint,
}

impl Scene {
    /// Sets the scene up on a new gateway with the test settings.
    pub async fn start() -> Self {
        Self::on(spawn_gateway().await).await
    }

    /// Sets the scene up on `gateway`.
    pub async fn on(gateway: TestGateway) -> Self {
        let sink = WebhookSink::start().await;
        let (project, key) = gateway.create_project_with_key("ingest").await;
        let endpoint = gateway
            .create_endpoint(project, &sink.url("/hooks"), &["*"])
            .await;
        Self {
            gateway,
            sink,
            key,
            endpoint,
        }
    }
}
