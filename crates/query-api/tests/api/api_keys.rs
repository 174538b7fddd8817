//! `/v1/api-keys`: creating (the key shown once), listing, reading and
//! revoking keys, by the operator or a project's `admin` key.

use std::time::Duration;

use eventflow_test_support::{
    TEST_ADMIN_TOKEN, TestQueryApi, WITHIN, eventually, spawn_gateway, spawn_gateway_with,
};
use serde_json::{Value, json};

/// Sends a request with a bearer token; returns the status and the JSON body (null if empty).
pub async fn send(
    api: &TestQueryApi,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = api.client.request(method, api.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("query-api answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON body: {text}"))
    };
    (status, body)
}

/// The fields a validation problem names, in order.
pub fn error_fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("a validation problem: {problem}"))
        .iter()
        .map(|e| e["field"].as_str().expect("a field name"))
        .collect()
}

#[tokio::test]
async fn a_keys_plaintext_is_shown_once_and_never_with_its_hash() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let (project, _) = gateway.create_project_with_key("read").await;

    let (status, created) = send(
        &api,
        reqwest::Method::POST,
        "/v1/api-keys",
        TEST_ADMIN_TOKEN,
        Some(
            json!({"project_id": project.to_string(), "name": "ci", "scopes": ["ingest", "read"]}),
        ),
    )
    .await;

    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("key_"), "{created}");
    assert_eq!(created["project_id"], project.to_string());
    assert_eq!(created["name"], "ci");
    assert_eq!(created["scopes"], json!(["ingest", "read"]));
    assert!(created["created_at"].is_string());
    assert!(created["revoked_at"].is_null());
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("efk_"), "{created}");

    let (status, read) = send(
        &api,
        reqwest::Method::GET,
        &format!("/v1/api-keys/{id}"),
        TEST_ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (_, listed) = send(
        &api,
        reqwest::Method::GET,
        &format!("/v1/api-keys?project_id={project}"),
        TEST_ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed["data"][0]["id"], id, "newest first");
    for shown in [&read, &listed] {
        let text = shown.to_string();
        assert!(!text.contains(key), "{text}");
        assert!(!text.contains("\"key\""), "{text}");
        assert!(!text.contains("hash"), "{text}");
    }
    assert_eq!(read["name"], "ci");

    // The key works: it reads through the query API.
    let (status, _) = send(&api, reqwest::Method::GET, "/v1/endpoints", key, None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_revoked_key_is_listed_as_revoked_and_refused_by_the_gateway_within_the_cache_ttl() {
    let gateway =
        spawn_gateway_with(|config| config.auth_cache_ttl = Duration::from_millis(300)).await;
    let api = gateway.spawn_query_api().await;
    let (_, admin) = gateway.create_project_with_key("admin,ingest").await;
    let (_, created) = send(
        &api,
        reqwest::Method::POST,
        "/v1/api-keys",
        &admin,
        Some(json!({"name": "producer", "scopes": ["ingest"]})),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let key = created["key"].as_str().unwrap();
    let event = json!({"type": "order.created", "payload": {}});
    assert_eq!(gateway.post_event(key, &event).await.status(), 202);

    let (status, body) = send(
        &api,
        reqwest::Method::DELETE,
        &format!("/v1/api-keys/{id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 204, "{body}");

    eventually(
        "the gateway to refuse the revoked key",
        Duration::from_secs(3),
        || async { gateway.post_event(key, &event).await.status() == 401 },
    )
    .await;
    let (_, read) = send(
        &api,
        reqwest::Method::GET,
        &format!("/v1/api-keys/{id}"),
        &admin,
        None,
    )
    .await;
    assert!(read["revoked_at"].is_string(), "{read}");
    let (_, listed) = send(&api, reqwest::Method::GET, "/v1/api-keys", &admin, None).await;
    let entry = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap();
    assert!(entry["revoked_at"].is_string(), "{listed}");
    // Revoking twice is harmless.
    let (status, _) = send(
        &api,
        reqwest::Method::DELETE,
        &format!("/v1/api-keys/{id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn an_admin_key_manages_only_its_own_projects_keys() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let (own, admin) = gateway.create_project_with_key("admin,read,ingest").await;
    let (other, _) = gateway.create_project_with_key("read").await;
    let foreign_key_id = gateway
        .store
        .create_api_key(
            other,
            "theirs",
            &eventflow_domain::Scopes::parse_list("read").unwrap(),
        )
        .await
        .unwrap()
        .record
        .id;

    let (status, created) = send(
        &api,
        reqwest::Method::POST,
        "/v1/api-keys",
        &admin,
        Some(json!({"scopes": ["read"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["project_id"], own.to_string());
    let (status, _) = send(
        &api,
        reqwest::Method::POST,
        "/v1/api-keys",
        &admin,
        Some(json!({"project_id": own.to_string(), "scopes": ["ingest"]})),
    )
    .await;
    assert_eq!(status, 201);

    let foreign = [
        (
            reqwest::Method::POST,
            "/v1/api-keys".to_owned(),
            Some(json!({"project_id": other.to_string(), "scopes": ["read"]})),
        ),
        (
            reqwest::Method::GET,
            format!("/v1/api-keys?project_id={other}"),
            None,
        ),
        (
            reqwest::Method::GET,
            format!("/v1/api-keys/{foreign_key_id}"),
            None,
        ),
        (
            reqwest::Method::DELETE,
            format!("/v1/api-keys/{foreign_key_id}"),
            None,
        ),
    ];
    for (method, path, body) in foreign {
        let (status, problem) = send(&api, method.clone(), &path, &admin, body).await;
        assert_eq!(status, 404, "{method} {path}: {problem}");
    }
    let still: Value = send(
        &api,
        reqwest::Method::GET,
        &format!("/v1/api-keys/{foreign_key_id}"),
        TEST_ADMIN_TOKEN,
        None,
    )
    .await
    .1;
    assert!(still["revoked_at"].is_null(), "{still}");

    let (_, listed) = send(&api, reqwest::Method::GET, "/v1/api-keys", &admin, None).await;
    let projects: Vec<&Value> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["project_id"])
        .collect();
    assert_eq!(projects.len(), 3, "{listed}");
    assert!(projects.iter().all(|p| **p == own.to_string()));
}

#[tokio::test]
async fn only_the_operator_and_admin_keys_manage_keys_and_bad_input_is_a_422() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let (project, read_key) = gateway.create_project_with_key("read,ingest").await;
    let admin = gateway.create_key(project, "admin").await;
    let some_key = "key_0192f3a0c0de7abc8def0123456789ab";

    let routes = [
        (
            reqwest::Method::POST,
            "/v1/api-keys".to_owned(),
            Some(json!({"scopes": ["read"]})),
        ),
        (reqwest::Method::GET, "/v1/api-keys".to_owned(), None),
        (
            reqwest::Method::GET,
            format!("/v1/api-keys/{some_key}"),
            None,
        ),
        (
            reqwest::Method::DELETE,
            format!("/v1/api-keys/{some_key}"),
            None,
        ),
    ];
    for (method, path, body) in &routes {
        let (status, _) = send(&api, method.clone(), path, &read_key, body.clone()).await;
        assert_eq!(status, 403, "read key: {method} {path}");
        let (status, _) = send(&api, method.clone(), path, "efk_nope_nope", body.clone()).await;
        assert_eq!(status, 401, "bad key: {method} {path}");
    }

    let bad = [
        (
            reqwest::Method::GET,
            "/v1/api-keys".to_owned(),
            TEST_ADMIN_TOKEN,
            None,
            "project_id",
        ),
        (
            reqwest::Method::POST,
            "/v1/api-keys".to_owned(),
            TEST_ADMIN_TOKEN,
            Some(json!({"scopes": ["read"]})),
            "project_id",
        ),
        (
            reqwest::Method::GET,
            "/v1/api-keys?project_id=prj_123".to_owned(),
            TEST_ADMIN_TOKEN,
            None,
            "project_id",
        ),
        (
            reqwest::Method::POST,
            "/v1/api-keys".to_owned(),
            admin.as_str(),
            Some(json!({"scopes": []})),
            "scopes",
        ),
        (
            reqwest::Method::POST,
            "/v1/api-keys".to_owned(),
            admin.as_str(),
            Some(json!({"scopes": ["read", "write"]})),
            "scopes",
        ),
        (
            reqwest::Method::POST,
            "/v1/api-keys".to_owned(),
            admin.as_str(),
            Some(json!({"name": "n".repeat(201), "scopes": ["read"]})),
            "name",
        ),
        (
            reqwest::Method::GET,
            "/v1/api-keys/ep_0192f3a0c0de7abc8def0123456789ab".to_owned(),
            admin.as_str(),
            None,
            "id",
        ),
        (
            reqwest::Method::DELETE,
            "/v1/api-keys/nope".to_owned(),
            admin.as_str(),
            None,
            "id",
        ),
        (
            reqwest::Method::GET,
            "/v1/api-keys?limit=0".to_owned(),
            admin.as_str(),
            None,
            "limit",
        ),
        (
            reqwest::Method::GET,
            "/v1/api-keys?cursor=garbage".to_owned(),
            admin.as_str(),
            None,
            "cursor",
        ),
    ];
    for (method, path, token, body, field) in bad {
        let (status, problem) = send(&api, method.clone(), &path, token, body).await;
        // A malformed id in the path is not a resource at all: 400.
        let wanted = if path.starts_with("/v1/api-keys/") {
            400
        } else {
            422
        };
        assert_eq!(status, wanted, "{method} {path}: {problem}");
        assert_eq!(error_fields(&problem), [field], "{method} {path}");
    }
    for path in ["/v1/api-keys?limit=ten", "/v1/api-keys?project=x"] {
        let (status, problem) = send(&api, reqwest::Method::GET, path, &admin, None).await;
        assert_eq!(status, 422, "{path}: {problem}");
    }
    let (status, _) = send(
        &api,
        reqwest::Method::POST,
        "/v1/api-keys",
        TEST_ADMIN_TOKEN,
        Some(json!({"project_id": "prj_0192f3a0c0de7abc8def0123456789ab", "scopes": ["read"]})),
    )
    .await;
    assert_eq!(status, 404, "an unknown project");
}

#[tokio::test]
async fn keys_are_listed_newest_first_a_page_at_a_time() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let (project, _) = gateway.create_project_with_key("admin").await;
    let mut ids = Vec::new();
    for name in ["one", "two", "three"] {
        let (_, created) = send(
            &api,
            reqwest::Method::POST,
            "/v1/api-keys",
            TEST_ADMIN_TOKEN,
            Some(json!({"project_id": project.to_string(), "name": name, "scopes": ["read"]})),
        )
        .await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }

    let mut seen = Vec::new();
    let mut path = format!("/v1/api-keys?project_id={project}&limit=2");
    loop {
        let (status, page) = send(&api, reqwest::Method::GET, &path, TEST_ADMIN_TOKEN, None).await;
        assert_eq!(status, 200, "{page}");
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        seen.extend(data.iter().map(|k| k["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/v1/api-keys?project_id={project}&limit=2&cursor={cursor}")
            }
            None => break,
        }
    }

    assert_eq!(seen.len(), 4, "three created here and the harness's own");
    assert_eq!(seen[..3], [ids[2].clone(), ids[1].clone(), ids[0].clone()]);
}

#[tokio::test]
async fn a_key_with_expires_at_is_listed_with_it_and_refused_with_a_401_once_it_passes() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let (project, _) = gateway.create_project_with_key("read").await;
    let expires_at = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let expires_text = eventflow_domain::format_rfc3339(expires_at);

    let (status, created) = send(
        &api,
        reqwest::Method::POST,
        "/v1/api-keys",
        TEST_ADMIN_TOKEN,
        Some(json!({"project_id": project.to_string(), "scopes": ["read"], "expires_at": expires_text})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let (_, listed) = send(
        &api,
        reqwest::Method::GET,
        &format!("/v1/api-keys?project_id={project}"),
        TEST_ADMIN_TOKEN,
        None,
    )
    .await;
    let shown = listed["data"][0]["expires_at"].as_str().unwrap();
    assert_eq!(
        eventflow_domain::parse_rfc3339(shown)
            .unwrap()
            .unix_timestamp(),
        expires_at.unix_timestamp()
    );
    assert!(listed["data"][1]["expires_at"].is_null(), "{listed}");
    let (status, _) = send(&api, reqwest::Method::GET, "/v1/endpoints", &key, None).await;
    assert_eq!(status, 200);

    let (status, problem) = eventually(
        "the key to stop working past its expiry",
        WITHIN,
        || async {
            let (status, body) =
                send(&api, reqwest::Method::GET, "/v1/endpoints", &key, None).await;
            (status != 200).then_some((status, body))
        },
    )
    .await;
    assert_eq!(status, 401, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("expired"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_key_cannot_be_created_with_an_expiry_in_the_past() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let (project, _) = gateway.create_project_with_key("read").await;

    let (status, problem) = send(
        &api,
        reqwest::Method::POST,
        "/v1/api-keys",
        TEST_ADMIN_TOKEN,
        Some(json!({"project_id": project.to_string(), "scopes": ["read"], "expires_at": "2020-01-01T00:00:00Z"})),
    )
    .await;

    assert_eq!(status, 422, "{problem}");
    assert_eq!(error_fields(&problem), ["expires_at"]);
    let (_, listed) = send(
        &api,
        reqwest::Method::GET,
        &format!("/v1/api-keys?project_id={project}"),
        TEST_ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
}
