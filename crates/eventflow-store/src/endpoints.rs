//! Endpoints: where deliveries go, with their filters, limits and signing
//! secrets. Secrets are sealed (encrypted) on every write and opened on every
//! read with the store's [`SecretsKeyring`], so callers only ever see
//! plaintext `whsec_…` values and the table never holds one (rows from before
//! schema v5 are sealed by [`Store::seal_endpoint_secrets`]).

use eventflow_domain::{
    EndpointHeaders, EndpointId, EndpointLimits, EndpointSecret, EndpointUrl, ProjectId,
    SecretsKeyring,
};

use crate::{Store, StoreError};

/// What creating an endpoint takes; the filters are validated by the caller.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub project_id: ProjectId,
    pub url: EndpointUrl,
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
        let sealed = self.keyring()?.seal(secret.as_str(), &id.to_string());
        self.query_opt_prepared(
            "INSERT INTO endpoints (id, project_id, url, description, event_types, secret_sealed) \
                 SELECT $1, id, $3, $4, $5, $6 FROM projects WHERE id = $2 RETURNING id",
            &[
                &id.uuid(),
                &endpoint.project_id.uuid(),
                &endpoint.url.as_str(),
                &endpoint.description,
                &endpoint.event_types,
                &sealed,
            ],
        )
        .await?
        .ok_or(StoreError::NotFound { what: "project" })?;
        Ok(CreatedEndpoint {
            id,
            project_id: endpoint.project_id,
            url: endpoint.url.into(),
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

/// Opens the secret of `column` (its sealed form in `<column>_sealed`, or the
/// plaintext of a row written before schema v5).
fn read_secret(
    row: &tokio_postgres::Row,
    column: &str,
    id: EndpointId,
    keyring: Option<&SecretsKeyring>,
) -> Result<Option<String>, StoreError> {
    let sealed: Option<String> = row.get(format!("{column}_sealed").as_str());
    match sealed {
        Some(sealed) => {
            let keyring = keyring.ok_or(StoreError::SecretsKeyMissing)?;
            let plaintext = keyring.open(&sealed, &id.to_string()).map_err(|source| {
                StoreError::SealedSecret {
                    endpoint_id: id,
                    source,
                }
            })?;
            Ok(Some(plaintext))
        }
        None => Ok(row.get(column)),
    }
}

impl EndpointRecord {
    fn from_row(
        row: &tokio_postgres::Row,
        keyring: Option<&SecretsKeyring>,
    ) -> Result<Self, StoreError> {
        let id = EndpointId::from_uuid(row.get("id"));
        let secret = read_secret(row, "secret", id, keyring)?.ok_or(StoreError::NotFound {
            what: "endpoint secret",
        })?;
        Ok(Self {
            id,
            project_id: ProjectId::from_uuid(row.get("project_id")),
            url: row.get("url"),
            event_types: row.get("event_types"),
            payload_filter: row.get("payload_filter"),
            headers: row.get("headers"),
            secret,
            previous_secret: read_secret(row, "previous_secret", id, keyring)?,
            previous_secret_expires_at: row.get("previous_secret_expires_at"),
            enabled: row.get("enabled"),
            paused: row.get("paused"),
            rate_limit_per_second: row.get("rate_limit_per_second"),
            max_concurrency: row.get("max_concurrency"),
            created_at: row.get("created_at"),
        })
    }
}

const ENDPOINT_COLUMNS: &str = "id, project_id, url, event_types, payload_filter, headers, secret, previous_secret, \
     secret_sealed, previous_secret_sealed, previous_secret_expires_at, enabled, paused, rate_limit_per_second, max_concurrency, created_at";

impl Store {
    /// Returns every endpoint of the project, enabled or not.
    #[tracing::instrument(level = "debug", skip_all, fields(project_id = %project_id))]
    pub async fn project_endpoints(
        &self,
        project_id: ProjectId,
    ) -> Result<Vec<EndpointRecord>, StoreError> {
        let rows = self
            .query_prepared(
                &format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE project_id = $1 ORDER BY id"
                ),
                &[&project_id.uuid()],
            )
            .await?;
        let keyring = self.secrets_opt();
        rows.iter()
            .map(|row| EndpointRecord::from_row(row, keyring))
            .collect()
    }

    /// Returns the endpoint, or NotFound.
    pub async fn endpoint(&self, id: EndpointId) -> Result<EndpointRecord, StoreError> {
        let row = self
            .query_opt_prepared(
                &format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = $1"),
                &[&id.uuid()],
            )
            .await?
            .ok_or(StoreError::NotFound { what: "endpoint" })?;
        EndpointRecord::from_row(&row, self.secrets_opt())
    }

    /// Pauses or resumes deliveries to the endpoint; NotFound if it does not exist.
    pub async fn set_endpoint_paused(
        &self,
        id: EndpointId,
        paused: bool,
    ) -> Result<(), StoreError> {
        let updated = self
            .execute_prepared(
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
        self.execute_prepared(
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
        self
            .execute_prepared(
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
        let rows = self
            .query_prepared(
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

/// Everything that defines an endpoint, as the query API creates it. The
/// filters are validated by the caller.
#[derive(Debug, Clone)]
pub struct EndpointDefinition {
    pub url: EndpointUrl,
    pub description: String,
    /// Event-type filters: exact types, `prefix.*` or `*`.
    pub event_types: Vec<String>,
    /// A payload predicate in its JSON form; None delivers every payload.
    pub payload_filter: Option<serde_json::Value>,
    /// Extra request headers.
    pub headers: EndpointHeaders,
    pub limits: EndpointLimits,
    /// False creates the endpoint disabled "by user".
    pub enabled: bool,
}

/// Changes to an endpoint's definition; None leaves a setting as it is, and
/// `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct EndpointChanges {
    pub url: Option<EndpointUrl>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub payload_filter: Option<Option<serde_json::Value>>,
    pub headers: Option<EndpointHeaders>,
    /// Parsed by [`EndpointLimits::parse_rate_limit_per_second`].
    pub rate_limit_per_second: Option<Option<u32>>,
    /// Parsed by [`EndpointLimits::parse_max_concurrency`].
    pub max_concurrency: Option<u32>,
    /// False disables "by user"; true enables and forgets the failing state.
    pub enabled: Option<bool>,
    pub paused: Option<bool>,
}

/// An endpoint with what the API shows beyond what delivering needs.
#[derive(Debug, Clone)]
pub struct EndpointDetails {
    pub record: EndpointRecord,
    pub description: String,
    /// Why the endpoint is disabled ("disabled by user", or since when it failed).
    pub disabled_reason: Option<String>,
    pub last_success_at: Option<time::OffsetDateTime>,
    pub failing_since: Option<time::OffsetDateTime>,
    pub updated_at: time::OffsetDateTime,
}

impl EndpointDetails {
    fn from_row(
        row: &tokio_postgres::Row,
        keyring: Option<&SecretsKeyring>,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            record: EndpointRecord::from_row(row, keyring)?,
            description: row.get("description"),
            disabled_reason: row.get("disabled_reason"),
            last_success_at: row.get("last_success_at"),
            failing_since: row.get("failing_since"),
            updated_at: row.get("updated_at"),
        })
    }
}

const DETAIL_COLUMNS: &str = "id, project_id, url, event_types, payload_filter, headers, secret, previous_secret, \
     secret_sealed, previous_secret_sealed, previous_secret_expires_at, enabled, paused, rate_limit_per_second, max_concurrency, created_at, \
     description, disabled_reason, last_success_at, failing_since, updated_at";

/// Why an endpoint is disabled when its owner disabled it.
const DISABLED_BY_USER: &str = "disabled by user";

impl Store {
    /// Creates an endpoint of the project with a fresh signing secret and
    /// returns it whole, unless the project already has `max_endpoints`
    /// (LimitReached); NotFound if the project does not exist.
    ///
    /// The count and the insert run in one transaction that first locks the
    /// project's row (`FOR NO KEY UPDATE`, which inserts elsewhere do not
    /// wait on), so concurrent creations take turns and cannot pass the cap.
    #[tracing::instrument(skip_all, fields(project_id = %project_id))]
    pub async fn create_endpoint_from(
        &self,
        project_id: ProjectId,
        definition: &EndpointDefinition,
        max_endpoints: usize,
    ) -> Result<EndpointDetails, StoreError> {
        let id = EndpointId::new();
        let secret = EndpointSecret::generate();
        let sealed = self.keyring()?.seal(secret.as_str(), &id.to_string());
        let disabled_reason = (!definition.enabled).then_some(DISABLED_BY_USER);
        let rate = definition.limits.rate_limit_per_second.map(sql_integer);
        let max_concurrency = sql_integer(definition.limits.max_concurrency);
        let mut client = self.connection().await?;
        let transaction = client.transaction().await?;
        transaction
            .query_opt(
                "SELECT 1 FROM projects WHERE id = $1 FOR NO KEY UPDATE",
                &[&project_id.uuid()],
            )
            .await?
            .ok_or(StoreError::NotFound { what: "project" })?;
        // A new statement: under READ COMMITTED it sees every endpoint
        // committed by whoever held the lock before.
        let existing: i64 = transaction
            .query_one(
                "SELECT count(*) FROM endpoints WHERE project_id = $1",
                &[&project_id.uuid()],
            )
            .await?
            .get(0);
        if usize::try_from(existing).unwrap_or(usize::MAX) >= max_endpoints {
            return Err(StoreError::LimitReached {
                what: "endpoints",
                limit: max_endpoints,
            });
        }
        let row = transaction
            .query_one(
                &format!(
                    "INSERT INTO endpoints (id, project_id, url, description, event_types, payload_filter, \
                                            headers, secret_sealed, rate_limit_per_second, max_concurrency, \
                                            enabled, disabled_reason) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     RETURNING {DETAIL_COLUMNS}"
                ),
                &[
                    &id.uuid(),
                    &project_id.uuid(),
                    &definition.url.as_str(),
                    &definition.description,
                    &definition.event_types,
                    &definition.payload_filter,
                    &definition.headers.to_json(),
                    &sealed,
                    &rate,
                    &max_concurrency,
                    &definition.enabled,
                    &disabled_reason,
                ],
            )
            .await?;
        transaction.commit().await?;
        EndpointDetails::from_row(&row, self.secrets_opt())
    }

    /// Returns the project's endpoint, or NotFound (also when it belongs to
    /// another project).
    #[tracing::instrument(skip_all, fields(endpoint_id = %id))]
    pub async fn project_endpoint(
        &self,
        project_id: ProjectId,
        id: EndpointId,
    ) -> Result<EndpointDetails, StoreError> {
        let row = self
            .query_opt_prepared(
                &format!(
                    "SELECT {DETAIL_COLUMNS} FROM endpoints WHERE id = $1 AND project_id = $2"
                ),
                &[&id.uuid(), &project_id.uuid()],
            )
            .await?
            .ok_or(StoreError::NotFound { what: "endpoint" })?;
        EndpointDetails::from_row(&row, self.secrets_opt())
    }

    /// Returns up to `limit` endpoints of the project, newest first, created
    /// before `before` when given (index `endpoints_project`).
    #[tracing::instrument(skip_all, fields(project_id = %project_id))]
    pub async fn list_endpoints(
        &self,
        project_id: ProjectId,
        before: Option<EndpointId>,
        limit: i64,
    ) -> Result<Vec<EndpointDetails>, StoreError> {
        let before = before.map(|id| id.uuid());
        let rows = self
            .query_prepared(
                &format!(
                    "SELECT {DETAIL_COLUMNS} FROM endpoints \
                     WHERE project_id = $1 AND ($2::uuid IS NULL OR id < $2) \
                     ORDER BY id DESC LIMIT $3"
                ),
                &[&project_id.uuid(), &before, &limit],
            )
            .await?;
        let keyring = self.secrets_opt();
        rows.iter()
            .map(|row| EndpointDetails::from_row(row, keyring))
            .collect()
    }

    /// Applies `changes` to the project's endpoint in one statement and
    /// returns it; NotFound if it is not the project's.
    #[tracing::instrument(skip_all, fields(endpoint_id = %id))]
    pub async fn update_endpoint(
        &self,
        project_id: ProjectId,
        id: EndpointId,
        changes: &EndpointChanges,
    ) -> Result<EndpointDetails, StoreError> {
        let (set_filter, filter) = match &changes.payload_filter {
            Some(filter) => (true, filter.clone()),
            None => (false, None),
        };
        let (set_rate, rate) = match changes.rate_limit_per_second {
            Some(rate) => (true, rate.map(sql_integer)),
            None => (false, None),
        };
        let url = changes.url.as_ref().map(EndpointUrl::as_str);
        let headers = changes.headers.as_ref().map(EndpointHeaders::to_json);
        let max_concurrency = changes.max_concurrency.map(sql_integer);
        let row = self
            .query_opt_prepared(
                &format!(
                    "UPDATE endpoints SET \
                        url = coalesce($3::text, url), \
                        description = coalesce($4::text, description), \
                        event_types = coalesce($5::text[], event_types), \
                        payload_filter = CASE WHEN $6::boolean THEN $7::jsonb ELSE payload_filter END, \
                        headers = coalesce($8::jsonb, headers), \
                        rate_limit_per_second = CASE WHEN $9::boolean THEN $10::integer \
                                                     ELSE rate_limit_per_second END, \
                        max_concurrency = coalesce($11::integer, max_concurrency), \
                        enabled = coalesce($12::boolean, enabled), \
                        disabled_reason = CASE WHEN $12::boolean IS NULL THEN disabled_reason \
                                               WHEN $12::boolean THEN NULL ELSE $14::text END, \
                        failing_since = CASE WHEN $12::boolean THEN NULL ELSE failing_since END, \
                        paused = coalesce($13::boolean, paused), \
                        updated_at = now() \
                     WHERE id = $1 AND project_id = $2 \
                     RETURNING {DETAIL_COLUMNS}"
                ),
                &[
                    &id.uuid(),
                    &project_id.uuid(),
                    &url,
                    &changes.description,
                    &changes.event_types,
                    &set_filter,
                    &filter,
                    &headers,
                    &set_rate,
                    &rate,
                    &max_concurrency,
                    &changes.enabled,
                    &changes.paused,
                    &DISABLED_BY_USER,
                ],
            )
            .await?
            .ok_or(StoreError::NotFound { what: "endpoint" })?;
        EndpointDetails::from_row(&row, self.secrets_opt())
    }

    /// Deletes the project's endpoint; NotFound if it is not the project's.
    /// Its deliveries stay for the record; pending ones end as failed when
    /// the dispatcher next takes them.
    #[tracing::instrument(skip_all, fields(endpoint_id = %id))]
    pub async fn delete_endpoint(
        &self,
        project_id: ProjectId,
        id: EndpointId,
    ) -> Result<(), StoreError> {
        let deleted = self
            .execute_prepared(
                "DELETE FROM endpoints WHERE id = $1 AND project_id = $2",
                &[&id.uuid(), &project_id.uuid()],
            )
            .await?;
        if deleted == 0 {
            return Err(StoreError::NotFound { what: "endpoint" });
        }
        Ok(())
    }

    /// Gives the project's endpoint a fresh signing secret; the old one keeps
    /// signing for `grace` (a secret rotated before then is dropped: only one
    /// previous secret is kept). NotFound if it is not the project's.
    #[tracing::instrument(skip_all, fields(endpoint_id = %id))]
    pub async fn rotate_endpoint_secret(
        &self,
        project_id: ProjectId,
        id: EndpointId,
        grace: std::time::Duration,
    ) -> Result<EndpointDetails, StoreError> {
        let secret = EndpointSecret::generate();
        let sealed = self.keyring()?.seal(secret.as_str(), &id.to_string());
        let expires_at = time::OffsetDateTime::now_utc() + grace;
        let row = self
            .query_opt_prepared(
                &format!(
                    "UPDATE endpoints SET previous_secret = secret, \
                            previous_secret_sealed = secret_sealed, \
                            previous_secret_expires_at = $4, \
                            secret = NULL, secret_sealed = $3, updated_at = now() \
                     WHERE id = $1 AND project_id = $2 \
                     RETURNING {DETAIL_COLUMNS}"
                ),
                &[&id.uuid(), &project_id.uuid(), &sealed, &expires_at],
            )
            .await?
            .ok_or(StoreError::NotFound { what: "endpoint" })?;
        EndpointDetails::from_row(&row, self.secrets_opt())
    }
}

impl Store {
    fn secrets_opt(&self) -> Option<&SecretsKeyring> {
        self.keyring().ok()
    }

    /// Seals every endpoint secret still stored in plaintext (rows from
    /// before schema v5) or sealed with a key other than the sealing key (after
    /// a key rotation); returns how many endpoints it rewrote. Safe while the
    /// services run: a row changed in between (say, its secret rotated) is
    /// left for the next call. The services call it on start-up.
    #[tracing::instrument(skip_all)]
    pub async fn seal_endpoint_secrets(&self) -> Result<u64, StoreError> {
        let keyring = self.keyring()?;
        let current = format!("efsec1:{}:%", keyring.sealing_key_id());
        let rows = self
            .query_prepared(
                "SELECT id, secret, previous_secret, secret_sealed, previous_secret_sealed \
                 FROM endpoints \
                 WHERE secret IS NOT NULL OR previous_secret IS NOT NULL \
                    OR secret_sealed NOT LIKE $1 OR previous_secret_sealed NOT LIKE $1",
                &[&current],
            )
            .await?;
        let mut sealed = 0;
        for row in &rows {
            let id = EndpointId::from_uuid(row.get("id"));
            let context = id.to_string();
            let reseal = |column: &str| -> Result<Option<String>, StoreError> {
                Ok(read_secret(row, column, id, Some(keyring))?
                    .map(|plaintext| keyring.seal(&plaintext, &context)))
            };
            let (secret, previous) = (reseal("secret")?, reseal("previous_secret")?);
            let old_sealed: Option<String> = row.get("secret_sealed");
            let old_previous: Option<String> = row.get("previous_secret_sealed");
            sealed += self
                .execute_prepared(
                    "UPDATE endpoints SET secret = NULL, previous_secret = NULL, \
                            secret_sealed = $2, previous_secret_sealed = $3 \
                     WHERE id = $1 \
                       AND secret IS NOT DISTINCT FROM $4 AND secret_sealed IS NOT DISTINCT FROM $5 \
                       AND previous_secret IS NOT DISTINCT FROM $6 \
                       AND previous_secret_sealed IS NOT DISTINCT FROM $7",
                    &[
                        &id.uuid(),
                        &secret,
                        &previous,
                        &row.get::<_, Option<String>>("secret"),
                        &old_sealed,
                        &row.get::<_, Option<String>>("previous_secret"),
                        &old_previous,
                    ],
                )
                .await?;
        }
        if sealed > 0 {
            tracing::info!(
                endpoints = sealed,
                key_id = keyring.sealing_key_id(),
                "sealed endpoint secrets"
            );
        }
        Ok(sealed)
    }
}
/// An endpoint limit as its `integer` column: the domain bounds every limit far below
/// `i32::MAX` (see [`EndpointLimits`]), so the saturation never happens.
fn sql_integer(limit: u32) -> i32 {
    i32::try_from(limit).unwrap_or(i32::MAX)
}
