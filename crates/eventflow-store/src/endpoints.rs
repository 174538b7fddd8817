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

/// An endpoint as stored, with what delivering to it needs. Filters and
/// secrets stay in their stored text form; the dispatcher parses them.
#[derive(Debug, Clone)]
pub struct EndpointRecord {
    pub id: EndpointId,
    pub project_id: ProjectId,
    pub url: String,
    pub event_types: Vec<String>,
    pub payload_filter: Option<serde_json::Value>,
    pub headers: serde_json::Value,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<time::OffsetDateTime>,
    pub enabled: bool,
    pub paused: bool,
    pub rate_limit_per_second: Option<i32>,
    pub max_concurrency: i32,
    pub created_at: time::OffsetDateTime,
}

impl EndpointRecord {
    fn from_row(row: &tokio_postgres::Row) -> Self {
        Self {
            id: EndpointId::from_uuid(row.get("id")),
            project_id: ProjectId::from_uuid(row.get("project_id")),
            url: row.get("url"),
            event_types: row.get("event_types"),
            payload_filter: row.get("payload_filter"),
            headers: row.get("headers"),
            secret: row.get("secret"),
            previous_secret: row.get("previous_secret"),
            previous_secret_expires_at: row.get("previous_secret_expires_at"),
            enabled: row.get("enabled"),
            paused: row.get("paused"),
            rate_limit_per_second: row.get("rate_limit_per_second"),
            max_concurrency: row.get("max_concurrency"),
            created_at: row.get("created_at"),
        }
    }
}

const ENDPOINT_COLUMNS: &str = "id, project_id, url, event_types, payload_filter, headers, secret, previous_secret, \
     previous_secret_expires_at, enabled, paused, rate_limit_per_second, max_concurrency, created_at";

impl Store {
    /// Returns every endpoint of the project, enabled or not.
    #[tracing::instrument(level = "debug", skip_all, fields(project_id = %project_id))]
    pub async fn project_endpoints(
        &self,
        project_id: ProjectId,
    ) -> Result<Vec<EndpointRecord>, StoreError> {
        let client = self.connection().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE project_id = $1 ORDER BY id"
                ),
                &[&project_id.uuid()],
            )
            .await?;
        Ok(rows.iter().map(EndpointRecord::from_row).collect())
    }

    /// Returns the endpoint, or NotFound.
    pub async fn endpoint(&self, id: EndpointId) -> Result<EndpointRecord, StoreError> {
        let client = self.connection().await?;
        let row = client
            .query_opt(
                &format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = $1"),
                &[&id.uuid()],
            )
            .await?
            .ok_or(StoreError::NotFound { what: "endpoint" })?;
        Ok(EndpointRecord::from_row(&row))
    }

    /// Pauses or resumes deliveries to the endpoint; NotFound if it does not exist.
    pub async fn set_endpoint_paused(
        &self,
        id: EndpointId,
        paused: bool,
    ) -> Result<(), StoreError> {
        let client = self.connection().await?;
        let updated = client
            .execute(
                "UPDATE endpoints SET paused = $2, updated_at = now() WHERE id = $1",
                &[&id.uuid(), &paused],
            )
            .await?;
        if updated == 0 {
            return Err(StoreError::NotFound { what: "endpoint" });
        }
        Ok(())
    }

    /// Records that deliveries to these endpoints succeeded: they are no longer failing.
    pub async fn record_endpoint_successes(&self, ids: &[EndpointId]) -> Result<(), StoreError> {
        let ids: Vec<uuid::Uuid> = ids.iter().map(|id| id.uuid()).collect();
        let client = self.connection().await?;
        client
            .execute(
                "UPDATE endpoints SET last_success_at = now(), failing_since = NULL \
                 WHERE id = ANY($1) AND (failing_since IS NOT NULL OR last_success_at IS NULL \
                                         OR last_success_at < now() - interval '1 minute')",
                &[&ids],
            )
            .await?;
        Ok(())
    }

    /// Records that deliveries to these endpoints failed (keeps the earliest failure time).
    pub async fn record_endpoint_failures(&self, ids: &[EndpointId]) -> Result<(), StoreError> {
        let ids: Vec<uuid::Uuid> = ids.iter().map(|id| id.uuid()).collect();
        let client = self.connection().await?;
        client
            .execute(
                "UPDATE endpoints SET failing_since = now() WHERE id = ANY($1) AND failing_since IS NULL",
                &[&ids],
            )
            .await?;
        Ok(())
    }

    /// Disables endpoints that have failed without a single success for longer
    /// than `period`; returns the ids disabled.
    pub async fn disable_failing_endpoints(
        &self,
        period: std::time::Duration,
    ) -> Result<Vec<EndpointId>, StoreError> {
        let cutoff = time::OffsetDateTime::now_utc() - period;
        let client = self.connection().await?;
        let rows = client
            .query(
                "UPDATE endpoints SET enabled = false, updated_at = now(), \
                        disabled_reason = 'failing without a success since ' || failing_since::text \
                 WHERE enabled AND failing_since < $1 RETURNING id",
                &[&cutoff],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| EndpointId::from_uuid(row.get(0)))
            .collect())
    }
}
