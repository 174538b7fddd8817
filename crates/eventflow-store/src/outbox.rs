//! The outbox of events that were committed but could not be appended to the
//! Redis stream. Whoever relays it appends them again and then removes them.

use eventflow_domain::{EventId, ProjectId};
use uuid::Uuid;

use crate::{Store, StoreError};

impl Store {
    /// Records committed events whose stream append failed, so recovery re-publishes them.
    #[tracing::instrument(skip_all, fields(events = events.len()))]
    pub async fn record_unpublished(
        &self,
        events: &[(EventId, ProjectId)],
        reason: &str,
    ) -> Result<(), StoreError> {
        let (ids, project_ids): (Vec<Uuid>, Vec<Uuid>) = events
            .iter()
            .map(|(id, project)| (id.uuid(), project.uuid()))
            .unzip();
        self
            .execute_prepared(
                "INSERT INTO event_outbox (event_id, project_id, reason) \
                 SELECT id, project_id, $3 FROM unnest($1::uuid[], $2::uuid[]) AS u(id, project_id) \
                 ON CONFLICT (event_id) DO NOTHING",
                &[&ids, &project_ids, &reason],
            )
            .await?;
        Ok(())
    }

    /// Returns up to `limit` unpublished events, oldest first.
    pub async fn unpublished_events(
        &self,
        limit: i64,
    ) -> Result<Vec<(EventId, ProjectId)>, StoreError> {
        let rows = self
            .query_prepared(
                "SELECT event_id, project_id FROM event_outbox ORDER BY event_id LIMIT $1",
                &[&limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                (
                    EventId::from_uuid(row.get(0)),
                    ProjectId::from_uuid(row.get(1)),
                )
            })
            .collect())
    }

    /// Removes events from the outbox once they are in the stream again.
    pub async fn remove_from_outbox(&self, ids: &[EventId]) -> Result<u64, StoreError> {
        let ids: Vec<Uuid> = ids.iter().map(|id| id.uuid()).collect();
        let client = self.connection().await?;
        Ok(client
            .execute("DELETE FROM event_outbox WHERE event_id = ANY($1)", &[&ids])
            .await?)
    }
}

impl Store {
    /// Takes up to `limit` events out of the outbox and hands them to
    /// `publish`; they leave the outbox only if `publish` succeeds. Rows are
    /// locked while publishing, so concurrent relays never take the same event.
    pub async fn relay_outbox<F, Fut, E>(
        &self,
        limit: i64,
        publish: F,
    ) -> Result<usize, RelayError<E>>
    where
        F: FnOnce(Vec<(EventId, ProjectId)>) -> Fut,
        Fut: std::future::Future<Output = Result<(), E>>,
    {
        let mut connection = self.connection().await?;
        let transaction = connection.transaction().await.map_err(StoreError::from)?;
        let rows = transaction
            .query(
                "DELETE FROM event_outbox WHERE event_id IN ( \
                     SELECT event_id FROM event_outbox ORDER BY event_id LIMIT $1 FOR UPDATE SKIP LOCKED) \
                 RETURNING event_id, project_id",
                &[&limit],
            )
            .await
            .map_err(StoreError::from)?;
        if rows.is_empty() {
            return Ok(0);
        }
        let events: Vec<(EventId, ProjectId)> = rows
            .iter()
            .map(|row| {
                (
                    EventId::from_uuid(row.get(0)),
                    ProjectId::from_uuid(row.get(1)),
                )
            })
            .collect();
        let count = events.len();
        publish(events).await.map_err(RelayError::Publish)?;
        transaction.commit().await.map_err(StoreError::from)?;
        Ok(count)
    }
}

/// Why relaying the outbox stopped; the events stay in the outbox either way.
#[derive(Debug, thiserror::Error)]
pub enum RelayError<E> {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("publishing failed")]
    Publish(#[source] E),
}
