//! Creates what a delivery benchmark sends through, directly in PostgreSQL (there is no
//! HTTP API for endpoints yet): a fresh project with a rate limit high enough never to
//! throttle the benchmark, an API key with the `ingest` scope, and one endpoint per
//! receiver URL subscribed to every event type. Each run gets its own project, so runs
//! never see each other's events.
//!
//! When the run is over, [`Provisioned::pause_endpoints`] pauses the endpoints: their
//! receiver is gone, and a paused endpoint keeps its deliveries waiting instead of having
//! the dispatcher retry them into a closed port for hours.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use eventflow_domain::{EndpointId, EndpointUrl, ProjectId, Scopes};
use eventflow_store::{NewEndpoint, PoolSettings, Store};

/// Sustained rate and burst given to the benchmark's project, in events per second.
const UNTHROTTLED_RATE: i32 = 100_000_000;

/// Where the benchmark creates its project, key and endpoints.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL of the EventFlow database the gateway and the dispatcher use.
    #[arg(long, env = "EVENTFLOW_DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
}

/// The project, key and endpoints created for one run.
pub struct Provisioned {
    store: Store,
    pub project_id: ProjectId,
    /// The API key's plaintext, to send as `Authorization: Bearer <key>`.
    pub api_key: String,
    pub endpoint_ids: Vec<EndpointId>,
}

/// Creates a project named after `workload`, an ingest key and one endpoint per URL.
pub async fn provision(
    database: &DatabaseArgs,
    workload: &str,
    endpoint_urls: &[String],
) -> anyhow::Result<Provisioned> {
    let store = Store::connect(&database.database_url, &PoolSettings::default())
        .context("connecting to PostgreSQL (--database-url)")?
        .with_secrets(secrets_keyring()?);
    let project = store
        .create_project(
            &project_name(workload),
            Some(UNTHROTTLED_RATE),
            Some(UNTHROTTLED_RATE),
        )
        .await
        .context("creating the benchmark's project (is the database migrated?)")?;
    let scopes = Scopes::parse_list("ingest").context("parsing the ingest scope")?;
    let key = store
        .create_api_key(project.id, "bench", &scopes)
        .await
        .context("creating the benchmark's API key")?;
    let mut endpoint_ids = Vec::with_capacity(endpoint_urls.len());
    for url in endpoint_urls {
        endpoint_ids.push(create_endpoint(&store, project.id, url).await?);
    }
    Ok(Provisioned {
        store,
        project_id: project.id,
        api_key: key.plaintext.expose().to_owned(),
        endpoint_ids,
    })
}

/// Creates one endpoint at `url` subscribed to every event type.
/// The key the dispatcher under test opens endpoint secrets with: the
/// benchmark seals them with the same `EVENTFLOW_SECRETS_KEY`
/// (scripts/lib/services.sh exports one).
pub fn secrets_keyring() -> anyhow::Result<std::sync::Arc<eventflow_domain::SecretsKeyring>> {
    let raw = std::env::var("EVENTFLOW_SECRETS_KEY")
        .context("missing setting EVENTFLOW_SECRETS_KEY (the dispatcher's key)")?;
    Ok(std::sync::Arc::new(
        eventflow_domain::SecretsKeyring::parse(&raw)?,
    ))
}

async fn create_endpoint(
    store: &Store,
    project_id: ProjectId,
    url: &str,
) -> anyhow::Result<EndpointId> {
    let endpoint = store
        .create_endpoint(NewEndpoint {
            project_id,
            url: EndpointUrl::parse(url)?,
            description: "eventflow-bench receiver".to_owned(),
            event_types: vec!["*".to_owned()],
        })
        .await
        .with_context(|| format!("creating the endpoint {url}"))?;
    Ok(endpoint.id)
}

impl Provisioned {
    /// Describes what was created, for the operator: the project and its endpoints.
    pub fn describe(&self) -> String {
        let plural = if self.endpoint_ids.len() == 1 {
            ""
        } else {
            "s"
        };
        format!(
            "created project {} with {} endpoint{plural} and an ingest key",
            self.project_id,
            self.endpoint_ids.len()
        )
    }

    /// Pauses every endpoint of the run, so the dispatcher stops delivering to the
    /// receiver that is about to stop.
    pub async fn pause_endpoints(&self) -> anyhow::Result<()> {
        for id in &self.endpoint_ids {
            self.store
                .set_endpoint_paused(*id, true)
                .await
                .with_context(|| format!("pausing the endpoint {id}"))?;
        }
        self.store.close();
        Ok(())
    }
}

/// Returns a project name that tells the workload and the start of the run apart.
fn project_name(workload: &str) -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    format!("eventflow-bench {workload} {seconds}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_name_the_workload() {
        assert!(project_name("fanout").starts_with("eventflow-bench fanout "));
    }
}
