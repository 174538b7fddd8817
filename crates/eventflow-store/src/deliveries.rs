//! Deliveries (one per event and endpoint) and their attempts. Delivery ids
//! are derived from the event and endpoint ids, so writing a delivery twice
//! (after a crash, a replay or a recovery scan) updates one row.

use std::collections::HashMap;
use std::time::Duration;

use eventflow_domain::{AttemptId, DeliveryId, EndpointId, EventId, ProjectId};
use time::OffsetDateTime;
use uuid::Uuid;

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

const UPSERT_DELIVERIES: &str = "\
INSERT INTO deliveries (id, project_id, event_id, endpoint_id, status, attempt_count, next_attempt_at,
                        last_attempt_at, last_status_code, last_error)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::int[],
                     $7::timestamptz[], $8::timestamptz[], $9::int[], $10::text[])
ON CONFLICT (id) DO UPDATE SET
    status = EXCLUDED.status,
    attempt_count = EXCLUDED.attempt_count,
    next_attempt_at = EXCLUDED.next_attempt_at,
    last_attempt_at = coalesce(EXCLUDED.last_attempt_at, deliveries.last_attempt_at),
    last_status_code = coalesce(EXCLUDED.last_status_code, deliveries.last_status_code),
    last_error = coalesce(EXCLUDED.last_error, deliveries.last_error),
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

    /// Returns the status of those of `ids` that exist.
    pub async fn delivery_statuses(
        &self,
        ids: &[DeliveryId],
    ) -> Result<HashMap<DeliveryId, DeliveryStatus>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Uuid> = ids.iter().map(|id| id.uuid()).collect();
        let client = self.connection().await?;
        let rows = client
            .query(
                "SELECT id, status FROM deliveries WHERE id = ANY($1)",
                &[&ids],
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
        let client = self.connection().await?;
        let rows = client
            .query(
                "UPDATE deliveries d SET next_attempt_at = $2 \
                 FROM (SELECT id FROM deliveries \
                       WHERE status = 'pending' AND next_attempt_at <= now() \
                       ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due \
                 WHERE d.id = due.id \
                 RETURNING d.id, d.project_id, d.event_id, d.endpoint_id, d.status, d.attempt_count, \
                           d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error",
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
        let client = self.connection().await?;
        let rows = client
            .query(
                "SELECT id, project_id, event_id, endpoint_id, status, attempt_count, next_attempt_at, \
                        last_attempt_at, last_status_code, last_error \
                 FROM deliveries WHERE event_id = $1 ORDER BY endpoint_id",
                &[&event_id.uuid()],
            )
            .await?;
        Ok(rows.iter().map(state_from_row).collect())
    }

    /// Returns the attempts of a delivery, oldest first.
    pub async fn delivery_attempts(
        &self,
        delivery_id: DeliveryId,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        let client = self.connection().await?;
        let rows = client
            .query(
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
                "UPDATE deliveries SET status = 'pending', next_attempt_at = now(), attempt_count = 0, \
                        updated_at = now() \
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
                "UPDATE deliveries SET status = 'pending', next_attempt_at = now(), attempt_count = 0, \
                        updated_at = now() \
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

    /// Counts pending deliveries whose due time has passed.
    pub async fn count_due_deliveries(&self) -> Result<i64, StoreError> {
        let client = self.connection().await?;
        let row = client
            .query_one("SELECT count(*) FROM deliveries WHERE status = 'pending' AND next_attempt_at <= now()", &[])
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
