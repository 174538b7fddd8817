//! Deliveries (one per event and endpoint) and their attempts. Delivery ids
//! are derived from the event and endpoint ids, so writing a delivery twice
//! (after a crash, a replay or a recovery scan) updates one row.

use std::collections::HashMap;
use std::time::Duration;

use eventflow_domain::{AttemptId, DeliveryId, EndpointId, EventId, ProjectId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::events::{project_event_sql, stored_event_from_row};
use crate::{Store, StoreError, StoredEvent};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt at `next_attempt_at`.
    Pending,
    Succeeded,
    /// Dead letter: the last attempt of the schedule failed.
    Failed,
    /// Never sent: the destination is not allowed (e.g. a private address).
    Refused,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Refused => "refused",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            "refused" => Some(Self::Refused),
            _ => None,
        }
    }
}

/// The state of a delivery after something happened to it.
#[derive(Debug, Clone)]
pub struct DeliveryState {
    pub id: DeliveryId,
    pub project_id: ProjectId,
    pub event_id: EventId,
    pub endpoint_id: EndpointId,
    pub status: DeliveryStatus,
    pub attempt_count: i32,
    /// `attempt_count` when the current retry schedule started.
    pub retry_base: i32,
    /// Which schedule of the delivery this state belongs to (see the schema).
    pub generation: i32,
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_attempt_at: Option<OffsetDateTime>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
}

/// One attempt to deliver.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub id: AttemptId,
    pub delivery_id: DeliveryId,
    pub project_id: ProjectId,
    pub endpoint_id: EndpointId,
    pub attempt_number: i32,
    pub started_at: OffsetDateTime,
    pub duration: Duration,
    pub status_code: Option<i32>,
    pub response_body: Option<String>,
    pub error_kind: Option<String>,
}

/// A pending delivery whose due time has come, with its event.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub state: DeliveryState,
    pub event: StoredEvent,
}

/// A state replaces the stored one only within the same generation: the
/// result of an attempt that was in flight when a replay or manual retry
/// started a new schedule is kept as an attempt but does not undo it. Within
/// a generation a success is final: the failure of a copy sent alongside (a
/// claimed entry whose first consumer was slow, not dead) recorded after it
/// would otherwise schedule a retry of a delivered webhook.
const UPSERT_DELIVERIES: &str = "\
INSERT INTO deliveries (id, project_id, event_id, endpoint_id, status, attempt_count, next_attempt_at,
                        last_attempt_at, last_status_code, last_error, retry_base, generation)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::int[],
                     $7::timestamptz[], $8::timestamptz[], $9::int[], $10::text[], $11::int[], $12::int[])
ON CONFLICT (id) DO UPDATE SET
    status = EXCLUDED.status,
    attempt_count = EXCLUDED.attempt_count,
    next_attempt_at = EXCLUDED.next_attempt_at,
    last_attempt_at = coalesce(EXCLUDED.last_attempt_at, deliveries.last_attempt_at),
    last_status_code = coalesce(EXCLUDED.last_status_code, deliveries.last_status_code),
    last_error = coalesce(EXCLUDED.last_error, deliveries.last_error),
    updated_at = now()
WHERE deliveries.generation = EXCLUDED.generation
  AND (deliveries.status <> 'succeeded' OR EXCLUDED.status = 'succeeded')";

/// Makes deliveries due now with a new schedule (replay): created if missing,
/// otherwise restarted whatever their status, in a new generation. A created
/// one starts at generation 1, above a first attempt that may be in flight
/// from the stream (generation 0) and not recorded yet.
const SCHEDULE_DELIVERIES: &str = "\
INSERT INTO deliveries (id, project_id, event_id, endpoint_id, status, next_attempt_at, generation)
SELECT id, project_id, event_id, endpoint_id, 'pending', now(), 1
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[]) AS u(id, project_id, event_id, endpoint_id)
ON CONFLICT (id) DO UPDATE SET
    status = 'pending',
    next_attempt_at = now(),
    retry_base = deliveries.attempt_count,
    generation = deliveries.generation + 1,
    last_error = NULL,
    updated_at = now()";

const INSERT_ATTEMPTS: &str = "\
INSERT INTO attempts (id, delivery_id, project_id, endpoint_id, attempt_number, started_at, duration_us,
                      status_code, response_body, error_kind)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::int[], $6::timestamptz[],
                     $7::bigint[], $8::int[], $9::text[], $10::text[])
ON CONFLICT (id) DO NOTHING";

impl Store {
    /// Writes delivery states and attempts in one transaction (two statements,
    /// one round trip each), so an attempt is never recorded without its
    /// delivery's new state.
    #[tracing::instrument(level = "debug", skip_all, fields(deliveries = states.len(), attempts = attempts.len()))]
    pub async fn record_deliveries(
        &self,
        states: &[DeliveryState],
        attempts: &[AttemptRecord],
    ) -> Result<(), StoreError> {
        if states.is_empty() && attempts.is_empty() {
            return Ok(());
        }
        let mut connection = self.connection().await?;
        let transaction = connection.transaction().await?;
        if !states.is_empty() {
            let statement = transaction.prepare_cached(UPSERT_DELIVERIES).await?;
            let c = StateColumns::from(states);
            transaction
                .execute(
                    &statement,
                    &[
                        &c.ids,
                        &c.project_ids,
                        &c.event_ids,
                        &c.endpoint_ids,
                        &c.statuses,
                        &c.attempt_counts,
                        &c.next_attempt_at,
                        &c.last_attempt_at,
                        &c.last_status_codes,
                        &c.last_errors,
                        &c.retry_bases,
                        &c.generations,
                    ],
                )
                .await?;
        }
        if !attempts.is_empty() {
            let statement = transaction.prepare_cached(INSERT_ATTEMPTS).await?;
            let c = AttemptColumns::from(attempts);
            transaction
                .execute(
                    &statement,
                    &[
                        &c.ids,
                        &c.delivery_ids,
                        &c.project_ids,
                        &c.endpoint_ids,
                        &c.attempt_numbers,
                        &c.started_at,
                        &c.durations_us,
                        &c.status_codes,
                        &c.response_bodies,
                        &c.error_kinds,
                    ],
                )
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Makes the deliveries due now with a fresh retry schedule (replay),
    /// creating those that do not exist yet; returns how many.
    pub async fn schedule_deliveries(
        &self,
        deliveries: &[DeliveryState],
    ) -> Result<u64, StoreError> {
        let ids: Vec<Uuid> = deliveries.iter().map(|d| d.id.uuid()).collect();
        let project_ids: Vec<Uuid> = deliveries.iter().map(|d| d.project_id.uuid()).collect();
        let event_ids: Vec<Uuid> = deliveries.iter().map(|d| d.event_id.uuid()).collect();
        let endpoint_ids: Vec<Uuid> = deliveries.iter().map(|d| d.endpoint_id.uuid()).collect();
        let client = self.connection().await?;
        Ok(client
            .execute(
                SCHEDULE_DELIVERIES,
                &[&ids, &project_ids, &event_ids, &endpoint_ids],
            )
            .await?)
    }

    /// Returns the status of those of `ids` that exist.
    pub async fn delivery_statuses(
        &self,
        ids: &[DeliveryId],
    ) -> Result<HashMap<DeliveryId, DeliveryStatus>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Uuid> = ids.iter().map(|id| id.uuid()).collect();
        let (lowest, highest) = crate::events::id_range(&ids);
        let rows = self
            .query_prepared(
                "SELECT id, status FROM deliveries WHERE id = ANY($1) AND id BETWEEN $2 AND $3",
                &[&ids, &lowest, &highest],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let status = DeliveryStatus::parse(row.get("status"))?;
                Some((DeliveryId::from_uuid(row.get("id")), status))
            })
            .collect())
    }

    /// Takes up to `limit` pending deliveries that are due, pushing their due
    /// time `lease` ahead so no other dispatcher takes them meanwhile (if this
    /// one dies, they are due again when the lease ends).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn claim_due_deliveries(
        &self,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let lease_until = OffsetDateTime::now_utc() + lease;
        let rows = self
            .query_prepared(
                "UPDATE deliveries d SET next_attempt_at = $2 \
                 FROM (SELECT id FROM deliveries \
                       WHERE status = 'pending' AND next_attempt_at <= now() \
                       ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due \
                 WHERE d.id = due.id \
                 RETURNING d.id, d.project_id, d.event_id, d.endpoint_id, d.status, d.attempt_count, \
                           d.retry_base, d.generation, d.next_attempt_at, d.last_attempt_at, \
                           d.last_status_code, d.last_error",
                &[&limit, &lease_until],
            )
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let states: Vec<DeliveryState> = rows.iter().map(state_from_row).collect();
        let event_ids: Vec<EventId> = states.iter().map(|state| state.event_id).collect();
        let events: HashMap<EventId, StoredEvent> = self
            .events_by_ids(&event_ids)
            .await?
            .into_iter()
            .map(|event| (event.id, event))
            .collect();
        Ok(states
            .into_iter()
            .filter_map(|state| {
                let event = events.get(&state.event_id)?.clone();
                Some(DueDelivery { state, event })
            })
            .collect())
    }

    /// Returns the deliveries of an event.
    pub async fn event_deliveries(
        &self,
        event_id: EventId,
    ) -> Result<Vec<DeliveryState>, StoreError> {
        let (floor, ceiling) = ids_of_the_same_millisecond(event_id);
        let rows = self
            .query_prepared(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM deliveries \
                     WHERE event_id = $1 AND id BETWEEN $2 AND $3 ORDER BY endpoint_id"
                ),
                &[&event_id.uuid(), &floor, &ceiling],
            )
            .await?;
        Ok(rows.iter().map(state_from_row).collect())
    }

    /// Returns the attempts of a delivery, oldest first.
    pub async fn delivery_attempts(
        &self,
        delivery_id: DeliveryId,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        let rows = self
            .query_prepared(
                "SELECT * FROM attempts WHERE delivery_id = $1 ORDER BY id",
                &[&delivery_id.uuid()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| AttemptRecord {
                id: AttemptId::from_uuid(row.get("id")),
                delivery_id: DeliveryId::from_uuid(row.get("delivery_id")),
                project_id: ProjectId::from_uuid(row.get("project_id")),
                endpoint_id: EndpointId::from_uuid(row.get("endpoint_id")),
                attempt_number: row.get("attempt_number"),
                started_at: row.get("started_at"),
                duration: Duration::from_micros(
                    u64::try_from(row.get::<_, i64>("duration_us")).unwrap_or(0),
                ),
                status_code: row.get("status_code"),
                response_body: row.get("response_body"),
                error_kind: row.get("error_kind"),
            })
            .collect())
    }

    /// Makes the project's chosen deliveries pending and due now, with a fresh
    /// retry schedule (a manual retry or replay); returns how many exist.
    pub async fn requeue_deliveries(
        &self,
        project_id: ProjectId,
        ids: &[DeliveryId],
    ) -> Result<u64, StoreError> {
        let ids: Vec<Uuid> = ids.iter().map(|id| id.uuid()).collect();
        let client = self.connection().await?;
        Ok(client
            .execute(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = now(), \
                        retry_base = attempt_count, generation = generation + 1, updated_at = now() \
                 WHERE id = ANY($1) AND project_id = $2",
                &[&ids, &project_id.uuid()],
            )
            .await?)
    }

    /// Makes an endpoint's failed deliveries created since `since` pending and
    /// due now, with a fresh retry schedule; returns how many.
    pub async fn requeue_failed_deliveries(
        &self,
        project_id: ProjectId,
        endpoint_id: EndpointId,
        since: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let client = self.connection().await?;
        Ok(client
            .execute(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = now(), \
                        retry_base = attempt_count, generation = generation + 1, updated_at = now() \
                 WHERE endpoint_id = $1 AND project_id = $2 AND status = 'failed' AND created_at >= $3",
                &[&endpoint_id.uuid(), &project_id.uuid(), &since],
            )
            .await?)
    }

    /// Gives held deliveries of a resumed or re-enabled endpoint a due time of now.
    pub async fn release_held_deliveries(
        &self,
        endpoint_id: EndpointId,
    ) -> Result<u64, StoreError> {
        let client = self.connection().await?;
        Ok(client
            .execute(
                "UPDATE deliveries SET next_attempt_at = now(), updated_at = now() \
                 WHERE endpoint_id = $1 AND status = 'pending' AND next_attempt_at IS NULL",
                &[&endpoint_id.uuid()],
            )
            .await?)
    }

    /// Gives held deliveries (no due time) of endpoints that accept deliveries
    /// again a due time of now: a dispatcher whose cache was stale may have
    /// held them after the endpoint was resumed. Returns how many.
    pub async fn release_held_for_accepting_endpoints(&self) -> Result<u64, StoreError> {
        let client = self.connection().await?;
        Ok(client
            .execute(
                "UPDATE deliveries d SET next_attempt_at = now(), updated_at = now() \
                 FROM endpoints e \
                 WHERE d.endpoint_id = e.id AND e.enabled AND NOT e.paused \
                   AND d.status = 'pending' AND d.next_attempt_at IS NULL",
                &[],
            )
            .await?)
    }

    /// Counts pending deliveries whose due time has passed.
    pub async fn count_due_deliveries(&self) -> Result<i64, StoreError> {
        let row = self
            .query_one_prepared("SELECT count(*) FROM deliveries WHERE status = 'pending' AND next_attempt_at <= now()", &[])
            .await?;
        Ok(row.get(0))
    }
}

fn state_from_row(row: &tokio_postgres::Row) -> DeliveryState {
    DeliveryState {
        id: DeliveryId::from_uuid(row.get("id")),
        project_id: ProjectId::from_uuid(row.get("project_id")),
        event_id: EventId::from_uuid(row.get("event_id")),
        endpoint_id: EndpointId::from_uuid(row.get("endpoint_id")),
        status: DeliveryStatus::parse(row.get("status")).unwrap_or(DeliveryStatus::Pending),
        attempt_count: row.get("attempt_count"),
        retry_base: row.get("retry_base"),
        generation: row.get("generation"),
        next_attempt_at: row.get("next_attempt_at"),
        last_attempt_at: row.get("last_attempt_at"),
        last_status_code: row.get("last_status_code"),
        last_error: row.get("last_error"),
    }
}

struct StateColumns<'a> {
    ids: Vec<Uuid>,
    project_ids: Vec<Uuid>,
    event_ids: Vec<Uuid>,
    endpoint_ids: Vec<Uuid>,
    statuses: Vec<&'static str>,
    attempt_counts: Vec<i32>,
    next_attempt_at: Vec<Option<OffsetDateTime>>,
    last_attempt_at: Vec<Option<OffsetDateTime>>,
    last_status_codes: Vec<Option<i32>>,
    last_errors: Vec<Option<&'a str>>,
    retry_bases: Vec<i32>,
    generations: Vec<i32>,
}

impl<'a> From<&'a [DeliveryState]> for StateColumns<'a> {
    fn from(states: &'a [DeliveryState]) -> Self {
        Self {
            ids: states.iter().map(|s| s.id.uuid()).collect(),
            project_ids: states.iter().map(|s| s.project_id.uuid()).collect(),
            event_ids: states.iter().map(|s| s.event_id.uuid()).collect(),
            endpoint_ids: states.iter().map(|s| s.endpoint_id.uuid()).collect(),
            statuses: states.iter().map(|s| s.status.as_str()).collect(),
            attempt_counts: states.iter().map(|s| s.attempt_count).collect(),
            next_attempt_at: states.iter().map(|s| s.next_attempt_at).collect(),
            last_attempt_at: states.iter().map(|s| s.last_attempt_at).collect(),
            last_status_codes: states.iter().map(|s| s.last_status_code).collect(),
            last_errors: states.iter().map(|s| s.last_error.as_deref()).collect(),
            retry_bases: states.iter().map(|s| s.retry_base).collect(),
            generations: states.iter().map(|s| s.generation).collect(),
        }
    }
}

struct AttemptColumns<'a> {
    ids: Vec<Uuid>,
    delivery_ids: Vec<Uuid>,
    project_ids: Vec<Uuid>,
    endpoint_ids: Vec<Uuid>,
    attempt_numbers: Vec<i32>,
    started_at: Vec<OffsetDateTime>,
    durations_us: Vec<i64>,
    status_codes: Vec<Option<i32>>,
    response_bodies: Vec<Option<&'a str>>,
    error_kinds: Vec<Option<&'a str>>,
}

impl<'a> From<&'a [AttemptRecord]> for AttemptColumns<'a> {
    fn from(attempts: &'a [AttemptRecord]) -> Self {
        Self {
            ids: attempts.iter().map(|a| a.id.uuid()).collect(),
            delivery_ids: attempts.iter().map(|a| a.delivery_id.uuid()).collect(),
            project_ids: attempts.iter().map(|a| a.project_id.uuid()).collect(),
            endpoint_ids: attempts.iter().map(|a| a.endpoint_id.uuid()).collect(),
            attempt_numbers: attempts.iter().map(|a| a.attempt_number).collect(),
            started_at: attempts.iter().map(|a| a.started_at).collect(),
            durations_us: attempts
                .iter()
                .map(|a| i64::try_from(a.duration.as_micros()).unwrap_or(i64::MAX))
                .collect(),
            status_codes: attempts.iter().map(|a| a.status_code).collect(),
            response_bodies: attempts
                .iter()
                .map(|a| a.response_body.as_deref())
                .collect(),
            error_kinds: attempts.iter().map(|a| a.error_kind.as_deref()).collect(),
        }
    }
}

// Delivery and attempt reads (query API): scoped to one project, newest
// first, paginated by id.

/// What a delivery search asks for; `limit` is the number of rows to return
/// at most (callers paginating ask for one more).
#[derive(Debug, Clone)]
pub struct DeliverySearch {
    pub endpoint_id: Option<EndpointId>,
    pub status: Option<DeliveryStatus>,
    /// Only deliveries older than this one: the cursor of the previous page.
    pub before: Option<DeliveryId>,
    pub limit: i64,
}

/// Every column: `state_from_row` reads the ones it needs by name, so the
/// reads here follow when that set grows.
const DELIVERY_COLUMNS: &str = "*";

const ALL_STATUSES: [DeliveryStatus; 4] = [
    DeliveryStatus::Pending,
    DeliveryStatus::Succeeded,
    DeliveryStatus::Failed,
    DeliveryStatus::Refused,
];

/// Attempts of a delivery are made after its event was received, so older
/// partitions of `attempts` need no probe; the margin covers clock skew
/// between the gateway and the dispatcher.
const ATTEMPT_CLOCK_MARGIN: time::Duration = time::Duration::DAY;

fn attempt_record_from_row(row: &tokio_postgres::Row) -> AttemptRecord {
    AttemptRecord {
        id: AttemptId::from_uuid(row.get("id")),
        delivery_id: DeliveryId::from_uuid(row.get("delivery_id")),
        project_id: ProjectId::from_uuid(row.get("project_id")),
        endpoint_id: EndpointId::from_uuid(row.get("endpoint_id")),
        attempt_number: row.get("attempt_number"),
        started_at: row.get("started_at"),
        duration: Duration::from_micros(
            u64::try_from(row.get::<_, i64>("duration_us")).unwrap_or(0),
        ),
        status_code: row.get("status_code"),
        response_body: row.get("response_body"),
        error_kind: row.get("error_kind"),
    }
}

/// The time in the first 48 bits of a UUID v7 (Unix milliseconds).
fn uuid_v7_time(id: Uuid) -> OffsetDateTime {
    let millis = id.as_u64_pair().0 >> 16;
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Store {
    /// Returns the project's deliveries that pass `search`, newest first.
    ///
    /// Each status is read from its own slice of the `(endpoint_id, status, id)`
    /// or `(project_id, status, id)` index, newest first and limited, and the
    /// slices are merged: no sort of an endpoint's whole history. The statuses
    /// are written into the statement (they are this crate's constants), so
    /// the planner knows each one's frequency.
    #[tracing::instrument(level = "debug", skip_all, fields(project_id = %project_id))]
    pub async fn search_deliveries(
        &self,
        project_id: ProjectId,
        search: &DeliverySearch,
    ) -> Result<Vec<DeliveryState>, StoreError> {
        let statuses = match search.status {
            Some(status) => vec![status],
            None => ALL_STATUSES.to_vec(),
        };
        let mut query = crate::events::FilteredQuery::new("SELECT * FROM (");
        let project = query.bind(project_id.uuid());
        let mut filters = String::new();
        if let Some(endpoint_id) = search.endpoint_id {
            let endpoint = query.bind(endpoint_id.uuid());
            filters.push_str(&format!(" AND endpoint_id = {endpoint}"));
        }
        if let Some(before) = search.before {
            let bound = query.bind(before.uuid());
            filters.push_str(&format!(" AND id < {bound}"));
        }
        let limit = query.bind(search.limit);
        let slices: Vec<String> = statuses
            .iter()
            .map(|status| {
                format!(
                    "(SELECT {DELIVERY_COLUMNS} FROM deliveries \
                     WHERE project_id = {project} AND status = '{}'{filters} \
                     ORDER BY id DESC LIMIT {limit})",
                    status.as_str()
                )
            })
            .collect();
        query.push(&slices.join(" UNION ALL "));
        query.push(&format!(") d ORDER BY id DESC LIMIT {limit}"));
        let client = self.connection().await?;
        let rows = query.query(&client).await?;
        Ok(rows.iter().map(state_from_row).collect())
    }

    /// Returns the delivery if it belongs to the project.
    #[tracing::instrument(level = "debug", skip_all, fields(delivery_id = %id))]
    pub async fn project_delivery(
        &self,
        project_id: ProjectId,
        id: DeliveryId,
    ) -> Result<Option<DeliveryState>, StoreError> {
        let row = self
            .query_opt_prepared(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1 AND project_id = $2"
                ),
                &[&id.uuid(), &project_id.uuid()],
            )
            .await?;
        Ok(row.as_ref().map(state_from_row))
    }

    /// Returns up to `limit` deliveries of the project's event (one per
    /// endpoint it was sent to) in descending id order, those below `before`
    /// when given: one page of a cursor-paginated list.
    #[tracing::instrument(level = "debug", skip_all, fields(event_id = %event_id))]
    pub async fn project_event_deliveries(
        &self,
        project_id: ProjectId,
        event_id: EventId,
        before: Option<DeliveryId>,
        limit: i64,
    ) -> Result<Vec<DeliveryState>, StoreError> {
        let (floor, ceiling) = ids_of_the_same_millisecond(event_id);
        // A cursor only narrows the same primary-key range scan.
        let ceiling = match before {
            Some(before) => before.uuid().min(ceiling),
            None => ceiling,
        };
        let rows = self
            .query_prepared(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM deliveries \
                     WHERE event_id = $1 AND project_id = $2 AND id >= $3 \
                       AND (id < $4 OR ($5 AND id = $4)) \
                     ORDER BY id DESC LIMIT $6"
                ),
                &[
                    &event_id.uuid(),
                    &project_id.uuid(),
                    &floor,
                    &ceiling,
                    &before.is_none(),
                    &limit,
                ],
            )
            .await?;
        Ok(rows.iter().map(state_from_row).collect())
    }

    /// Returns the event with its deliveries if it belongs to the project:
    /// both statements on one connection, pipelined, so the detail of an
    /// event costs one round trip to PostgreSQL.
    #[tracing::instrument(level = "debug", skip_all, fields(event_id = %event_id))]
    pub async fn event_with_deliveries(
        &self,
        project_id: ProjectId,
        event_id: EventId,
    ) -> Result<Option<(StoredEvent, Vec<DeliveryState>)>, StoreError> {
        let (floor, ceiling) = ids_of_the_same_millisecond(event_id);
        let (event_sql, deliveries_sql) = (project_event_sql(), project_event_deliveries_sql());
        let client = self.connection().await?;
        let (event_statement, deliveries_statement) = tokio::try_join!(
            client.prepare_cached(&event_sql),
            client.prepare_cached(&deliveries_sql)
        )?;
        let (event_id, project_id) = (event_id.uuid(), project_id.uuid());
        let event_params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] =
            [&event_id, &project_id];
        let deliveries_params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
            [&event_id, &project_id, &floor, &ceiling];
        let (event, deliveries) = tokio::try_join!(
            client.query_opt(&event_statement, &event_params),
            client.query(&deliveries_statement, &deliveries_params)
        )?;
        Ok(event.map(|event| {
            (
                stored_event_from_row(&event),
                deliveries.iter().map(state_from_row).collect(),
            )
        }))
    }

    /// Returns up to `limit` attempts of the project's delivery, newest first,
    /// older than `before` when given.
    #[tracing::instrument(level = "debug", skip_all, fields(delivery_id = %delivery_id))]
    pub async fn project_delivery_attempts(
        &self,
        project_id: ProjectId,
        delivery_id: DeliveryId,
        before: Option<AttemptId>,
        limit: i64,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        let not_before =
            crate::events::uuid_v7_floor(uuid_v7_time(delivery_id.uuid()) - ATTEMPT_CLOCK_MARGIN);
        let mut query = crate::events::FilteredQuery::new("");
        let delivery = query.bind(delivery_id.uuid());
        let project = query.bind(project_id.uuid());
        let floor = query.bind(not_before);
        query.push(&format!(
            "SELECT * FROM attempts WHERE delivery_id = {delivery} AND project_id = {project} \
             AND id >= {floor}"
        ));
        if let Some(before) = before {
            let bound = query.bind(before.uuid());
            query.push(&format!(" AND id < {bound}"));
        }
        let limit = query.bind(limit);
        query.push(&format!(" ORDER BY id DESC LIMIT {limit}"));
        let client = self.connection().await?;
        let rows = query.query(&client).await?;
        Ok(rows.iter().map(attempt_record_from_row).collect())
    }
}

/// The deliveries of one project's event, newest first.
fn project_event_deliveries_sql() -> String {
    format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries \
         WHERE event_id = $1 AND project_id = $2 AND id BETWEEN $3 AND $4 \
         ORDER BY id DESC"
    )
}

/// The lowest and highest UUID v7 of the event's millisecond. Deliveries share
/// their event's millisecond (the first 48 bits of their ids), so bounding
/// `deliveries.id` by these finds an event's deliveries with a short range
/// scan of the primary key, in one partition, without an index on event_id.
fn ids_of_the_same_millisecond(event_id: EventId) -> (Uuid, Uuid) {
    let (high, _) = event_id.uuid().as_u64_pair();
    (
        Uuid::from_u64_pair(high & !0xffff, 0),
        Uuid::from_u64_pair(high | 0xffff, u64::MAX),
    )
}

#[cfg(test)]
mod read_tests {
    use super::*;

    #[test]
    fn the_time_of_an_id_is_its_first_48_bits() {
        let id = Uuid::from_u64_pair(0x0192_e272_627b_7000, 42);
        assert_eq!(
            uuid_v7_time(id).unix_timestamp_nanos(),
            1_730_376_000_123_000_000
        );
    }
}
