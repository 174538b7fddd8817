use eventflow_domain::ProjectId;
use time::OffsetDateTime;
use tokio_postgres::Row;

use crate::{Store, StoreError};

/// A tenant: every key, endpoint and event belongs to one project.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    /// Sustained events per second allowed; None means the gateway default.
    pub rate_limit_per_second: Option<i32>,
    /// Events allowed in a burst above the sustained rate; None means the gateway default.
    pub rate_limit_burst: Option<i32>,
    pub retention_days: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl Project {
    fn from_row(row: &Row) -> Self {
        Self {
            id: ProjectId::from_uuid(row.get("id")),
            name: row.get("name"),
            rate_limit_per_second: row.get("rate_limit_per_second"),
            rate_limit_burst: row.get("rate_limit_burst"),
            retention_days: row.get("retention_days"),
            created_at: row.get("created_at"),
        }
    }
}

impl Store {
    /// Creates a project; rate limits left None follow the gateway's defaults.
    #[tracing::instrument(skip_all)]
    pub async fn create_project(
        &self,
        name: &str,
        rate_limit_per_second: Option<i32>,
        rate_limit_burst: Option<i32>,
    ) -> Result<Project, StoreError> {
        let row = self
            .query_one_prepared(
                "INSERT INTO projects (id, name, rate_limit_per_second, rate_limit_burst) \
                 VALUES ($1, $2, $3, $4) RETURNING *",
                &[
                    &ProjectId::new().uuid(),
                    &name,
                    &rate_limit_per_second,
                    &rate_limit_burst,
                ],
            )
            .await?;
        Ok(Project::from_row(&row))
    }

    /// Returns the project, or NotFound.
    #[tracing::instrument(skip_all, fields(project_id = %id))]
    pub async fn project(&self, id: ProjectId) -> Result<Project, StoreError> {
        let row = self
            .query_opt_prepared("SELECT * FROM projects WHERE id = $1", &[&id.uuid()])
            .await?
            .ok_or(StoreError::NotFound { what: "project" })?;
        Ok(Project::from_row(&row))
    }

    /// Returns the oldest project with this name, if any.
    pub async fn find_project_by_name(&self, name: &str) -> Result<Option<Project>, StoreError> {
        let row = self
            .query_opt_prepared(
                "SELECT * FROM projects WHERE name = $1 ORDER BY created_at LIMIT 1",
                &[&name],
            )
            .await?;
        Ok(row.as_ref().map(Project::from_row))
    }

    /// Returns every project, oldest first.
    pub async fn list_projects(&self) -> Result<Vec<Project>, StoreError> {
        let rows = self
            .query_prepared("SELECT * FROM projects ORDER BY id", &[])
            .await?;
        Ok(rows.iter().map(Project::from_row).collect())
    }

    /// Changes the given settings of a project; NotFound if it does not exist.
    pub async fn update_project(
        &self,
        id: ProjectId,
        settings: &ProjectSettings,
    ) -> Result<Project, StoreError> {
        let row = self
            .query_opt_prepared(
                "UPDATE projects SET name = coalesce($2, name), \
                        rate_limit_per_second = coalesce($3, rate_limit_per_second), \
                        rate_limit_burst = coalesce($4, rate_limit_burst), \
                        retention_days = coalesce($5, retention_days) \
                 WHERE id = $1 RETURNING *",
                &[
                    &id.uuid(),
                    &settings.name,
                    &settings.rate_limit_per_second,
                    &settings.rate_limit_burst,
                    &settings.retention_days,
                ],
            )
            .await?
            .ok_or(StoreError::NotFound { what: "project" })?;
        Ok(Project::from_row(&row))
    }
}

/// Settings to change; None leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct ProjectSettings {
    pub name: Option<String>,
    pub rate_limit_per_second: Option<i32>,
    pub rate_limit_burst: Option<i32>,
    pub retention_days: Option<i32>,
}
