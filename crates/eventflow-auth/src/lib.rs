//! API key authentication shared by the services, with a short-lived cache, so a request costs no
//! PostgreSQL round trip while a revoked key still stops working within
//! `auth_cache_ttl`. Expiry is checked against the clock on every request,
//! cached or not, so an expired key stops at its `expires_at`.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use eventflow_domain::{
    ApiKeyId, ProjectId, RateLimitOverride, Scope, Scopes, format_rfc3339, hashes_match,
    parse_presented_key,
};
use eventflow_store::{Store, StoreError};
use time::OffsetDateTime;

/// Entries kept at most; past this, expired entries are dropped, then all.
const MAX_CACHED_KEYS: usize = 10_000;

/// Who is calling: the key, its project, its scopes and the key's own rate limit, which the
/// gateway completes with its default (the query API enforces none).
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: ApiKeyId,
    pub project_id: ProjectId,
    pub scopes: Scopes,
    pub rate_limit: RateLimitOverride,
    /// From when the key is refused; None never expires.
    pub expires_at: Option<OffsetDateTime>,
}

impl Principal {
    /// Returns Ok when the key carries `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), AuthError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(AuthError::MissingScope(scope))
        }
    }
}

/// Why a request was not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing api key: send `Authorization: Bearer <key>`")]
    Missing,
    #[error("invalid api key")]
    Invalid,
    #[error("this api key expired at {}; create a new one", format_rfc3339(*.0))]
    Expired(OffsetDateTime),
    #[error("this api key lacks the `{}` scope", .0.as_str())]
    MissingScope(Scope),
    #[error("could not check the api key")]
    Store(#[from] StoreError),
}

struct CachedKey {
    principal: Option<Principal>,
    fetched_at: Instant,
}

/// Verifies presented API keys against PostgreSQL, caching answers for `ttl`.
pub struct Authenticator {
    store: Store,
    ttl: Duration,
    cache: RwLock<HashMap<[u8; 32], CachedKey>>,
}

impl Authenticator {
    pub fn new(store: Store, ttl: Duration) -> Self {
        Self {
            store,
            ttl,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// Authenticates the value of an `Authorization` header (`Bearer <key>`).
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        let token = authorization
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or(AuthError::Missing)?;
        let presented = parse_presented_key(token).map_err(|_| AuthError::Invalid)?;
        let principal = match self.cached(&presented.hash) {
            Some(cached) => cached,
            None => {
                let principal = self.load(&presented.lookup_prefix, &presented.hash).await?;
                self.remember(presented.hash, principal.clone());
                principal
            }
        };
        let principal = principal.ok_or(AuthError::Invalid)?;
        match principal.expires_at {
            Some(expires_at) if expires_at <= OffsetDateTime::now_utc() => {
                Err(AuthError::Expired(expires_at))
            }
            _ => {
                // Names the caller on the request's span (its empty fields,
                // eventflow_runtime::request_span); a span without them ignores it.
                let span = tracing::Span::current();
                span.record("project_id", tracing::field::display(principal.project_id));
                span.record("api_key_id", tracing::field::display(principal.key_id));
                Ok(principal)
            }
        }
    }

    fn cached(&self, hash: &[u8; 32]) -> Option<Option<Principal>> {
        let cache = self
            .cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .get(hash)
            .filter(|entry| entry.fetched_at.elapsed() < self.ttl)
            .map(|entry| entry.principal.clone())
    }

    async fn load(
        &self,
        lookup_prefix: &str,
        hash: &[u8; 32],
    ) -> Result<Option<Principal>, StoreError> {
        let Some(found) = self.store.find_api_key(lookup_prefix).await? else {
            return Ok(None);
        };
        if found.revoked || !hashes_match(&found.key_hash, hash) {
            return Ok(None);
        }
        let rate_limit = RateLimitOverride {
            per_second: found
                .rate_limit_per_second
                .and_then(|rate| u32::try_from(rate).ok()),
            burst: found
                .rate_limit_burst
                .and_then(|burst| u32::try_from(burst).ok()),
        };
        Ok(Some(Principal {
            key_id: found.key_id,
            project_id: found.project_id,
            scopes: found.scopes,
            rate_limit,
            expires_at: found.expires_at,
        }))
    }

    fn remember(&self, hash: [u8; 32], principal: Option<Principal>) {
        let mut cache = self
            .cache
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= MAX_CACHED_KEYS {
            cache.retain(|_, entry| entry.fetched_at.elapsed() < self.ttl);
            if cache.len() >= MAX_CACHED_KEYS {
                cache.clear();
            }
        }
        cache.insert(
            hash,
            CachedKey {
                principal,
                fetched_at: Instant::now(),
            },
        );
    }
}
