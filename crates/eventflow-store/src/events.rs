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

impl Store {
    /// Stores `events` in one statement (autocommit: durable when it returns)
    /// and returns one outcome per event, in order. Every event enters this
    /// way: the gateway's group commits and the query API's test sends.
    ///
    /// Items whose idempotency key another request claimed first are not stored;
    /// their outcome names the event that holds the key. The caller must not
    /// pass two items with the same (project, key) in one batch.
    pub async fn insert_events(
        &self,
        events: &[NewEvent],
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        let columns = EventColumns::from(events);
        let (connection, statement) = self.prepared(INSERT_BATCH).await?;
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
        let holders = find_key_holders(&connection, &rejected).await?;
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

pub(crate) const EVENT_COLUMNS: &str = "id, project_id, event_type, payload::text AS payload, idempotency_key, \
     occurred_at, received_at, traceparent";

/// One event, if it belongs to the project ($1 the event, $2 the project).
pub(crate) fn project_event_sql() -> String {
    format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND project_id = $2")
}

pub(crate) fn stored_event_from_row(row: &tokio_postgres::Row) -> StoredEvent {
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
        let (lowest, highest) = id_range(&ids);
        let rows = self
            .query_prepared(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE id = ANY($1) AND id BETWEEN $2 AND $3"
                ),
                &[&ids, &lowest, &highest],
            )
            .await?;
        Ok(rows.iter().map(stored_event_from_row).collect())
    }

    /// Returns up to `limit` events with ids in (`after`, `before`), in id (time) order.
    pub async fn events_between(
        &self,
        after: Uuid,
        before: Uuid,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = self
            .query_prepared(
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
        let row = self
            .query_opt_prepared("SELECT value FROM dispatch_state WHERE name = $1", &[&name])
            .await?;
        Ok(row.map(|row| row.get(0)))
    }

    /// Stores a value the dispatcher keeps across restarts.
    pub async fn set_dispatch_state(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.execute_prepared(
            "INSERT INTO dispatch_state (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
            &[&name, &value],
        )
        .await?;
        Ok(())
    }

    /// Forgets a value the dispatcher kept across restarts.
    pub async fn delete_dispatch_state(&self, name: &str) -> Result<(), StoreError> {
        self.execute_prepared("DELETE FROM dispatch_state WHERE name = $1", &[&name])
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
        let row = self
            .query_opt_prepared(&project_event_sql(), &[&id.uuid(), &project_id.uuid()])
            .await?;
        Ok(row.as_ref().map(stored_event_from_row))
    }

    /// Counts the events stored for the project.
    pub async fn count_events(&self, project_id: ProjectId) -> Result<i64, StoreError> {
        let row = self
            .query_one_prepared(
                "SELECT count(*) FROM events WHERE project_id = $1",
                &[&project_id.uuid()],
            )
            .await?;
        Ok(row.get(0))
    }
}

// Event search (query API): events of one project, newest first, filtered by
// type, reception time and the state of their deliveries. The statement is
// assembled from the filters present, so each shape gets a plan that uses the
// matching index and prunes partitions by id.

/// What an event search asks for. Every filter is optional; `limit` is the
/// number of rows to return at most (callers paginating ask for one more).
#[derive(Debug, Clone)]
pub struct EventSearch {
    /// `*` (no filter), `prefix.*` or an exact type.
    pub event_type: Option<eventflow_domain::EventTypeFilter>,
    /// Events received in this millisecond or later (ids are UUID v7).
    pub since: Option<OffsetDateTime>,
    /// Events received before this millisecond.
    pub until: Option<OffsetDateTime>,
    /// Only events with a delivery in this status (to `endpoint_id`, when given).
    pub delivery_status: Option<crate::DeliveryStatus>,
    /// Only events with a delivery to this endpoint.
    pub endpoint_id: Option<eventflow_domain::EndpointId>,
    /// Only events older than this one: the cursor of the previous page.
    pub before: Option<EventId>,
    /// Reads the payloads too (they can be large; lists leave them out by default).
    pub include_payload: bool,
    pub limit: i64,
}

/// An event as a search lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSummary {
    pub id: EventId,
    pub event_type: String,
    pub occurred_at: OffsetDateTime,
    pub received_at: OffsetDateTime,
    /// The producer's JSON text, when the search asked for payloads.
    pub payload: Option<String>,
}

/// A statement assembled from optional filters: SQL text plus its parameters,
/// numbered as they are added.
pub(crate) struct FilteredQuery {
    sql: String,
    params: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>>,
}

impl FilteredQuery {
    pub(crate) fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            params: Vec::new(),
        }
    }

    /// Binds `value` and returns its placeholder (`$n`).
    pub(crate) fn bind(
        &mut self,
        value: impl tokio_postgres::types::ToSql + Sync + Send + 'static,
    ) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    /// Appends SQL text.
    pub(crate) fn push(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }

    /// Runs the statement (prepared once per connection and shape).
    pub(crate) async fn query(
        &self,
        client: &Connection,
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let statement = client.prepare_cached(&self.sql).await?;
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = self
            .params
            .iter()
            .map(|param| param.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        Ok(client.query(&statement, &params).await?)
    }
}

/// The lowest and highest of `ids`. Bounding a lookup by `id = ANY(...)` with
/// them lets PostgreSQL skip the partitions outside the range at run time;
/// otherwise it probes every partition's index with every id.
pub(crate) fn id_range(ids: &[Uuid]) -> (Uuid, Uuid) {
    let lowest = ids.iter().min().copied().unwrap_or_else(Uuid::nil);
    let highest = ids.iter().max().copied().unwrap_or_else(Uuid::nil);
    (lowest, highest)
}

/// The smallest UUID v7 of the millisecond `at` falls in (the Rust twin of
/// the SQL function `eventflow_uuid_floor`): rows created in that millisecond
/// or later have ids at or above it. Times before 1970 give the nil UUID.
pub(crate) fn uuid_v7_floor(at: OffsetDateTime) -> Uuid {
    let millis = at.unix_timestamp_nanos().div_euclid(1_000_000);
    let millis = u64::try_from(millis.clamp(0, (1 << 48) - 1)).unwrap_or(0);
    Uuid::from_u64_pair(millis << 16, 0)
}

/// The LIKE pattern of the types under `prefix` (which ends with `.`): the
/// prefix with `\`, `%` and `_` escaped, then at least one more character.
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 4);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push_str("_%");
    pattern
}

/// A delivery shares its event's millisecond (the first 48 bits of both ids),
/// so bounding `d.id` by the event id's millisecond lets PostgreSQL probe one
/// partition of `deliveries` per event instead of all of them.
const SAME_MILLISECOND_AS_EVENT: &str = "d.id BETWEEN (left(e.id::text, 13) || '-0000-0000-000000000000')::uuid \
     AND (left(e.id::text, 13) || '-ffff-ffff-ffffffffffff')::uuid";

impl Store {
    /// Returns the project's events that pass `search`, newest first.
    #[tracing::instrument(level = "debug", skip_all, fields(project_id = %project_id))]
    pub async fn search_events(
        &self,
        project_id: ProjectId,
        search: &EventSearch,
    ) -> Result<Vec<EventSummary>, StoreError> {
        let mut query =
            FilteredQuery::new("SELECT e.id, e.event_type, e.occurred_at, e.received_at");
        if search.include_payload {
            query.push(", e.payload::text AS payload");
        }
        let project = query.bind(project_id.uuid());
        query.push(&format!(" FROM events e WHERE e.project_id = {project}"));
        // The filter's grammar: `*`, `<prefix>.*`, or an exact type.
        match search.event_type.as_ref().map(|filter| filter.as_str()) {
            None | Some("*") => {}
            Some(raw) => match raw.strip_suffix('*') {
                Some(prefix) => {
                    let pattern = query.bind(like_prefix(prefix));
                    query.push(&format!(" AND e.event_type LIKE {pattern}"));
                }
                None => {
                    let exact = query.bind(raw.to_owned());
                    query.push(&format!(" AND e.event_type = {exact}"));
                }
            },
        }
        // Id bounds, kept to bound the deliveries too: a delivery's id has
        // its event's millisecond.
        let mut delivery_bounds = String::new();
        if let Some(since) = search.since {
            let bound = query.bind(uuid_v7_floor(since));
            query.push(&format!(" AND e.id >= {bound}"));
            delivery_bounds.push_str(&format!(" AND d.id >= {bound}"));
        }
        if let Some(until) = search.until {
            let bound = query.bind(uuid_v7_floor(until));
            query.push(&format!(" AND e.id < {bound}"));
            delivery_bounds.push_str(&format!(" AND d.id < {bound}"));
        }
        if let Some(before) = search.before {
            let bound = query.bind(before.uuid());
            query.push(&format!(" AND e.id < {bound}"));
        }
        if search.delivery_status.is_some() || search.endpoint_id.is_some() {
            if let Some(before) = search.before {
                // The last id of the cursor's millisecond.
                let (high, _) = before.uuid().as_u64_pair();
                let bound = query.bind(Uuid::from_u64_pair(high | 0xffff, u64::MAX));
                delivery_bounds.push_str(&format!(" AND d.id <= {bound}"));
            }
            query.push(&format!(
                " AND EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id \
                 AND d.project_id = e.project_id AND {SAME_MILLISECOND_AS_EVENT}{delivery_bounds}"
            ));
            if let Some(status) = search.delivery_status {
                // A constant of this crate, written in so the planner knows
                // how common the status is.
                query.push(&format!(" AND d.status = '{}'", status.as_str()));
            }
            if let Some(endpoint_id) = search.endpoint_id {
                let endpoint = query.bind(endpoint_id.uuid());
                query.push(&format!(" AND d.endpoint_id = {endpoint}"));
            }
            query.push(")");
        }
        let limit = query.bind(search.limit);
        query.push(&format!(" ORDER BY e.id DESC LIMIT {limit}"));

        let client = self.connection().await?;
        let rows = query.query(&client).await?;
        Ok(rows
            .iter()
            .map(|row| EventSummary {
                id: EventId::from_uuid(row.get("id")),
                event_type: row.get("event_type"),
                occurred_at: row.get("occurred_at"),
                received_at: row.get("received_at"),
                payload: if search.include_payload {
                    row.get("payload")
                } else {
                    None
                },
            })
            .collect())
    }

    /// Reports whether the event exists and belongs to the project.
    pub async fn project_event_exists(
        &self,
        project_id: ProjectId,
        id: EventId,
    ) -> Result<bool, StoreError> {
        let row = self
            .query_one_prepared(
                "SELECT EXISTS (SELECT 1 FROM events WHERE id = $1 AND project_id = $2)",
                &[&id.uuid(), &project_id.uuid()],
            )
            .await?;
        Ok(row.get(0))
    }
}

#[cfg(test)]
mod search_tests {
    use super::*;

    #[test]
    fn the_floor_of_an_ids_own_time_keeps_its_millisecond_and_zeroes_the_rest() {
        let id = Uuid::now_v7();
        let (seconds, nanos) = id
            .get_timestamp()
            .map(|ts| ts.to_unix())
            .unwrap_or_default();
        let at = OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(seconds) * 1_000_000_000 + i128::from(nanos),
        )
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);

        let floor = uuid_v7_floor(at);

        assert_eq!(floor.as_bytes()[..6], id.as_bytes()[..6]);
        assert_eq!(floor.as_bytes()[6..], [0u8; 10]);
        assert!(floor <= id);
    }

    #[test]
    fn the_floor_matches_the_sql_function_on_a_known_time() {
        // SELECT eventflow_uuid_floor('2024-10-31 12:00:00.123456+00')
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_730_376_000_123_456_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(
            uuid_v7_floor(at).to_string(),
            "0192e272-627b-0000-0000-000000000000"
        );
        assert_eq!(uuid_v7_floor(OffsetDateTime::UNIX_EPOCH), Uuid::nil());
    }

    #[test]
    fn like_metacharacters_in_a_prefix_are_escaped() {
        assert_eq!(like_prefix("order."), "order._%");
        assert_eq!(like_prefix("a_b%c\\."), "a\\_b\\%c\\\\._%");
    }
}
