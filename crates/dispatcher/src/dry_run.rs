//! Dry run: a dispatcher that delivers nothing and runs none of its loops
//! (stream, retries, recovery, retention), and tells what it would resume on
//! its database. The restore drill starts one on a restored copy to show that
//! a dispatcher would pick the work up from there (pending deliveries, outbox,
//! events recovery has not checked yet). Start-up itself still runs.

use eventflow_store::Store;
use tokio_util::sync::CancellationToken;

/// The message of the log line the restore drill looks for.
pub const DRY_RUN_REPORT: &str = "dry run: would resume";

/// Logs what a dispatcher would resume, retrying until the database answers or `stop`.
pub async fn report(store: Store, stop: CancellationToken) {
    loop {
        match store.resume_outlook().await {
            Ok(outlook) => {
                tracing::info!(
                    events = outlook.events,
                    deliveries = outlook.deliveries,
                    pending_deliveries = outlook.pending_deliveries,
                    due_now = outlook.due_now,
                    outbox_events = outlook.outbox_events,
                    unchecked_events_without_deliveries =
                        outlook.unchecked_events_without_deliveries,
                    newest_event_at = outlook
                        .newest_event_at
                        .map(|at| at.to_string())
                        .unwrap_or_default(),
                    "{DRY_RUN_REPORT}"
                );
                return;
            }
            Err(error) => tracing::warn!(error = ?error, "dry run: cannot read the database yet"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}
