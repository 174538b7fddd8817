//! Event writes: one statement stores a whole group-commit batch and claims
//! its idempotency keys, so either every item of the batch is decided or none.

use std::collections::HashMap;

use eventflow_domain::{EventId, EventType, IdempotencyKey, ProjectId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Connection, Store, StoreError};

/// An accepted event about to be stored.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: EventId,
    pub project_id: ProjectId,
    pub event_type: EventType,
    /// The payload as the producer's JSON text (already validated as JSON).
    pub payload: String,
    /// With the hash of what the request asked for, to tell a retry from a conflicting reuse.
    pub idempotency: Option<(IdempotencyKey, [u8; 32])>,
    pub occurred_at: OffsetDateTime,
    pub received_at: OffsetDateTime,
    pub traceparent: Option<String>,
}

/// What happened to one item of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored now under its own id.
    Inserted,
    /// Its idempotency key was used before by an identical request: that event's id.
    Duplicate {
        id: EventId,
        received_at: OffsetDateTime,
    },
    /// Its idempotency key was used before by a different request.
    KeyReusedWithDifferentRequest { id: EventId },
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: EventId,
    pub project_id: ProjectId,
    pub event_type: String,
    pub payload: String,
    pub idempotency_key: Option<String>,
    pub occurred_at: OffsetDateTime,
    pub received_at: OffsetDateTime,
    pub traceparent: Option<String>,
}

const INSERT_BATCH: &str = "\
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                         $6::bytea[], $7::timestamptz[], $8::timestamptz[], $9::text[])
        AS u(id, project_id, event_type, payload, idempotency_key, request_hash,
             occurred_at, received_at, traceparent)
), claimed AS (
    INSERT INTO idempotency_keys (project_id, key, event_id, request_hash, created_at)
    SELECT project_id, idempotency_key, id, request_hash, received_at
    FROM input WHERE idempotency_key IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING event_id
)
INSERT INTO events (id, project_id, event_type, payload, idempotency_key, occurred_at,
                    received_at, traceparent)
SELECT id, project_id, event_type, payload::json, idempotency_key, occurred_at, received_at,
       traceparent
FROM input
WHERE idempotency_key IS NULL OR id IN (SELECT event_id FROM claimed)
RETURNING id";

const FIND_CLAIMED_KEYS: &str = "\
SELECT k.project_id, k.key, k.event_id, k.request_hash, k.created_at
FROM idempotency_keys k
JOIN unnest($1::uuid[], $2::text[]) AS u(project_id, key)
  ON k.project_id = u.project_id AND k.key = u.key";

/// Stores `events` on `connection` in one statement (autocommit: durable when
/// it returns) and returns one outcome per event, in order.
///
/// Items whose idempotency key another request claimed first are not stored;
/// their outcome names the event that holds the key. The caller must not
/// pass two items with the same (project, key) in one batch.
pub async fn insert_events(
    connection: &Connection,
    events: &[NewEvent],
) -> Result<Vec<InsertOutcome>, StoreError> {
    let columns = EventColumns::from(events);
    let statement = connection.prepare_cached(INSERT_BATCH).await?;
    let rows = connection
        .query(
            &statement,
            &[
                &columns.ids,
                &columns.project_ids,
                &columns.event_types,
                &columns.payloads,
                &columns.idempotency_keys,
                &columns.request_hashes,
                &columns.occurred_at,
                &columns.received_at,
                &columns.traceparents,
            ],
        )
        .await?;
    if rows.len() == events.len() {
        return Ok(vec![InsertOutcome::Inserted; events.len()]);
    }
    let stored: std::collections::HashSet<Uuid> = rows.iter().map(|row| row.get(0)).collect();
    let rejected: Vec<&NewEvent> = events
        .iter()
        .filter(|e| !stored.contains(&e.id.uuid()))
        .collect();
    let holders = find_key_holders(connection, &rejected).await?;
    events
        .iter()
        .map(|event| {
            if stored.contains(&event.id.uuid()) {
                return Ok(InsertOutcome::Inserted);
            }
            let Some((key, hash)) = &event.idempotency else {
                // Every item without a key is inserted by the statement above.
                return Err(StoreError::NotFound {
                    what: "stored event",
                });
            };
            let holder = holders
                .get(&(event.project_id.uuid(), key.as_str().to_owned()))
                .ok_or(StoreError::NotFound {
                    what: "idempotency key",
                })?;
            Ok(if holder.request_hash == hash.as_slice() {
                InsertOutcome::Duplicate {
                    id: holder.event_id,
                    received_at: holder.created_at,
                }
            } else {
                InsertOutcome::KeyReusedWithDifferentRequest {
                    id: holder.event_id,
                }
            })
        })
        .collect()
}

struct KeyHolder {
    event_id: EventId,
    request_hash: Vec<u8>,
    created_at: OffsetDateTime,
}

/// Reads who holds the keys of `rejected` in a new statement, which sees the
/// rows of transactions that committed while the insert waited on them.
async fn find_key_holders(
    connection: &Connection,
    rejected: &[&NewEvent],
) -> Result<HashMap<(Uuid, String), KeyHolder>, StoreError> {
    let (project_ids, keys): (Vec<Uuid>, Vec<String>) = rejected
        .iter()
        .filter_map(|e| {
            e.idempotency
                .as_ref()
                .map(|(key, _)| (e.project_id.uuid(), key.as_str().to_owned()))
        })
        .unzip();
    let rows = connection
        .query(FIND_CLAIMED_KEYS, &[&project_ids, &keys])
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let holder = KeyHolder {
                event_id: EventId::from_uuid(row.get("event_id")),
                request_hash: row.get("request_hash"),
                created_at: row.get("created_at"),
            };
            ((row.get("project_id"), row.get("key")), holder)
        })
        .collect())
}

/// The batch laid out column by column, as `unnest` takes it.
struct EventColumns<'a> {
    ids: Vec<Uuid>,
    project_ids: Vec<Uuid>,
    event_types: Vec<&'a str>,
    payloads: Vec<&'a str>,
    idempotency_keys: Vec<Option<&'a str>>,
    request_hashes: Vec<Option<&'a [u8]>>,
    occurred_at: Vec<OffsetDateTime>,
    received_at: Vec<OffsetDateTime>,
    traceparents: Vec<Option<&'a str>>,
}

impl<'a> From<&'a [NewEvent]> for EventColumns<'a> {
    fn from(events: &'a [NewEvent]) -> Self {
        Self {
            ids: events.iter().map(|e| e.id.uuid()).collect(),
            project_ids: events.iter().map(|e| e.project_id.uuid()).collect(),
            event_types: events.iter().map(|e| e.event_type.as_str()).collect(),
            payloads: events.iter().map(|e| e.payload.as_str()).collect(),
            idempotency_keys: events
                .iter()
                .map(|e| e.idempotency.as_ref().map(|(k, _)| k.as_str()))
                .collect(),
            request_hashes: events
                .iter()
                .map(|e| e.idempotency.as_ref().map(|(_, h)| h.as_slice()))
                .collect(),
            occurred_at: events.iter().map(|e| e.occurred_at).collect(),
            received_at: events.iter().map(|e| e.received_at).collect(),
            traceparents: events.iter().map(|e| e.traceparent.as_deref()).collect(),
        }
    }
}

const EVENT_COLUMNS: &str = "id, project_id, event_type, payload::text AS payload, idempotency_key, \
     occurred_at, received_at, traceparent";

fn stored_event_from_row(row: &tokio_postgres::Row) -> StoredEvent {
    StoredEvent {
        id: EventId::from_uuid(row.get("id")),
        project_id: ProjectId::from_uuid(row.get("project_id")),
        event_type: row.get("event_type"),
        payload: row.get("payload"),
        idempotency_key: row.get("idempotency_key"),
        occurred_at: row.get("occurred_at"),
        received_at: row.get("received_at"),
        traceparent: row.get("traceparent"),
    }
}

impl Store {
    /// Returns those of the events that exist, in no particular order.
    #[tracing::instrument(level = "debug", skip_all, fields(events = ids.len()))]
    pub async fn events_by_ids(&self, ids: &[EventId]) -> Result<Vec<StoredEvent>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = ids.iter().map(|id| id.uuid()).collect();
        let client = self.connection().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE id = ANY($1)"
            ))
            .await?;
        let rows = client.query(&statement, &[&ids]).await?;
        Ok(rows.iter().map(stored_event_from_row).collect())
    }

    /// Returns up to `limit` events with ids in (`after`, `before`), in id (time) order.
    pub async fn events_between(
        &self,
        after: Uuid,
        before: Uuid,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let client = self.connection().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE id > $1 AND id < $2 ORDER BY id LIMIT $3"
                ),
                &[&after, &before, &limit],
            )
            .await?;
        Ok(rows.iter().map(stored_event_from_row).collect())
    }

    /// Reads a value the dispatcher keeps across restarts.
    pub async fn dispatch_state(&self, name: &str) -> Result<Option<String>, StoreError> {
        let client = self.connection().await?;
        let row = client
            .query_opt("SELECT value FROM dispatch_state WHERE name = $1", &[&name])
            .await?;
        Ok(row.map(|row| row.get(0)))
    }

    /// Stores a value the dispatcher keeps across restarts.
    pub async fn set_dispatch_state(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let client = self.connection().await?;
        client
            .execute(
                "INSERT INTO dispatch_state (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
                &[&name, &value],
            )
            .await?;
        Ok(())
    }

    /// Returns the event if it belongs to the project.
    #[tracing::instrument(skip_all, fields(event_id = %id))]
    pub async fn event(
        &self,
        project_id: ProjectId,
        id: EventId,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let client = self.connection().await?;
        let row = client
            .query_opt(
                &format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND project_id = $2"),
                &[&id.uuid(), &project_id.uuid()],
            )
            .await?;
        Ok(row.as_ref().map(stored_event_from_row))
    }

    /// Counts the events stored for the project.
    pub async fn count_events(&self, project_id: ProjectId) -> Result<i64, StoreError> {
        let client = self.connection().await?;
        let row = client
            .query_one(
                "SELECT count(*) FROM events WHERE project_id = $1",
                &[&project_id.uuid()],
            )
            .await?;
        Ok(row.get(0))
    }
}
