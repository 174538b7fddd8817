//! `eventflow dev` as a newcomer runs it: the banner, the operator token,
//! loopback delivery, the demo receiver and the console's delivery lines.

use std::time::Duration;

use eventflow_test_support::{TestDatabase, unique_redis_prefix};
use serde_json::Value;

use crate::{Running, TempDir, command, finish};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn dev_serves_the_stack_with_an_operator_token_a_demo_receiver_and_a_console() {
    let db = TestDatabase::create().await;
    let dir = TempDir::new();
    // A loopback address of its own, so the default ports do not meet another run's.
    let bind = format!("127.0.{}.{}", std::process::id() % 250 + 1, rand_octet());
    let mut dev = command(&dir.0);
    dev.current_dir(&dir.0)
        .args(["dev", "--json", "--bind", &bind, "--demo-port", "0"])
        .env("EVENTFLOW_DATABASE_URL", db.url())
        .env("EVENTFLOW_REDIS_KEY_PREFIX", unique_redis_prefix());
    let mut dev = Running::spawn(dev);

    let banner = dev
        .wait_for(WAIT, |line| line.get("query_api").is_some())
        .await;
    let query = format!("http://{}", banner["query_api"]["http"].as_str().unwrap());
    let gateway = format!(
        "http://{}",
        banner["ingest_gateway"]["http"].as_str().unwrap()
    );
    assert!(query.starts_with(&format!("http://{bind}:")), "{banner}");
    let key = banner["api_key"].as_str().unwrap().to_owned();
    let token = banner["admin_token"].as_str().unwrap().to_owned();
    assert_eq!(
        std::fs::read_to_string(dir.0.join(".eventflow/admin-token"))
            .unwrap()
            .trim(),
        token
    );
    assert!(
        banner["loopback_delivery"]
            .as_str()
            .unwrap()
            .contains("127.0.0.0/8")
    );
    assert!(
        banner["demo_receiver"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );

    let cli = |key: &str, args: &[&str]| {
        let mut run = command(&dir.0);
        run.args(args)
            .env("EVENTFLOW_URL", &query)
            .env("EVENTFLOW_GATEWAY_URL", &gateway)
            .env("EVENTFLOW_KEY", key);
        finish(run, None)
    };
    let project = cli(&token, &["projects", "create", "shop", "--json"])
        .await
        .json();
    assert_eq!(
        project["name"], "shop",
        "the operator token creates projects"
    );
    let sent = cli(
        &key,
        &[
            "send",
            "--type",
            "order.created",
            "--payload",
            r#"{"n":1}"#,
            "--json",
        ],
    )
    .await
    .json();

    let received = dev
        .wait_for(WAIT, |line| line["kind"] == "demo_receiver")
        .await;
    assert_eq!(received["verified"], true, "{received}");
    assert_eq!(received["id"], sent["id"]);
    let delivered = dev
        .wait_for(WAIT, |line: &Value| {
            line["kind"] == "delivery" && line["status"] == "succeeded"
        })
        .await;
    assert_eq!(delivered["event_id"], sent["id"]);
    assert!(dev.terminate().await.success());
}

/// A second octet from the clock, so parallel runs pick different addresses.
fn rand_octet() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    nanos % 250 + 2
}
