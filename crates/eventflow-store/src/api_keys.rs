use eventflow_domain::{ApiKeyId, ProjectId, Scopes, SecretString, generate_api_key};
use time::OffsetDateTime;

use crate::{Store, StoreError};

/// An API key as stored: never the key itself.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub project_id: ProjectId,
    pub name: String,
    pub scopes: Scopes,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// From when the key is refused; None never expires.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// A key just created: the only time its plaintext exists.
#[derive(Debug)]
pub struct CreatedApiKey {
    pub record: ApiKeyRecord,
    pub plaintext: SecretString,
}

/// What authenticating a presented key needs, in one row: the stored hash,
/// scopes, revocation, expiry and the project's rate limit.
#[derive(Debug, Clone)]
pub struct KeyLookup {
    pub key_id: ApiKeyId,
    pub project_id: ProjectId,
    pub key_hash: [u8; 32],
    pub scopes: Scopes,
    pub revoked: bool,
    pub expires_at: Option<OffsetDateTime>,
    pub rate_limit_per_second: Option<i32>,
    pub rate_limit_burst: Option<i32>,
}

impl Store {
    /// Creates a key for the project with the given scopes that never
    /// expires; NotFound if the project does not exist.
    pub async fn create_api_key(
        &self,
        project_id: ProjectId,
        name: &str,
        scopes: &Scopes,
    ) -> Result<CreatedApiKey, StoreError> {
        self.create_expiring_api_key(project_id, name, scopes, None)
            .await
    }

    /// Creates a key for the project with the given scopes, refused from
    /// `expires_at` on when given; NotFound if the project does not exist.
    #[tracing::instrument(skip_all, fields(project_id = %project_id))]
    pub async fn create_expiring_api_key(
        &self,
        project_id: ProjectId,
        name: &str,
        scopes: &Scopes,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<CreatedApiKey, StoreError> {
        let generated = generate_api_key();
        let id = ApiKeyId::new();
        let row = self
            .query_opt_prepared(
                "INSERT INTO api_keys (id, project_id, name, lookup_prefix, key_hash, scopes, expires_at) \
                 SELECT $1, id, $3, $4, $5, $6, $7 FROM projects WHERE id = $2 \
                 RETURNING created_at, expires_at",
                &[
                    &id.uuid(),
                    &project_id.uuid(),
                    &name,
                    &generated.lookup_prefix,
                    &generated.hash.as_slice(),
                    &scopes.to_strings(),
                    &expires_at,
                ],
            )
            .await?
            .ok_or(StoreError::NotFound { what: "project" })?;
        let record = ApiKeyRecord {
            id,
            project_id,
            name: name.to_owned(),
            scopes: *scopes,
            created_at: row.get("created_at"),
            revoked_at: None,
            expires_at: row.get("expires_at"),
        };
        Ok(CreatedApiKey {
            record,
            plaintext: generated.plaintext,
        })
    }

    /// Marks the key revoked; NotFound if it does not exist.
    #[tracing::instrument(skip_all, fields(key_id = %id))]
    pub async fn revoke_api_key(&self, id: ApiKeyId) -> Result<(), StoreError> {
        let updated = self
            .execute_prepared(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1",
                &[&id.uuid()],
            )
            .await?;
        if updated == 0 {
            return Err(StoreError::NotFound { what: "api key" });
        }
        Ok(())
    }

    /// Finds the key with this lookup prefix (unique), with what authentication needs.
    #[tracing::instrument(skip_all)]
    pub async fn find_api_key(&self, lookup_prefix: &str) -> Result<Option<KeyLookup>, StoreError> {
        let client = self.connection().await?;
        let statement = client
            .prepare_cached(
                "SELECT k.id, k.project_id, k.key_hash, k.scopes, k.revoked_at IS NOT NULL AS revoked, k.expires_at, \
                        p.rate_limit_per_second, p.rate_limit_burst \
                 FROM api_keys k JOIN projects p ON p.id = k.project_id \
                 WHERE k.lookup_prefix = $1",
            )
            .await?;
        let Some(row) = client.query_opt(&statement, &[&lookup_prefix]).await? else {
            return Ok(None);
        };
        let hash: &[u8] = row.get("key_hash");
        let key_hash: [u8; 32] = hash.try_into().map_err(|_| StoreError::NotFound {
            what: "api key hash",
        })?;
        let scopes: Vec<String> = row.get("scopes");
        let scopes = Scopes::from_strings(&scopes).map_err(|source| StoreError::Corrupt {
            table: "api_keys",
            source,
        })?;
        Ok(Some(KeyLookup {
            key_id: ApiKeyId::from_uuid(row.get("id")),
            project_id: ProjectId::from_uuid(row.get("project_id")),
            key_hash,
            scopes,
            revoked: row.get("revoked"),
            expires_at: row.get("expires_at"),
            rate_limit_per_second: row.get("rate_limit_per_second"),
            rate_limit_burst: row.get("rate_limit_burst"),
        }))
    }
}

const KEY_COLUMNS: &str = "id, project_id, name, scopes, created_at, revoked_at, expires_at";

impl ApiKeyRecord {
    fn from_row(row: &tokio_postgres::Row) -> Result<Self, StoreError> {
        let scopes: Vec<String> = row.get("scopes");
        let scopes = Scopes::from_strings(&scopes).map_err(|source| StoreError::Corrupt {
            table: "api_keys",
            source,
        })?;
        Ok(Self {
            id: ApiKeyId::from_uuid(row.get("id")),
            project_id: ProjectId::from_uuid(row.get("project_id")),
            name: row.get("name"),
            scopes,
            created_at: row.get("created_at"),
            revoked_at: row.get("revoked_at"),
            expires_at: row.get("expires_at"),
        })
    }
}

impl Store {
    /// Returns the key (revoked or not), or NotFound; never its hash.
    #[tracing::instrument(skip_all, fields(key_id = %id))]
    pub async fn api_key(&self, id: ApiKeyId) -> Result<ApiKeyRecord, StoreError> {
        let row = self
            .query_opt_prepared(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"),
                &[&id.uuid()],
            )
            .await?
            .ok_or(StoreError::NotFound { what: "api key" })?;
        ApiKeyRecord::from_row(&row)
    }

    /// Returns up to `limit` keys of the project (revoked ones too), newest
    /// first, created before `before` when given (index `api_keys_project`).
    #[tracing::instrument(skip_all, fields(project_id = %project_id))]
    pub async fn list_api_keys(
        &self,
        project_id: ProjectId,
        before: Option<ApiKeyId>,
        limit: i64,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let before = before.map(|id| id.uuid());
        let rows = self
            .query_prepared(
                &format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys \
                     WHERE project_id = $1 AND ($2::uuid IS NULL OR id < $2) \
                     ORDER BY id DESC LIMIT $3"
                ),
                &[&project_id.uuid(), &before, &limit],
            )
            .await?;
        rows.iter().map(ApiKeyRecord::from_row).collect()
    }
}
