//! The receiver examples (examples/receivers/) against a real delivery: each
//! verifies the signature of an event sent through the stack and refuses a
//! forged one. A language whose toolchain is missing is skipped with a line
//! saying so (scripts/test-receivers.sh installs Go when it can).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::Stack;

const WAIT: Duration = Duration::from_secs(120);

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn has(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
        || std::process::Command::new(program)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
}

/// A free port on loopback (the receivers take a fixed PORT).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// Starts `program args…` as a receiver, sends an event through `stack` to
/// it and a forged delivery straight to it, and checks what it printed.
async fn verifies_a_real_delivery(program: &str, args: &[&str]) {
    let stack = Stack::start().await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/webhooks");
    let endpoint = stack
        .run(&["endpoints", "create", "--url", &url, "--json"])
        .await
        .json();
    let mut receiver = tokio::process::Command::new(program)
        .args(args)
        .current_dir(repository())
        .env(
            "WEBHOOK_SECRET",
            endpoint["secret"].as_str().expect("a secret"),
        )
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("{program} starts: {error}"));
    let mut lines = BufReader::new(receiver.stdout.take().expect("stdout")).lines();
    let mut next_line = async || {
        tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("a line in time")
            .expect("readable stdout")
            .expect("the receiver still runs")
    };
    assert!(next_line().await.starts_with("listening on"));

    let sent = stack
        .run(&[
            "send",
            "--type",
            "order.created",
            "--payload",
            r#"{"order_id":42}"#,
            "--json",
        ])
        .await
        .json();
    let id = sent["id"].as_str().expect("an event id");
    let line = next_line().await;
    assert!(line.starts_with(&format!("verified {id}")), "{line}");
    assert!(
        line.contains("order.created") && line.contains("42"),
        "{line}"
    );

    let forged = reqwest::Client::new()
        .post(&url)
        .header("webhook-id", "evt_forged")
        .header(
            "webhook-timestamp",
            time::OffsetDateTime::now_utc().unix_timestamp().to_string(),
        )
        .header(
            "webhook-signature",
            "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .body(r#"{"type":"order.created","timestamp":"2026-01-01T00:00:00Z","data":{}}"#)
        .send()
        .await
        .expect("the receiver answers");
    assert_eq!(forged.status().as_u16(), 401);
    assert_eq!(next_line().await, "refused: bad signature");

    let event = stack.run(&["events", "get", id, "--json"]).await.json();
    assert_eq!(event["deliveries"][0]["last_status_code"], 204, "{event}");
}

#[tokio::test]
async fn the_python_receiver_verifies_a_real_delivery() {
    verifies_a_real_delivery("python3", &["examples/receivers/python/receiver.py"]).await;
}

#[tokio::test]
async fn the_node_receiver_verifies_a_real_delivery() {
    if !has("node") {
        println!("skipped: node is not installed");
        return;
    }
    verifies_a_real_delivery("node", &["examples/receivers/node/receiver.js"]).await;
}

#[tokio::test]
async fn the_go_receiver_verifies_a_real_delivery() {
    if !has("go") {
        println!(
            "skipped: go is not installed (scripts/test-receivers.sh installs Debian's golang)"
        );
        return;
    }
    // Built first, then run: `go run` would leave its child behind when killed.
    let binary = repository().join("target/receiver-example/go-receiver");
    let built = tokio::process::Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg("examples/receivers/go/receiver.go")
        .current_dir(repository())
        .status()
        .await
        .expect("go runs");
    assert!(built.success(), "the Go example builds");
    verifies_a_real_delivery(binary.to_str().expect("a UTF-8 path"), &[]).await;
}

#[tokio::test]
async fn the_rust_receiver_verifies_a_real_delivery() {
    let target = repository().join("target/receiver-example");
    let built = tokio::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(repository().join("examples/receivers/rust/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .await
        .expect("cargo runs");
    assert!(built.success(), "the Rust example builds");
    let binary = target.join("release/eventflow-receiver-example");
    verifies_a_real_delivery(binary.to_str().unwrap(), &[]).await;
}
