//! Fault switches for the fault-scenario tests, compiled only with the
//! `fault-injection` feature (which only test builds turn on, through the
//! crate's dev-dependency on itself). Without it every switch is an empty
//! function the compiler removes.
//!
//! `EVENTFLOW_FAULT_CRASH_BEFORE_APPEND=N` aborts the process at the N-th
//! group commit, after PostgreSQL committed the batch and before it was
//! appended to the Redis stream: the crash the outbox and the dispatcher's
//! recovery scan exist for.

#[cfg(all(feature = "fault-injection", not(debug_assertions)))]
compile_error!("the fault-injection feature is for test builds only, never a release build");

/// Called between the commit of a batch and its stream append.
#[cfg(feature = "fault-injection")]
pub(crate) fn before_stream_append() {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    static CRASH_AT: OnceLock<Option<u64>> = OnceLock::new();
    static COMMITS: AtomicU64 = AtomicU64::new(0);
    let crash_at = CRASH_AT.get_or_init(|| {
        std::env::var("EVENTFLOW_FAULT_CRASH_BEFORE_APPEND")
            .ok()
            .and_then(|n| n.parse().ok())
    });
    let Some(crash_at) = *crash_at else {
        return;
    };
    if COMMITS.fetch_add(1, Ordering::SeqCst) + 1 >= crash_at {
        eprintln!("fault injection: crashing after commit {crash_at}, before the stream append");
        std::process::abort();
    }
}

/// Called between the commit of a batch and its stream append.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn before_stream_append() {}
