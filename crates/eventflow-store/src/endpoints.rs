use eventflow_domain::{EndpointId, EndpointSecret, ProjectId};

use crate::{Store, StoreError};

/// What creating an endpoint takes; the URL and filters are validated by the caller.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub project_id: ProjectId,
    pub url: String,
    pub description: String,
    /// Event-type filters: exact types, `prefix.*` or `*`.
    pub event_types: Vec<String>,
}

/// An endpoint just created, with the secret that signs its deliveries.
#[derive(Debug, Clone)]
pub struct CreatedEndpoint {
    pub id: EndpointId,
    pub project_id: ProjectId,
    pub url: String,
    pub event_types: Vec<String>,
    pub secret: EndpointSecret,
}

impl Store {
    /// Creates an enabled endpoint with a fresh signing secret; NotFound if the project does not exist.
    #[tracing::instrument(skip_all, fields(project_id = %endpoint.project_id))]
    pub async fn create_endpoint(
        &self,
        endpoint: NewEndpoint,
    ) -> Result<CreatedEndpoint, StoreError> {
        let id = EndpointId::new();
        let secret = EndpointSecret::generate();
        let client = self.connection().await?;
        client
            .query_opt(
                "INSERT INTO endpoints (id, project_id, url, description, event_types, secret) \
                 SELECT $1, id, $3, $4, $5, $6 FROM projects WHERE id = $2 RETURNING id",
                &[
                    &id.uuid(),
                    &endpoint.project_id.uuid(),
                    &endpoint.url,
                    &endpoint.description,
                    &endpoint.event_types,
                    &secret.as_str(),
                ],
            )
            .await?
            .ok_or(StoreError::NotFound { what: "project" })?;
        Ok(CreatedEndpoint {
            id,
            project_id: endpoint.project_id,
            url: endpoint.url,
            event_types: endpoint.event_types,
            secret,
        })
    }
}
