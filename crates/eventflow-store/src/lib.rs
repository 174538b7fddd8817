//! PostgreSQL storage for EventFlow: the schema (`migrations/`), the pool and
//! every SQL statement the services run.
//!
//! PostgreSQL is the source of truth. Functions here either complete their
//! statement or return an error; multi-row writes are single statements or
//! transactions, so a failure never leaves half a write behind. Errors tell
//! an unreachable database (`StoreError::Unavailable`, worth a 503 and a
//! retry) apart from everything else.

mod api_keys;
mod database;
mod deliveries;
mod endpoints;
mod error;
mod events;
mod maintenance;
mod migrate;
mod outbox;
mod pool;
mod projects;
mod stats;

pub use api_keys::{ApiKeyRecord, CreatedApiKey, KeyLookup};
pub use database::ensure_database;
pub use deliveries::{AttemptRecord, DeliverySearch, DeliveryState, DeliveryStatus, DueDelivery};
pub use endpoints::{
    CreatedEndpoint, EndpointChanges, EndpointDefinition, EndpointDetails, EndpointRecord,
    NewEndpoint,
};
pub use error::StoreError;
pub use events::{EventSearch, EventSummary, InsertOutcome, NewEvent, StoredEvent};
pub use maintenance::{ExpiredRows, PartitionDrop, ResumeOutlook, RetentionPolicy, uuid_floor};
pub use migrate::migrations_fingerprint;
pub use outbox::RelayError;
pub use pool::{LeaderLock, PoolSettings, Store};
pub use projects::{Project, ProjectSettings};
pub use stats::{
    LATENCY_BOUNDS_MS, LatencyHistogram, StatsBucket, StatsDelta, StatsPoint, StatsQuery,
    StatsWriter,
};

/// A connection checked out of the pool.
pub(crate) type Connection = deadpool_postgres::Object;
