//! Fault scenarios around the ingest gateway: each breaks something while
//! producers send, keeps a ledger of every acknowledged event id, and checks
//! at a receiver that verifies each delivery's Standard Webhooks signature
//! that no acknowledged event was lost. Each prints its ledger (sent,
//! acknowledged, delivered, duplicates, lost, end-to-end p50/p99).
//!
//! The gateway that is killed or crashed is the real `ingest-gateway` binary
//! in a child process; the rest runs in-process through the shared harness
//! (`eventflow_test_support`). The crash between commit and stream append
//! uses the `fault-injection` switch only test builds have (src/fault.rs).

// Helpers here panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used)]

mod gateway_crash;
mod outages;
mod private_postgres;
mod redis_duplicates;
mod scale_out;

use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use eventflow_test_support::{TestGateway, eventually, redis_url};

/// A loopback port nothing listens on now, for a process that must come back
/// on the same address after a restart.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The real `ingest-gateway` binary in a child process, on a fixed HTTP
/// address, sharing a harness's database and Redis prefix.
pub struct GatewayProcess {
    pub child: tokio::process::Child,
    pub http_addr: SocketAddr,
}

impl GatewayProcess {
    /// Starts the binary (configured only through `EVENTFLOW_*` variables,
    /// plus `extra`) and waits until it answers `/readyz`.
    pub async fn start(harness: &TestGateway, port: u16, extra: &[(&str, &str)]) -> Self {
        let http_addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ingest-gateway"))
            .env_clear()
            .envs([
                ("EVENTFLOW_DATABASE_URL", harness.db.url()),
                ("EVENTFLOW_REDIS_URL", redis_url().as_str()),
                ("EVENTFLOW_REDIS_KEY_PREFIX", harness.redis_prefix.as_str()),
                ("EVENTFLOW_HTTP_ADDR", http_addr.to_string().as_str()),
                ("EVENTFLOW_GRPC_ADDR", "127.0.0.1:0"),
                ("EVENTFLOW_HTTP_WORKERS", "2"),
                ("EVENTFLOW_DATABASE_POOL_SIZE", "4"),
                ("EVENTFLOW_OUTBOX_RELAY_INTERVAL", "200ms"),
                ("EVENTFLOW_LOG", "warn"),
            ])
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the ingest-gateway binary starts");
        let process = Self { child, http_addr };
        process.wait_ready().await;
        process
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let ready = format!("{}/readyz", self.url());
        eventually(
            "the gateway process is ready",
            Duration::from_secs(30),
            || async {
                matches!(client.get(&ready).send().await, Ok(response) if response.status() == 200)
            },
        )
        .await;
    }

    /// Kills the process with SIGKILL and reaps it.
    pub async fn kill(mut self) -> ExitStatus {
        self.child.start_kill().expect("SIGKILL");
        self.child
            .wait()
            .await
            .expect("the killed gateway is reaped")
    }

    /// Waits (up to `within`) for the process to exit by itself.
    pub async fn exited(mut self, within: Duration) -> ExitStatus {
        tokio::time::timeout(within, self.child.wait())
            .await
            .expect("the gateway process exits")
            .expect("reaped")
    }
}

/// Counts the project's stored events.
pub async fn stored_events(gateway: &TestGateway) -> i64 {
    gateway.db.count("SELECT count(*) FROM events").await
}
