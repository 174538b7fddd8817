//! The scope model (issue #9, item 5): the operator token alone sets a
//! project's rate limit and retention, and a key never grants more than it
//! holds.

use eventflow_test_support::{TEST_ADMIN_TOKEN, spawn_gateway};
use reqwest::Method;
use serde_json::json;

use crate::api_keys::send;

#[tokio::test]
async fn an_admin_only_key_cannot_mint_read_or_ingest_keys() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let (project, admin_only) = gateway.create_project_with_key("admin").await;

    for scopes in [
        json!(["read"]),
        json!(["ingest"]),
        json!(["admin", "read", "ingest"]),
    ] {
        let (status, problem) = send(
            &api,
            Method::POST,
            "/v1/api-keys",
            &admin_only,
            Some(json!({"scopes": scopes})),
        )
        .await;
        assert_eq!(status, 403, "{problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("cannot grant scopes it lacks"), "{detail}");
    }
    let (status, _) = send(
        &api,
        Method::POST,
        "/v1/api-keys",
        &admin_only,
        Some(json!({"scopes": ["admin"]})),
    )
    .await;
    assert_eq!(status, 201, "a key may grant what it holds");
    let (_, listed) = send(
        &api,
        Method::GET,
        &format!("/v1/api-keys?project_id={project}"),
        TEST_ADMIN_TOKEN,
        None,
    )
    .await;
    let scopes: Vec<&serde_json::Value> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| &key["scopes"])
        .collect();
    assert_eq!(scopes, [&json!(["admin"]), &json!(["admin"])], "{listed}");
}

#[tokio::test]
async fn an_admin_key_grants_only_the_scopes_it_holds_and_the_operator_grants_any() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let (project, admin_read) = gateway.create_project_with_key("admin,read").await;

    let (status, created) = send(
        &api,
        Method::POST,
        "/v1/api-keys",
        &admin_read,
        Some(json!({"scopes": ["read"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, problem) = send(
        &api,
        Method::POST,
        "/v1/api-keys",
        &admin_read,
        Some(json!({"scopes": ["read", "ingest"]})),
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("not ingest"),
        "{problem}"
    );
    let (status, _) = send(
        &api,
        Method::POST,
        "/v1/api-keys",
        TEST_ADMIN_TOKEN,
        Some(json!({"project_id": project.to_string(), "scopes": ["ingest", "read", "admin"]})),
    )
    .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_key_minted_by_an_expiring_key_expires_no_later_than_it() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let project = gateway.store.create_project("p", None, None).await.unwrap();
    let limit = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let creator = gateway
        .store
        .create_expiring_api_key(
            project.id,
            "temporary admin",
            &eventflow_domain::Scopes::parse_list("admin").unwrap(),
            Some(limit),
        )
        .await
        .unwrap();
    let creator = creator.plaintext.expose();

    let (status, problem) = send(
        &api,
        Method::POST,
        "/v1/api-keys",
        creator,
        Some(json!({"scopes": ["admin"], "expires_at": "2999-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    let (status, created) = send(
        &api,
        Method::POST,
        "/v1/api-keys",
        creator,
        Some(json!({"scopes": ["admin"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let expires_at =
        eventflow_domain::parse_rfc3339(created["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires_at.unix_timestamp(), limit.unix_timestamp());
}

#[tokio::test]
async fn an_admin_key_cannot_change_its_projects_rate_limit_or_retention_but_may_rename_it() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let (project, admin) = gateway.create_project_with_key("admin,read,ingest").await;
    let path = format!("/v1/projects/{project}");

    for change in [
        json!({"rate_limit_per_second": 1_000_000}),
        json!({"rate_limit_burst": 1_000_000}),
        json!({"retention_days": 3650}),
        json!({"name": "renamed", "retention_days": 3650}),
    ] {
        let (status, problem) = send(&api, Method::PATCH, &path, &admin, Some(change)).await;
        assert_eq!(status, 403, "{problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("only the operator"), "{detail}");
    }
    let (_, unchanged) = send(&api, Method::GET, &path, &admin, None).await;
    assert!(unchanged["rate_limit_per_second"].is_null(), "{unchanged}");
    assert_eq!(unchanged["retention_days"], 30);
    assert_eq!(unchanged["name"], "test");

    let (status, renamed) = send(
        &api,
        Method::PATCH,
        &path,
        &admin,
        Some(json!({"name": "shop"})),
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "shop");
    let (status, raised) = send(
        &api,
        Method::PATCH,
        &path,
        TEST_ADMIN_TOKEN,
        Some(json!({"rate_limit_per_second": 500, "retention_days": 7})),
    )
    .await;
    assert_eq!(status, 200, "{raised}");
    assert_eq!(raised["rate_limit_per_second"], 500);
}
