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
        if reply.is_null() {
            return Ok(Vec::new());
        }
        // {stream: [[id, [field, value, ...]], ...]} as a map (RESP3) or nested arrays (RESP2).
        let streams: HashMap<String, Value> = reply.convert()?;
        let entries = streams.into_values().next().unwrap_or(Value::Null);
        parse_entries(entries, false)
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
    pub async fn dispatch_backlog(&self) -> Result<GroupBacklog, QueueError> {
        let stream = self.keys().event_stream();
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
        let groups: Vec<HashMap<String, Value>> = self.client().xinfo_groups(&stream).await?;
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

    /// Re-appends events found by recovery, marked so consumers check what was already delivered.
    pub async fn append_recovered(&self, entries: &[StreamEntry]) -> Result<(), QueueError> {
        self.append_marked(entries, true).await
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
