//! Recovery: finds committed events the stream never delivered and
//! re-publishes them. It covers a failed append (outbox), a gateway that died
//! between commit and append, and Redis losing its data (the stream and the
//! consumer group vanish).
//!
//! One dispatcher leads (a PostgreSQL advisory lock). It computes how far the
//! stream is fully handled: everything appended before the oldest entry still
//! pending or unread has been acknowledged, so an event committed before that
//! point (minus `recovery_grace` for the time from commit to append) must
//! have its deliveries. It walks events in id (time) order from where it last
//! stopped up to that point, and re-publishes every event that misses a
//! delivery; consumers skip endpoints already delivered. Where it stopped is
//! kept in PostgreSQL, so each event is checked once and a restart resumes.
//!
//! Re-published entries can be lost too, if Redis loses its data again before
//! they are read. The checkpoint has passed their events by then, so the
//! earliest re-published event stays on record (`recovery_unconfirmed`) until
//! the stream has handled every re-published entry; a new stream incarnation
//! (`Queue::stream_epoch`) in the meantime rewinds the checkpoint to it.
//!
//! The leader also trims acknowledged entries from the stream, disables
//! endpoints that fail for too long, and reports backlog metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use eventflow_domain::{DeliveryId, EventId};
use eventflow_queue::{GroupBacklog, QueueError, StreamEntry};
use eventflow_store::{LeaderLock, StoreError, StoredEvent};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::dispatch::Dispatch;

/// Shared by every dispatcher of a database: whoever holds it leads recovery.
const RECOVERY_LOCK_KEY: i64 = 0x6566_7265_636f_7672; // "efrecovr"
/// Where the scan stopped: the last event id checked (a UUID).
const CHECKED_UNTIL: &str = "recovery_checked_until";
/// The stream incarnation recovery last saw (`Queue::stream_epoch`).
const STREAM_EPOCH: &str = "recovery_stream_epoch";
/// Re-published entries not known to be handled yet (see [`Unconfirmed`]).
const UNCONFIRMED: &str = "recovery_unconfirmed";
/// Events read per step of the scan.
const SCAN_CHUNK: i64 = 5000;
/// Steps per tick, so a long backlog does not hold up trimming and metrics.
const MAX_CHUNKS_PER_TICK: usize = 20;
/// Acknowledged entries stay in the stream this long before they are trimmed.
const TRIM_AFTER: Duration = Duration::from_secs(60);
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(60);

/// Settings of recovery.
#[derive(Debug, Clone, Copy)]
pub struct RecoverySettings {
    pub interval: Duration,
    pub grace: Duration,
    pub initial_lookback: Duration,
    pub disable_failing_after: Duration,
}

/// Runs recovery while this dispatcher leads, until `stop`.
pub async fn run(dispatch: Arc<Dispatch>, settings: RecoverySettings, stop: CancellationToken) {
    let mut leader: Option<LeaderLock> = None;
    let mut last_housekeeping = Instant::now() - HOUSEKEEPING_INTERVAL;
    while !stop.is_cancelled() {
        if !leader.as_ref().is_some_and(LeaderLock::is_held) {
            leader = dispatch
                .store
                .try_lead(RECOVERY_LOCK_KEY)
                .await
                .unwrap_or_else(|error| {
                    tracing::debug!(error = ?error, "could not try to lead recovery");
                    None
                });
            if leader.is_some() {
                tracing::info!("leading recovery");
            }
        }
        if leader.is_some() {
            if let Err(error) = recover_once(&dispatch, settings).await {
                tracing::warn!(error = ?error, "recovery step failed");
            }
            if last_housekeeping.elapsed() >= HOUSEKEEPING_INTERVAL {
                last_housekeeping = Instant::now();
                disable_failing_endpoints(&dispatch, settings.disable_failing_after).await;
            }
        }
        metrics::gauge!("eventflow_open_circuits")
            .set(dispatch.deliverer.gates().open_circuits() as f64);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(settings.interval) => {}
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// One tick: scan what became safe to check, re-publish what was lost, trim.
pub async fn recover_once(
    dispatch: &Dispatch,
    settings: RecoverySettings,
) -> Result<usize, RecoveryError> {
    let now_ms = unix_millis(OffsetDateTime::now_utc());
    let epoch = dispatch.queue.stream_epoch().await?;
    let mut unconfirmed = unconfirmed(dispatch).await?;
    let same_stream = rewind_if_the_stream_was_lost(dispatch, &epoch, unconfirmed.as_ref()).await?;
    let handled_until_ms = match dispatch.queue.dispatch_backlog().await {
        Ok(backlog) => {
            report_backlog(&backlog);
            stream_handled_until(dispatch, &backlog, now_ms).await?
        }
        Err(QueueError::NoGroup) => {
            // Redis lost the stream: nothing in it is pending any more, and
            // what it held is found below, from PostgreSQL.
            dispatch.queue.ensure_dispatch_group().await?;
            now_ms
        }
        Err(error) => return Err(error.into()),
    };
    // Read again: a loss while the backlog was read would make the new,
    // empty stream look like one that handled every re-published entry.
    if same_stream && dispatch.queue.stream_epoch().await? == epoch {
        confirm_republished(dispatch, &mut unconfirmed, handled_until_ms).await?;
    }
    let grace_ms = u64::try_from(settings.grace.as_millis()).unwrap_or(u64::MAX);
    let safe_until = uuid_floor(handled_until_ms.saturating_sub(grace_ms));
    let republished = scan_and_republish(dispatch, settings, safe_until, unconfirmed).await?;
    let trim_before =
        handled_until_ms.saturating_sub(u64::try_from(TRIM_AFTER.as_millis()).unwrap_or(0));
    if let Err(error) = dispatch.queue.trim_event_stream_before(trim_before).await {
        tracing::debug!(%error, "could not trim the stream");
    }
    match dispatch.store.release_held_for_accepting_endpoints().await {
        Ok(0) => {}
        Ok(released) => tracing::info!(
            released,
            "released deliveries held for endpoints that accept again"
        ),
        Err(error) => tracing::debug!(error = ?error, "could not release held deliveries"),
    }
    if let Ok(due) = dispatch.store.count_due_deliveries().await {
        metrics::gauge!("eventflow_retries_due").set(due as f64);
    }
    Ok(republished)
}

/// The earliest event recovery re-published whose stream entry may not have
/// been handled yet, and the stream id of the last entry it re-published.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Unconfirmed {
    first_event: Uuid,
    last_entry: String,
}

impl Unconfirmed {
    fn parse(value: &str) -> Option<Self> {
        let (first_event, last_entry) = value.split_once(' ')?;
        Some(Self {
            first_event: Uuid::parse_str(first_event).ok()?,
            last_entry: last_entry.to_owned(),
        })
    }

    fn to_value(&self) -> String {
        format!("{} {}", self.first_event, self.last_entry)
    }

    /// Adds re-published events, from `first_event` on, up to `last_entry`.
    fn widened(previous: Option<Self>, first_event: Uuid, last_entry: String) -> Self {
        Self {
            first_event: previous.map_or(first_event, |previous| {
                previous.first_event.min(first_event)
            }),
            last_entry,
        }
    }
}

async fn unconfirmed(dispatch: &Dispatch) -> Result<Option<Unconfirmed>, StoreError> {
    let value = dispatch.store.dispatch_state(UNCONFIRMED).await?;
    Ok(value.as_deref().and_then(Unconfirmed::parse))
}

/// Compares the stream's incarnation with the one recovery saw last. After a
/// loss, moves the checkpoint back to the earliest re-published event not
/// known to be handled, so that the scan finds it again. Returns whether
/// the stream is the one seen last.
async fn rewind_if_the_stream_was_lost(
    dispatch: &Dispatch,
    epoch: &str,
    unconfirmed: Option<&Unconfirmed>,
) -> Result<bool, StoreError> {
    let store = &dispatch.store;
    if store.dispatch_state(STREAM_EPOCH).await?.as_deref() == Some(epoch) {
        return Ok(true);
    }
    if let Some(unconfirmed) = unconfirmed {
        let rewound = Uuid::from_u128(unconfirmed.first_event.as_u128().saturating_sub(1));
        let checked = store.dispatch_state(CHECKED_UNTIL).await?;
        let checked = checked
            .as_deref()
            .and_then(|value| Uuid::parse_str(value).ok());
        if checked.is_some_and(|checked| checked > rewound) {
            store
                .set_dispatch_state(CHECKED_UNTIL, &rewound.to_string())
                .await?;
            tracing::warn!(
                from = %unconfirmed.first_event,
                "the stream was lost again before re-published events were read: checking them again"
            );
        }
    }
    store.set_dispatch_state(STREAM_EPOCH, epoch).await?;
    Ok(false)
}

/// Forgets the re-published entries once the stream has handled all of them.
async fn confirm_republished(
    dispatch: &Dispatch,
    unconfirmed: &mut Option<Unconfirmed>,
    handled_until_ms: u64,
) -> Result<(), StoreError> {
    if unconfirmed
        .as_ref()
        .is_some_and(|unconfirmed| handled_until_ms > entry_millis(&unconfirmed.last_entry))
    {
        dispatch.store.delete_dispatch_state(UNCONFIRMED).await?;
        *unconfirmed = None;
    }
    Ok(())
}

/// Unix ms before which every stream entry has been read and acknowledged.
async fn stream_handled_until(
    dispatch: &Dispatch,
    backlog: &GroupBacklog,
    now_ms: u64,
) -> Result<u64, QueueError> {
    let mut until = now_ms;
    if let Some(oldest) = &backlog.oldest_pending {
        until = until.min(entry_millis(oldest));
    }
    if backlog.lag != Some(0) {
        let first_unread = match &backlog.last_delivered {
            Some(last) => dispatch.queue.first_entry_after(last).await?,
            None => None,
        };
        if let Some(first_unread) = first_unread {
            until = until.min(entry_millis(&first_unread));
        }
    }
    Ok(until)
}

/// Checks the events up to `safe_until` and re-publishes the lost ones,
/// widening `unconfirmed` (what recovery re-published earlier) to them.
async fn scan_and_republish(
    dispatch: &Dispatch,
    settings: RecoverySettings,
    safe_until: Uuid,
    mut unconfirmed: Option<Unconfirmed>,
) -> Result<usize, RecoveryError> {
    let mut checked = match dispatch.store.dispatch_state(CHECKED_UNTIL).await? {
        Some(value) => Uuid::parse_str(&value).unwrap_or_else(|_| Uuid::nil()),
        None => {
            let start = OffsetDateTime::now_utc() - settings.initial_lookback;
            uuid_floor(unix_millis(start))
        }
    };
    if checked >= safe_until {
        return Ok(0);
    }
    let mut republished = 0;
    let mut events = dispatch
        .store
        .events_between(checked, safe_until, SCAN_CHUNK)
        .await?;
    for _ in 0..MAX_CHUNKS_PER_TICK {
        let Some(last) = events.last() else {
            checked = Uuid::from_u128(safe_until.as_u128().saturating_sub(1));
            dispatch
                .store
                .set_dispatch_state(CHECKED_UNTIL, &checked.to_string())
                .await?;
            break;
        };
        let last_id = last.id.uuid();
        let more = events.len() as i64 == SCAN_CHUNK && last_id < safe_until;
        // The next chunk is read while this one is checked and re-published:
        // after Redis lost the stream, the whole backlog waits on this loop.
        let next_chunk = async {
            if more {
                dispatch
                    .store
                    .events_between(last_id, safe_until, SCAN_CHUNK)
                    .await
                    .map(Some)
            } else {
                Ok(None)
            }
        };
        let (next_chunk, lost) = tokio::join!(next_chunk, republish_lost(dispatch, &events));
        if let Some(lost) = lost? {
            // On record before the checkpoint passes these events.
            let widened =
                Unconfirmed::widened(unconfirmed.take(), lost.first_event, lost.last_entry);
            dispatch
                .store
                .set_dispatch_state(UNCONFIRMED, &widened.to_value())
                .await?;
            unconfirmed = Some(widened);
            republished += lost.events;
        }
        checked = last_id;
        dispatch
            .store
            .set_dispatch_state(CHECKED_UNTIL, &checked.to_string())
            .await?;
        match next_chunk? {
            Some(next) => events = next,
            None => break,
        }
    }
    Ok(republished)
}

/// What one step re-published.
struct Republished {
    events: usize,
    first_event: Uuid,
    last_entry: String,
}

/// Re-appends to the stream the events of `events` that miss a delivery to
/// an endpoint they match.
async fn republish_lost(
    dispatch: &Dispatch,
    events: &[StoredEvent],
) -> Result<Option<Republished>, RecoveryError> {
    let mut expected: Vec<(EventId, DeliveryId)> = Vec::new();
    for event in events {
        for endpoint in dispatch.matching_endpoints(event).await? {
            expected.push((
                event.id,
                DeliveryId::for_event_endpoint(event.id, endpoint.id),
            ));
        }
    }
    let ids: Vec<DeliveryId> = expected.iter().map(|(_, id)| *id).collect();
    let recorded = dispatch.store.delivery_statuses(&ids).await?;
    let mut lost: Vec<EventId> = Vec::new();
    for (event_id, delivery_id) in expected {
        if !recorded.contains_key(&delivery_id) && lost.last() != Some(&event_id) {
            lost.push(event_id);
        }
    }
    let Some(first_event) = lost.first().map(|id| id.uuid()) else {
        return Ok(None);
    };
    let projects: std::collections::HashMap<EventId, _> = events
        .iter()
        .map(|event| (event.id, event.project_id))
        .collect();
    let entries: Vec<StreamEntry> = lost
        .iter()
        .filter_map(|event_id| {
            Some(StreamEntry {
                event_id: *event_id,
                project_id: *projects.get(event_id)?,
            })
        })
        .collect();
    let Some(last_entry) = dispatch.queue.append_recovered(&entries).await? else {
        return Ok(None);
    };
    metrics::counter!("eventflow_events_recovered_total").increment(entries.len() as u64);
    tracing::warn!(
        events = entries.len(),
        "re-published committed events the stream had lost"
    );
    Ok(Some(Republished {
        events: entries.len(),
        first_event,
        last_entry,
    }))
}

async fn disable_failing_endpoints(dispatch: &Dispatch, period: Duration) {
    match dispatch.store.disable_failing_endpoints(period).await {
        Ok(disabled) if disabled.is_empty() => {}
        Ok(disabled) => {
            tracing::warn!(endpoints = ?disabled, "disabled endpoints failing without a success");
            dispatch.endpoints.refresh(None);
        }
        Err(error) => tracing::warn!(error = ?error, "could not disable failing endpoints"),
    }
}

fn report_backlog(backlog: &GroupBacklog) {
    metrics::gauge!("eventflow_stream_pending").set(backlog.pending as f64);
    if let Some(lag) = backlog.lag {
        metrics::gauge!("eventflow_stream_lag").set(lag as f64);
    }
}

/// The Unix milliseconds of a stream entry id (`<ms>-<seq>`).
fn entry_millis(id: &str) -> u64 {
    id.split('-')
        .next()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0)
}

fn unix_millis(time: OffsetDateTime) -> u64 {
    u64::try_from(time.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// The smallest UUID v7 at `ms`: ids below it were created before.
fn uuid_floor(ms: u64) -> Uuid {
    Uuid::from_u128(u128::from(ms & 0xFFFF_FFFF_FFFF) << 80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uuid_floor_orders_v7_ids_by_time() {
        let id = EventId::new().uuid();
        let ms = u64::from_be_bytes([
            0,
            0,
            id.as_bytes()[0],
            id.as_bytes()[1],
            id.as_bytes()[2],
            id.as_bytes()[3],
            id.as_bytes()[4],
            id.as_bytes()[5],
        ]);
        assert!(uuid_floor(ms) <= id);
        assert!(uuid_floor(ms + 1) > id);
    }

    #[test]
    fn the_unconfirmed_record_reads_back_what_was_written() {
        let unconfirmed = Unconfirmed {
            first_event: EventId::new().uuid(),
            last_entry: "1700000000123-7".to_owned(),
        };
        assert_eq!(
            Unconfirmed::parse(&unconfirmed.to_value()),
            Some(unconfirmed)
        );
        assert_eq!(Unconfirmed::parse("garbage"), None);
    }

    #[test]
    fn widening_keeps_the_earliest_event_and_the_latest_entry() {
        let (earlier, later) = (EventId::new().uuid(), EventId::new().uuid());
        let first = Unconfirmed::widened(None, later, "1-0".to_owned());
        assert_eq!(first.first_event, later);
        let widened = Unconfirmed::widened(Some(first), earlier, "2-0".to_owned());
        assert_eq!(widened.first_event, earlier);
        assert_eq!(widened.last_entry, "2-0");
        let again = Unconfirmed::widened(Some(widened), later, "3-0".to_owned());
        assert_eq!(again.first_event, earlier);
        assert_eq!(again.last_entry, "3-0");
    }

    #[test]
    fn entry_ids_give_their_milliseconds() {
        assert_eq!(entry_millis("1700000000123-7"), 1_700_000_000_123);
        assert_eq!(entry_millis("garbage"), 0);
    }
}
