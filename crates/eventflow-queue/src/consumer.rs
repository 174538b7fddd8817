//! The dispatchers' side of the event stream: one consumer group shared by
//! every replica. An entry stays pending until acknowledged; entries left
//! pending by a dead consumer are claimed by others after a timeout.
//!
//! When Redis loses its data the group vanishes and reads fail with
//! `NOGROUP`; [`QueueError::NoGroup`] tells the caller to recreate it (and to
//! let recovery re-publish what was lost, from PostgreSQL).

use std::collections::HashMap;
use std::time::Duration;

use fred::prelude::*;

use crate::streams::{FIELD_RECOVERED, parse_entry};
use crate::{Queue, QueueError, StreamEntry};

/// The consumer group every dispatcher joins.
pub const DISPATCH_GROUP: &str = "dispatchers";

/// An entry read from the stream, with what acknowledging it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedEntry {
    /// The stream entry id (`<ms>-<seq>`), to acknowledge it.
    pub stream_id: String,
    pub entry: StreamEntry,
    /// True when this entry may have been handled before: it was claimed from
    /// another consumer, or re-published by recovery.
    pub maybe_seen: bool,
}

/// The group's backlog as XPENDING and XINFO report it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupBacklog {
    /// Entries read but not yet acknowledged.
    pub pending: u64,
    /// The oldest pending entry's id, if any.
    pub oldest_pending: Option<String>,
    /// Entries not yet read by any consumer (None when Redis cannot tell).
    pub lag: Option<u64>,
    /// The id of the last entry handed to a consumer.
    pub last_delivered: Option<String>,
}

fn is_no_group(error: &fred::error::Error) -> bool {
    error.details().starts_with("NOGROUP")
}

/// XINFO on a missing key answers "ERR no such key".
fn is_no_stream(error: &fred::error::Error) -> bool {
    error.details().contains("no such key")
}

impl Queue {
    /// Creates the consumer group (and the stream) if missing; starting from
    /// the stream's beginning so nothing already appended is skipped.
    pub async fn ensure_dispatch_group(&self) -> Result<(), QueueError> {
        let created: Result<(), _> = self
            .client()
            .xgroup_create(self.keys().event_stream(), DISPATCH_GROUP, "0", true)
            .await;
        match created {
            Err(error) if error.details().starts_with("BUSYGROUP") => Ok(()),
            other => Ok(other?),
        }
    }

    /// Reads up to `count` new entries for `consumer`, waiting up to `block` for some.
    pub async fn read_new(
        &self,
        consumer: &str,
        count: u64,
        block: Duration,
    ) -> Result<Vec<ReceivedEntry>, QueueError> {
        let block_ms = u64::try_from(block.as_millis()).unwrap_or(u64::MAX);
        let reply: Result<Value, _> = self
            .client()
            .xreadgroup(
                DISPATCH_GROUP,
                consumer,
                Some(count),
                Some(block_ms),
                false,
                self.keys().event_stream(),
                ">",
            )
            .await;
        let reply = match reply {
            Err(error) if is_no_group(&error) => return Err(QueueError::NoGroup),
            other => other?,
        };
        parse_entries(only_stream_entries(reply)?, false)
    }

    /// Claims entries pending for longer than `min_idle` (their consumer is
    /// presumably dead) for `consumer`, up to `count`.
    pub async fn claim_stale(
        &self,
        consumer: &str,
        min_idle: Duration,
        count: u64,
    ) -> Result<Vec<ReceivedEntry>, QueueError> {
        let min_idle_ms = u64::try_from(min_idle.as_millis()).unwrap_or(u64::MAX);
        let reply: Result<Value, _> = self
            .client()
            .xautoclaim(
                self.keys().event_stream(),
                DISPATCH_GROUP,
                consumer,
                min_idle_ms,
                "0-0",
                Some(count),
                false,
            )
            .await;
        let reply = match reply {
            Err(error) if is_no_group(&error) => return Err(QueueError::NoGroup),
            other => other?,
        };
        // [next-start, [[id, [field, value, ...]], ...], [deleted ids] (Redis 7)]
        let mut parts: Vec<Value> = reply.convert()?;
        if parts.len() < 2 {
            return Err(QueueError::UnexpectedReply(
                "XAUTOCLAIM reply too short".into(),
            ));
        }
        parse_entries(parts.swap_remove(1), true)
    }

    /// Acknowledges handled entries.
    pub async fn ack(&self, stream_ids: &[String]) -> Result<(), QueueError> {
        if stream_ids.is_empty() {
            return Ok(());
        }
        let acked: Result<u64, _> = self
            .client()
            .xack(
                self.keys().event_stream(),
                DISPATCH_GROUP,
                stream_ids.to_vec(),
            )
            .await;
        match acked {
            Err(error) if is_no_group(&error) => Err(QueueError::NoGroup),
            other => other.map(|_| ()).map_err(QueueError::from),
        }
    }

    /// Reports the group's backlog; NoGroup when the group does not exist.
    ///
    /// The group's read position is taken before the pending entries, so an
    /// entry read in between is counted as unread rather than missed by both:
    /// recovery treats everything before the oldest pending or unread entry
    /// as handled, and would re-publish an entry still in flight.
    pub async fn dispatch_backlog(&self) -> Result<GroupBacklog, QueueError> {
        let stream = self.keys().event_stream();
        let groups: Result<Vec<HashMap<String, Value>>, _> =
            self.client().xinfo_groups(&stream).await;
        let groups = match groups {
            Err(error) if is_no_group(&error) || is_no_stream(&error) => {
                return Err(QueueError::NoGroup);
            }
            other => other?,
        };
        let group = groups
            .into_iter()
            .find(|group| {
                group
                    .get("name")
                    .and_then(|name| name.as_string())
                    .as_deref()
                    == Some(DISPATCH_GROUP)
            })
            .ok_or(QueueError::NoGroup)?;
        let pending: Result<Value, _> = self.client().xpending(&stream, DISPATCH_GROUP, ()).await;
        let pending = match pending {
            Err(error) if is_no_group(&error) => return Err(QueueError::NoGroup),
            other => other?,
        };
        let summary: Vec<Value> = pending.convert()?;
        let count = summary
            .first()
            .and_then(|value| value.as_u64())
            .unwrap_or(0);
        let oldest_pending = summary.get(1).and_then(|value| value.as_string());
        Ok(GroupBacklog {
            pending: count,
            oldest_pending,
            lag: group.get("lag").and_then(|lag| lag.as_u64()),
            last_delivered: group.get("last-delivered-id").and_then(|id| id.as_string()),
        })
    }

    /// Removes entries that every consumer has acknowledged and that are
    /// older than `before_ms` (Unix milliseconds), keeping the stream small.
    pub async fn trim_event_stream_before(&self, before_ms: u64) -> Result<u64, QueueError> {
        let trimmed: u64 = self
            .client()
            .xtrim(
                self.keys().event_stream(),
                ("MINID", "~", format!("{before_ms}-0"), None::<i64>),
            )
            .await?;
        Ok(trimmed)
    }

    /// Returns the id of the first entry after `id` (exclusive), if any.
    pub async fn first_entry_after(&self, id: &str) -> Result<Option<String>, QueueError> {
        let entries: Vec<(String, HashMap<String, String>)> = self
            .client()
            .xrange(self.keys().event_stream(), format!("({id}"), "+", Some(1))
            .await?;
        Ok(entries.into_iter().next().map(|(id, _)| id))
    }

    /// Re-appends events that may be on the stream already (found by
    /// recovery, relayed from the gateway's outbox), marked so consumers check
    /// what was already delivered; returns the stream id of the last one.
    pub async fn append_recovered(
        &self,
        entries: &[StreamEntry],
    ) -> Result<Option<String>, QueueError> {
        self.append_marked(entries, true).await
    }
}

/// The entries of the one stream an XREADGROUP read: the reply is
/// `{stream: entries}` in RESP3 but `[[stream, entries]]` in RESP2 (the
/// default), which does not convert to a map.
fn only_stream_entries(reply: Value) -> Result<Value, QueueError> {
    match reply {
        Value::Null => Ok(Value::Null),
        Value::Map(streams) => Ok(streams.inner().into_values().next().unwrap_or(Value::Null)),
        Value::Array(streams) => match streams.into_iter().next() {
            Some(stream) => {
                let (_name, entries): (Value, Value) = stream.convert()?;
                Ok(entries)
            }
            None => Ok(Value::Null),
        },
        other => Err(QueueError::UnexpectedReply(format!(
            "XREADGROUP replied {other:?}"
        ))),
    }
}

fn parse_entries(entries: Value, claimed: bool) -> Result<Vec<ReceivedEntry>, QueueError> {
    if entries.is_null() {
        return Ok(Vec::new());
    }
    let entries: Vec<Value> = entries.convert()?;
    let mut parsed = Vec::with_capacity(entries.len());
    for entry in entries {
        if entry.is_null() {
            continue; // deleted while pending (Redis 6 XAUTOCLAIM)
        }
        let (stream_id, fields): (String, Value) = entry.convert()?;
        if fields.is_null() {
            continue;
        }
        let fields: HashMap<String, String> = fields.convert()?;
        let recovered = fields.contains_key(FIELD_RECOVERED);
        parsed.push(ReceivedEntry {
            stream_id,
            entry: parse_entry(&fields)?,
            maybe_seen: claimed || recovered,
        });
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use eventflow_domain::{EventId, ProjectId};

    use super::*;

    fn entries(event_id: EventId, project_id: ProjectId) -> Value {
        let fields = Value::Array(vec![
            "e".into(),
            event_id.to_string().into(),
            "p".into(),
            project_id.to_string().into(),
        ]);
        Value::Array(vec![Value::Array(vec!["1700000000000-0".into(), fields])])
    }

    #[test]
    fn a_resp2_read_reply_gives_its_entries() {
        let (event_id, project_id) = (EventId::new(), ProjectId::new());
        let reply = Value::Array(vec![Value::Array(vec![
            "t:stream:events".into(),
            entries(event_id, project_id),
        ])]);

        let parsed = parse_entries(only_stream_entries(reply).unwrap(), false).unwrap();

        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].stream_id, "1700000000000-0");
        assert_eq!(parsed[0].entry.event_id, event_id);
        assert_eq!(parsed[0].entry.project_id, project_id);
        assert!(!parsed[0].maybe_seen);
    }

    #[test]
    fn a_resp3_read_reply_gives_its_entries() {
        let (event_id, project_id) = (EventId::new(), ProjectId::new());
        let streams = HashMap::from([("t:stream:events", entries(event_id, project_id))]);
        let reply = Value::try_from(streams).unwrap();

        let parsed = parse_entries(only_stream_entries(reply).unwrap(), false).unwrap();

        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].entry.event_id, event_id);
    }

    #[test]
    fn an_empty_read_reply_gives_no_entries() {
        let parsed = parse_entries(only_stream_entries(Value::Null).unwrap(), false).unwrap();

        assert!(parsed.is_empty());
    }
}
