//! The HTTP client used by every workload and the classification of transport failures.

use std::time::Duration;

use anyhow::Context;

use crate::stats::ErrorKind;

/// Builds an HTTP/1.1 keep-alive client whose pool holds one idle connection per
/// concurrent request. It bypasses any configured proxy, so that the benchmark measures
/// the server and not a proxy.
pub fn build_client(concurrency: usize, timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .timeout(timeout)
        .connect_timeout(timeout)
        .no_proxy()
        .user_agent(concat!("eventflow-bench/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")
}

/// Tells which kind of transport failure a request error is.
pub fn classify_transport_error(error: &reqwest::Error) -> ErrorKind {
    if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_connect() {
        ErrorKind::Connect
    } else {
        ErrorKind::Transport
    }
}
