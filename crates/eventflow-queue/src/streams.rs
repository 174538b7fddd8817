//! The event stream. Entries carry ids only (event and project): payloads stay
//! in PostgreSQL, so a backlog costs Redis little memory per event.

use eventflow_domain::{EventId, ProjectId};
use fred::prelude::*;
use fred::types::scripts::Script;

use crate::{Queue, QueueError};

/// Field names inside a stream entry.
const FIELD_EVENT: &str = "e";
const FIELD_PROJECT: &str = "p";
/// Present on entries re-published by recovery.
pub(crate) const FIELD_RECOVERED: &str = "r";

/// KEYS[1]: the event stream. ARGV[1]: "1" to mark the entries recovered,
/// then an event id and its project id per entry. Returns the last entry's id.
fn append_lua() -> String {
    format!(
        r#"
local last
for i = 2, #ARGV, 2 do
  if ARGV[1] == '1' then
    last = redis.call('XADD', KEYS[1], '*', '{FIELD_EVENT}', ARGV[i], '{FIELD_PROJECT}', ARGV[i + 1], '{FIELD_RECOVERED}', '1')
  else
    last = redis.call('XADD', KEYS[1], '*', '{FIELD_EVENT}', ARGV[i], '{FIELD_PROJECT}', ARGV[i + 1])
  end
end
return last
"#
    )
}

/// The script that appends entries (see `Queue::append_marked`).
pub(crate) fn append_script() -> Script {
    Script::from_lua(append_lua())
}

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
    ///
    /// One script call, not a pipeline of XADDs: while Redis is out of reach
    /// fred queues what it is asked to send and writes it once it has
    /// reconnected. A single command that timed out is marked so and dropped
    /// from that queue, but the commands of a pipeline that timed out are
    /// not, so every failed append (the gateway's, then one per outbox relay
    /// tick) used to reach the stream after the outage: each event acknowledged
    /// during a 2 s outage was delivered ~9 times. The script is also atomic:
    /// all entries or none.
    pub(crate) async fn append_marked(
        &self,
        entries: &[StreamEntry],
        recovered: bool,
    ) -> Result<Option<String>, QueueError> {
        if entries.is_empty() {
            return Ok(None);
        }
        let mut args = Vec::with_capacity(1 + entries.len() * 2);
        args.push(if recovered { "1" } else { "0" }.to_owned());
        for entry in entries {
            args.push(entry.event_id.to_string());
            args.push(entry.project_id.to_string());
        }
        let last_id: Value = self
            .append_script
            .evalsha_with_reload(self.client(), self.keys().event_stream(), args)
            .await?;
        Ok(last_id.into_string())
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
