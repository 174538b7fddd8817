//! `dispatcher` binary: everything is in `eventflow_runtime::serve::main`.
use dispatcher::Application;

/// mimalloc rather than glibc malloc: concurrent deliveries allocate and free
/// many short-lived buffers, and glibc's arenas spent a quarter of the
/// dispatcher's CPU time on them (perf, draining a backlog).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    eventflow_runtime::serve::main::<Application>().await
}
