//! Deliveries are signed as Standard Webhooks defines, as judged by an
//! implementation that is not ours: the specification's reference library
//! for Python (`standardwebhooks` on PyPI), which `scripts/test.sh` installs
//! into `target/pyenv` and names in `EVENTFLOW_TEST_PYTHON`.

use std::path::PathBuf;
use std::time::Duration;

use eventflow_domain::EndpointSecret;
use eventflow_test_support::{Received, WebhookSink, spawn_gateway};
use serde_json::json;

use crate::scenario::{post_event, refresh_endpoint_cache};

/// Verifies `argv[1]` (secret) over the body in `argv[2]` and the headers
/// (a JSON object) in `argv[3]`. Exit 0: verified; exit 1: rejected, with the
/// library's reason; anything else is a broken set-up.
const VERIFY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
secret, body_path, headers_path = sys.argv[1:4]
with open(body_path, "rb") as body_file:
    body = body_file.read()
with open(headers_path) as headers_file:
    headers = json.load(headers_file)
try:
    Webhook(secret).verify(body, headers)
except WebhookVerificationError as error:
    print(error)
    sys.exit(1)
"#;

/// The Python that has the reference library, or a failure that says how to get one.
fn reference_python() -> PathBuf {
    match std::env::var_os("EVENTFLOW_TEST_PYTHON") {
        Some(python) if !python.is_empty() => PathBuf::from(python),
        _ => panic!(
            "EVENTFLOW_TEST_PYTHON is not set: these tests check signatures with the Standard \
             Webhooks reference library. Run scripts/test.sh, or: python3 -m venv target/pyenv \
             && target/pyenv/bin/pip install standardwebhooks==1.1.0 \
             && export EVENTFLOW_TEST_PYTHON=$PWD/target/pyenv/bin/python"
        ),
    }
}

/// Asks the reference library whether `body` with the request's headers is
/// signed with `secret`; `Err` carries the library's reason for rejecting it.
async fn reference_verdict(
    python: PathBuf,
    secret: &EndpointSecret,
    request: &Received,
    body: &str,
) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("eventflow-sig-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let body_path = dir.join("body");
    let headers_path = dir.join("headers.json");
    std::fs::write(&body_path, body).expect("body written");
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), json!(value)))
        .collect();
    std::fs::write(&headers_path, serde_json::to_vec(&headers).expect("JSON"))
        .expect("headers written");
    let secret = secret.as_str().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .arg("-c")
            .arg(VERIFY)
            .arg(secret)
            .arg(&body_path)
            .arg(&headers_path)
            .output()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", python.display()))
    })
    .await
    .expect("the verifier ran");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    match output.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(stdout),
        _ => panic!(
            "the reference verifier failed to run ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

#[tokio::test]
async fn a_delivery_verifies_with_the_standard_webhooks_reference_library() {
    let python = reference_python();
    let gateway = spawn_gateway().await;
    let _dispatcher = gateway.spawn_dispatcher().await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project, &sink.url("/hooks"), &["order.*"])
        .await;

    post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {"order": 7, "note": "café ☕", "total": 12.50}}),
    )
    .await;

    let received = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert!(endpoint.secret.as_str().starts_with("whsec_"));
    assert_eq!(
        reference_verdict(python, &endpoint.secret, request, &request.body).await,
        Ok(())
    );
}

#[tokio::test]
async fn during_a_secret_rotation_a_delivery_verifies_with_either_secret() {
    let python = reference_python();
    let gateway = spawn_gateway().await;
    let dispatcher = gateway.spawn_dispatcher().await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project, &sink.url("/hooks"), &["order.*"])
        .await;
    let old_secret = endpoint.secret.clone();
    let rotated = gateway
        .store
        .rotate_endpoint_secret(project, endpoint.id, Duration::from_secs(3600))
        .await
        .expect("the secret rotates");
    let new_secret = EndpointSecret::parse(&rotated.record.secret).expect("a whsec_ secret");
    assert_ne!(
        new_secret.as_str(),
        old_secret.as_str(),
        "rotation gives a fresh secret"
    );
    refresh_endpoint_cache(&dispatcher, project).await;
    post_event(
        &gateway,
        &key,
        &json!({"type": "order.paid", "payload": {"order": 8}}),
    )
    .await;

    let received = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    let request = &received[0];
    let signatures = request.header("webhook-signature").expect("a signature");
    assert_eq!(
        signatures.split(' ').count(),
        2,
        "one signature per secret: {signatures}"
    );
    for secret in [&new_secret, &old_secret] {
        assert_eq!(
            reference_verdict(python.clone(), secret, request, &request.body).await,
            Ok(())
        );
    }
    let stranger = EndpointSecret::generate();
    assert!(
        reference_verdict(python, &stranger, request, &request.body)
            .await
            .is_err(),
        "a secret that never was the endpoint's does not verify"
    );
}

#[tokio::test]
async fn a_tampered_body_fails_the_reference_verification() {
    let python = reference_python();
    let gateway = spawn_gateway().await;
    let _dispatcher = gateway.spawn_dispatcher().await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project, &sink.url("/hooks"), &["order.*"])
        .await;

    post_event(
        &gateway,
        &key,
        &json!({"type": "order.refunded", "payload": {"amount": 10}}),
    )
    .await;

    let received = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(
        reference_verdict(python.clone(), &endpoint.secret, request, &request.body).await,
        Ok(()),
        "the delivery as sent verifies"
    );
    let tampered = request.body.replace("10", "10000");
    assert_ne!(tampered, request.body);
    assert_eq!(
        reference_verdict(python, &endpoint.secret, request, &tampered).await,
        Err("No matching signature found".to_owned())
    );
}
