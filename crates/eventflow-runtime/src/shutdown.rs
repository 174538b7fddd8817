//! Graceful shutdown: the signal that starts it and the primitives that carry it.
//!
//! Services drive everything from one [`CancellationToken`] and track their workers in a
//! [`TaskTracker`]; the order of draining is theirs to decide.

pub use tokio_util::sync::CancellationToken;
pub use tokio_util::task::TaskTracker;

/// Resolves on SIGTERM (what ECS and Kubernetes send) or Ctrl-C, whichever comes first.
///
/// A signal that cannot be listened for is logged and never fires, so the other one still
/// works.
pub async fn sigterm_or_ctrl_c() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };

    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for sigterm");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => tracing::info!("received ctrl-c, shutting down"),
        () = terminate => tracing::info!("received sigterm, shutting down"),
    }
}
