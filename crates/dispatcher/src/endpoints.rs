//! Endpoint definitions by project, cached for `endpoint_cache_ttl` and
//! dropped at once by `DispatchControl.RefreshEndpointCache` when they change.
//! Definitions are parsed once when loaded; a stored definition that does not
//! parse is skipped with a warning rather than failing every delivery.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use eventflow_domain::{
    EndpointId, EndpointSecret, EventType, EventTypeFilters, PayloadFilter, ProjectId, RateLimit,
};
use eventflow_store::{EndpointRecord, Store, StoreError, StoredEvent};
use time::OffsetDateTime;

/// Why a stored endpoint definition cannot be used.
#[derive(Debug, thiserror::Error)]
enum DefinitionError {
    #[error(transparent)]
    Domain(#[from] eventflow_domain::DomainError),
    #[error("invalid url: {0}")]
    Url(String),
}

/// An endpoint ready to deliver to.
#[derive(Debug)]
pub struct Endpoint {
    pub id: EndpointId,
    /// Parsed once here rather than on every attempt.
    pub url: reqwest::Url,
    pub event_types: EventTypeFilters,
    pub payload_filter: Option<PayloadFilter>,
    pub headers: Vec<(String, String)>,
    pub secret: EndpointSecret,
    /// The secret before the last rotation, still signing until it expires.
    pub previous_secret: Option<(EndpointSecret, OffsetDateTime)>,
    /// False when disabled or paused: deliveries wait instead of being sent.
    pub accepting: bool,
    pub enabled: bool,
    pub rate_limit: Option<RateLimit>,
    pub max_concurrency: usize,
    pub created_at: OffsetDateTime,
}

impl Endpoint {
    fn parse(record: EndpointRecord) -> Result<Self, DefinitionError> {
        let headers = record
            .headers
            .as_object()
            .map(|map| {
                map.iter()
                    .filter_map(|(name, value)| {
                        value.as_str().map(|value| (name.clone(), value.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let previous_secret = match (record.previous_secret, record.previous_secret_expires_at) {
            (Some(secret), Some(expires)) => Some((EndpointSecret::parse(&secret)?, expires)),
            _ => None,
        };
        Ok(Self {
            id: record.id,
            url: reqwest::Url::parse(&record.url)
                .map_err(|error| DefinitionError::Url(error.to_string()))?,
            event_types: EventTypeFilters::parse_list(&record.event_types)?,
            payload_filter: record
                .payload_filter
                .as_ref()
                .map(PayloadFilter::parse)
                .transpose()?,
            headers,
            secret: EndpointSecret::parse(&record.secret)?,
            previous_secret,
            accepting: record.enabled && !record.paused,
            enabled: record.enabled,
            rate_limit: record
                .rate_limit_per_second
                .and_then(|rate| u32::try_from(rate).ok())
                .map(RateLimit::per_second),
            max_concurrency: usize::try_from(record.max_concurrency).unwrap_or(1).max(1),
            created_at: record.created_at,
        })
    }

    /// The secrets that sign a delivery at `now`: the current one, and the
    /// previous one while its grace period lasts.
    pub fn signing_secrets(&self, now: OffsetDateTime) -> Vec<&EndpointSecret> {
        let mut secrets = vec![&self.secret];
        if let Some((previous, expires)) = &self.previous_secret
            && *expires > now
        {
            secrets.push(previous);
        }
        secrets
    }

    /// Returns true when the event is one this endpoint subscribed to. Events
    /// stored before the endpoint existed never match it.
    pub fn subscribes_to(
        &self,
        event: &StoredEvent,
        event_type: &EventType,
        payload: &PayloadCache<'_>,
    ) -> bool {
        event.received_at >= self.created_at
            && self.event_types.matches(event_type)
            && self
                .payload_filter
                .as_ref()
                .is_none_or(|filter| payload.value().is_some_and(|value| filter.matches(value)))
    }
}

/// An event's payload parsed at most once, and only if a filter needs it.
pub struct PayloadCache<'a> {
    text: &'a str,
    parsed: std::cell::OnceCell<Option<serde_json::Value>>,
}

impl<'a> PayloadCache<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            parsed: std::cell::OnceCell::new(),
        }
    }

    fn value(&self) -> Option<&serde_json::Value> {
        self.parsed
            .get_or_init(|| serde_json::from_str(self.text).ok())
            .as_ref()
    }
}

struct CachedProject {
    endpoints: Arc<Vec<Arc<Endpoint>>>,
    loaded_at: Instant,
}

/// Every project's endpoints, loaded on first use and after expiry.
pub struct EndpointCache {
    store: Store,
    ttl: Duration,
    projects: RwLock<HashMap<ProjectId, CachedProject>>,
}

impl EndpointCache {
    pub fn new(store: Store, ttl: Duration) -> Self {
        Self {
            store,
            ttl,
            projects: RwLock::new(HashMap::new()),
        }
    }

    /// Returns the project's endpoints (enabled or not).
    pub async fn project(
        &self,
        project_id: ProjectId,
    ) -> Result<Arc<Vec<Arc<Endpoint>>>, StoreError> {
        if let Some(endpoints) = self.fresh(project_id) {
            return Ok(endpoints);
        }
        let records = self.store.project_endpoints(project_id).await?;
        let endpoints: Vec<Arc<Endpoint>> = records
            .into_iter()
            .filter_map(|record| {
                let id = record.id;
                Endpoint::parse(record)
                    .inspect_err(|error| tracing::warn!(endpoint_id = %id, %error, "skipping an endpoint that does not parse"))
                    .ok()
                    .map(Arc::new)
            })
            .collect();
        let endpoints = Arc::new(endpoints);
        let mut projects = self
            .projects
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        projects.insert(
            project_id,
            CachedProject {
                endpoints: endpoints.clone(),
                loaded_at: Instant::now(),
            },
        );
        Ok(endpoints)
    }

    /// Returns one endpoint of the project, if it exists.
    pub async fn endpoint(
        &self,
        project_id: ProjectId,
        id: EndpointId,
    ) -> Result<Option<Arc<Endpoint>>, StoreError> {
        Ok(self
            .project(project_id)
            .await?
            .iter()
            .find(|endpoint| endpoint.id == id)
            .cloned())
    }

    /// Drops the cached definitions of one project, or of all.
    pub fn refresh(&self, project_id: Option<ProjectId>) {
        let mut projects = self
            .projects
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match project_id {
            Some(project_id) => {
                projects.remove(&project_id);
            }
            None => projects.clear(),
        }
    }

    fn fresh(&self, project_id: ProjectId) -> Option<Arc<Vec<Arc<Endpoint>>>> {
        let projects = self
            .projects
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        projects
            .get(&project_id)
            .filter(|cached| cached.loaded_at.elapsed() < self.ttl)
            .map(|cached| cached.endpoints.clone())
    }
}
