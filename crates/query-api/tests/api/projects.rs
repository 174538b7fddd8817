//! `/v1/projects` and `/openapi.json`.

use eventflow_test_support::{TEST_ADMIN_TOKEN, spawn_gateway};
use serde_json::{Value, json};

#[tokio::test]
async fn the_operator_creates_and_changes_projects_and_an_admin_key_sees_only_its_own() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;

    let created = api
        .client
        .post(api.url("/v1/projects"))
        .bearer_auth(TEST_ADMIN_TOKEN)
        .json(&json!({"name": "shop", "rate_limit_per_second": 100, "retention_days": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let project: Value = created.json().await.unwrap();
    assert!(project["id"].as_str().unwrap().starts_with("prj_"));
    assert_eq!(project["retention_days"], 7);

    let patched: Value = api
        .client
        .patch(api.url(&format!("/v1/projects/{}", project["id"].as_str().unwrap())))
        .bearer_auth(TEST_ADMIN_TOKEN)
        .json(&json!({"rate_limit_burst": 500}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["rate_limit_burst"], 500);
    assert_eq!(patched["rate_limit_per_second"], 100);

    let (other, admin_key) = gateway.create_project_with_key("admin").await;
    let own: Value = api
        .client
        .get(api.url("/v1/projects"))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(own["data"].as_array().unwrap().len(), 1);
    assert_eq!(own["data"][0]["id"], other.to_string());
    let foreign = api
        .client
        .get(api.url(&format!("/v1/projects/{}", project["id"].as_str().unwrap())))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404);
}

#[tokio::test]
async fn only_the_operator_creates_projects_and_bad_settings_are_422() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let (_, admin_key) = gateway.create_project_with_key("admin").await;

    let by_key = api
        .client
        .post(api.url("/v1/projects"))
        .bearer_auth(&admin_key)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    let no_auth = api
        .client
        .post(api.url("/v1/projects"))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    let bad = api
        .client
        .post(api.url("/v1/projects"))
        .bearer_auth(TEST_ADMIN_TOKEN)
        .json(&json!({"name": "", "retention_days": 0}))
        .send()
        .await
        .unwrap();

    assert_eq!(by_key.status(), 403);
    assert_eq!(no_auth.status(), 401);
    assert_eq!(bad.status(), 422);
    assert_eq!(bad.headers()["content-type"], "application/problem+json");
    let problem: Value = bad.json().await.unwrap();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "retention_days"]);
}

#[tokio::test]
async fn the_openapi_document_describes_the_routes() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let document: Value = api
        .client
        .get(api.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(
        document["paths"]["/v1/projects"]["post"].is_object(),
        "{document}"
    );
    let docs = api.client.get(api.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("/openapi.json"));
}

#[tokio::test]
async fn the_docs_page_renders_the_api_in_a_real_browser() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("tests/browser/check-docs-page.mjs");
    let screenshot = root.join("target/screenshots/docs.png");
    std::fs::create_dir_all(screenshot.parent().unwrap()).unwrap();

    let output = tokio::process::Command::new("node")
        .arg(&script)
        .arg(api.url("/docs"))
        .arg(&screenshot)
        .output()
        .await
        .expect("node runs (scripts/test.sh installs Node.js, Chromium and playwright-core)");

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        seen["title"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>(),
        ["EventFlow", "API"]
    );
    let operations: Vec<&str> = seen["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert!(operations.contains(&"POST /v1/projects"), "{operations:?}");
    assert!(
        seen["failed_requests"].as_array().unwrap().is_empty(),
        "the page loads nothing from outside: {seen}"
    );
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 10_000,
        "a real screenshot was taken"
    );
}

/// Runs openapi-spec-validator (Python, installed by scripts/test.sh) on `document`.
async fn validate_openapi(document: &Value) -> std::process::Output {
    let python = std::env::var("EVENTFLOW_TEST_PYTHON").expect(
        "EVENTFLOW_TEST_PYTHON is not set: run scripts/test.sh, which installs openapi-spec-validator",
    );
    let file = std::env::temp_dir().join(format!("openapi-{}.json", uuid::Uuid::now_v7().simple()));
    std::fs::write(&file, serde_json::to_vec(document).unwrap()).unwrap();
    let output = tokio::process::Command::new(python)
        .args(["-c", "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    let _ = std::fs::remove_file(&file);
    output
}

#[tokio::test]
async fn the_openapi_document_passes_an_openapi_validator() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let document: Value = api
        .client
        .get(api.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let valid = validate_openapi(&document).await;
    let mut broken = document.clone();
    broken["paths"]["/v1/projects"]["post"]["responses"] = json!("not a responses object");
    let invalid = validate_openapi(&broken).await;

    assert!(
        valid.status.success(),
        "{}",
        String::from_utf8_lossy(&valid.stderr)
    );
    assert!(
        !invalid.status.success(),
        "the validator rejects a broken document"
    );
    for path in [
        "/v1/endpoints",
        "/v1/events",
        "/v1/events/{id}",
        "/v1/deliveries/{id}/attempts",
        "/v1/stats",
        "/v1/api-keys",
    ] {
        assert!(document["paths"][path].is_object(), "{path} is documented");
    }
}

#[tokio::test]
async fn browsers_may_call_the_api_from_the_dashboard_origin_only() {
    let gateway = spawn_gateway().await;
    let api = gateway
        .spawn_query_api_with(|config| {
            config.cors_allowed_origins = vec!["http://dashboard.test".into()]
        })
        .await;
    let preflight = |origin: &'static str| {
        api.client
            .request(reqwest::Method::OPTIONS, api.url("/v1/events"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };

    let allowed = preflight("http://dashboard.test").await.unwrap();
    let refused = preflight("http://elsewhere.test").await.unwrap();

    assert!(allowed.status().is_success());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://dashboard.test"
    );
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

/// The type, title, status and keys of a validation problem, and the keys of
/// its field errors: what must be the same in every service.
async fn validation_shape(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    let keys = |value: &Value| {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("invalid request: "),
        "{problem}"
    );
    json!({
        "type": problem["type"],
        "title": problem["title"],
        "status": problem["status"],
        "keys": keys(&problem),
        "error_keys": keys(&problem["errors"][0]),
    })
}

#[tokio::test]
async fn a_validation_failure_is_the_same_422_problem_as_the_gateways() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let (_, ingest_key) = gateway.create_project_with_key("ingest").await;

    let from_gateway = gateway
        .post_event(&ingest_key, &json!({"type": "", "payload": {}}))
        .await;
    let from_api = api
        .client
        .post(api.url("/v1/projects"))
        .bearer_auth(TEST_ADMIN_TOKEN)
        .json(&json!({"name": ""}))
        .send()
        .await
        .unwrap();

    let gateway_shape = validation_shape(from_gateway).await;
    assert_eq!(
        gateway_shape,
        json!({
            "type": "https://eventflow.dev/problems/validation",
            "title": "Unprocessable Content",
            "status": 422,
            "keys": ["detail", "errors", "status", "title", "type"],
            "error_keys": ["field", "message"],
        })
    );
    assert_eq!(validation_shape(from_api).await, gateway_shape);
}
