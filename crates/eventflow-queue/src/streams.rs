//! The event stream. Entries carry ids only (event and project): payloads stay
//! in PostgreSQL, so a backlog costs Redis little memory per event.

use eventflow_domain::{EventId, ProjectId};
use fred::prelude::*;

use crate::{Queue, QueueError};

/// Field names inside a stream entry.
const FIELD_EVENT: &str = "e";
const FIELD_PROJECT: &str = "p";
/// Present on entries re-published by recovery.
pub(crate) const FIELD_RECOVERED: &str = "r";

/// One event announced on the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamEntry {
    pub event_id: EventId,
    pub project_id: ProjectId,
}

impl Queue {
    /// Appends the entries to the event stream in one round trip. Either all
    /// were appended or an error says that some may not have been.
    #[tracing::instrument(level = "debug", skip_all, fields(entries = entries.len()))]
    pub async fn append_events(&self, entries: &[StreamEntry]) -> Result<(), QueueError> {
        self.append_marked(entries, false).await.map(drop)
    }

    /// Appends the entries in one round trip; returns the stream id of the
    /// last one (None when there were none).
    pub(crate) async fn append_marked(
        &self,
        entries: &[StreamEntry],
        recovered: bool,
    ) -> Result<Option<String>, QueueError> {
        if entries.is_empty() {
            return Ok(None);
        }
        let stream = self.keys().event_stream();
        let pipeline = self.client().pipeline();
        for entry in entries {
            let mut fields = vec![
                (FIELD_EVENT, entry.event_id.to_string()),
                (FIELD_PROJECT, entry.project_id.to_string()),
            ];
            if recovered {
                fields.push((FIELD_RECOVERED, "1".to_owned()));
            }
            let _: () = pipeline
                .xadd(&stream, false, None::<()>, "*", fields)
                .await?;
        }
        let replies: Vec<Result<Value, fred::error::Error>> = pipeline.try_all().await;
        let mut last_id = None;
        for reply in replies {
            last_id = reply?.into_string();
        }
        Ok(last_id)
    }

    /// Which incarnation of the event stream this is: a random value kept
    /// beside the stream, created by the first call after Redis lost its keys
    /// (a restart with nothing persisted, a FLUSHDB). Two calls that return
    /// the same value saw no such loss in between.
    pub async fn stream_epoch(&self) -> Result<String, QueueError> {
        let key = self.keys().stream_epoch();
        let fresh = uuid::Uuid::new_v4().to_string();
        let _: Value = self
            .client()
            .set(&key, fresh.as_str(), None, Some(SetOptions::NX), false)
            .await?;
        let epoch: Option<String> = self.client().get(&key).await?;
        // Only a loss between the two commands leaves nothing to read; ours is then as new as any.
        Ok(epoch.unwrap_or(fresh))
    }

    /// Returns how many entries the event stream holds.
    pub async fn event_stream_len(&self) -> Result<u64, QueueError> {
        Ok(self.client().xlen(self.keys().event_stream()).await?)
    }

    /// Reads up to `count` entries from the start of the event stream (no consumer group).
    pub async fn read_event_stream(&self, count: u64) -> Result<Vec<StreamEntry>, QueueError> {
        let entries: Vec<(String, std::collections::HashMap<String, String>)> = self
            .client()
            .xrange(self.keys().event_stream(), "-", "+", Some(count))
            .await?;
        entries
            .into_iter()
            .map(|(_, fields)| parse_entry(&fields))
            .collect()
    }
}

pub(crate) fn parse_entry(
    fields: &std::collections::HashMap<String, String>,
) -> Result<StreamEntry, QueueError> {
    let field = |name: &str| {
        fields.get(name).ok_or_else(|| {
            QueueError::UnexpectedReply(format!("stream entry without field {name}"))
        })
    };
    let event_id = EventId::parse(field(FIELD_EVENT)?)
        .map_err(|error| QueueError::UnexpectedReply(error.to_string()))?;
    let project_id = ProjectId::parse(field(FIELD_PROJECT)?)
        .map_err(|error| QueueError::UnexpectedReply(error.to_string()))?;
    Ok(StreamEntry {
        event_id,
        project_id,
    })
}
