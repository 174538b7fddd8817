//! migrate, projects, keys and endpoints.

use eventflow_domain::{ApiKeyId, EndpointId, ProjectId};
use eventflow_test_support::TestDatabase;

use crate::eventflow;

/// Creates a project through the CLI and returns its id.
async fn create_project(db: &TestDatabase) -> String {
    let project = eventflow(Some(db.url()), &["projects", "create", "shop", "--json"])
        .await
        .json();
    project["id"].as_str().expect("project id").to_owned()
}

#[tokio::test]
async fn an_operator_sets_up_a_project_key_and_endpoint_with_json_output() {
    let db = TestDatabase::create().await;
    let url = Some(db.url());

    let migrated = eventflow(url, &["migrate", "--json"]).await.json();
    assert_eq!(
        migrated["applied"],
        serde_json::json!([]),
        "the test database is already migrated"
    );

    let project = eventflow(
        url,
        &[
            "projects",
            "create",
            "shop",
            "--rate-limit",
            "50",
            "--burst",
            "100",
            "--json",
        ],
    )
    .await
    .json();
    let project_id = project["id"].as_str().unwrap();
    ProjectId::parse(project_id).unwrap();
    assert_eq!(project["name"], "shop");
    assert_eq!(project["rate_limit_per_second"], 50);
    assert_eq!(project["rate_limit_burst"], 100);

    let key = eventflow(
        url,
        &[
            "keys",
            "create",
            "--project",
            project_id,
            "--scopes",
            "ingest,read",
            "--name",
            "ci",
            "--json",
        ],
    )
    .await
    .json();
    ApiKeyId::parse(key["id"].as_str().unwrap()).unwrap();
    assert!(key["key"].as_str().unwrap().starts_with("efk_"), "{key}");
    assert_eq!(key["project_id"], project_id);
    assert_eq!(key["scopes"], serde_json::json!(["ingest", "read"]));
    assert_eq!(key["name"], "ci");

    let endpoint = eventflow(
        url,
        &[
            "endpoints",
            "create",
            "--project",
            project_id,
            "--url",
            "https://example.com/hooks",
            "--event-types",
            "order.*,invoice.paid",
            "--description",
            "orders",
            "--json",
        ],
    )
    .await
    .json();
    EndpointId::parse(endpoint["id"].as_str().unwrap()).unwrap();
    assert!(
        endpoint["secret"].as_str().unwrap().starts_with("whsec_"),
        "{endpoint}"
    );
    assert_eq!(endpoint["url"], "https://example.com/hooks");
    assert_eq!(
        endpoint["event_types"],
        serde_json::json!(["order.*", "invoice.paid"])
    );
    assert_eq!(db.count("SELECT count(*) FROM endpoints").await, 1);
}

#[tokio::test]
async fn text_output_prints_the_bare_ids_for_scripts() {
    let db = TestDatabase::create().await;
    let url = Some(db.url());

    let migrated = eventflow(url, &["migrate"]).await;
    assert_eq!(migrated.stdout.trim(), "database is up to date");

    let project = eventflow(url, &["projects", "create", "shop"]).await;
    assert!(project.status.success(), "{}", project.stderr);
    ProjectId::parse(project.stdout.trim()).unwrap();

    let key = eventflow(
        url,
        &[
            "keys",
            "create",
            "--project",
            project.stdout.trim(),
            "--scopes",
            "ingest",
        ],
    )
    .await;
    assert!(key.status.success(), "{}", key.stderr);
    assert!(
        key.stdout.lines().next().unwrap().starts_with("efk_"),
        "{}",
        key.stdout
    );
}

#[tokio::test]
async fn a_key_can_be_revoked() {
    let db = TestDatabase::create().await;
    let project_id = create_project(&db).await;
    let key = eventflow(
        Some(db.url()),
        &[
            "keys",
            "create",
            "--project",
            &project_id,
            "--scopes",
            "read",
            "--json",
        ],
    )
    .await
    .json();
    let key_id = key["id"].as_str().unwrap();

    let revoked = eventflow(Some(db.url()), &["keys", "revoke", key_id, "--json"])
        .await
        .json();

    assert_eq!(revoked, serde_json::json!({"id": key_id, "revoked": true}));
    assert_eq!(
        db.count("SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn revoking_an_unknown_key_says_it_was_not_found() {
    let db = TestDatabase::create().await;

    let run = eventflow(
        Some(db.url()),
        &["keys", "revoke", &ApiKeyId::new().to_string()],
    )
    .await;

    assert!(
        run.error_line().contains("api key not found"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn an_endpoint_url_that_is_not_http_is_refused() {
    let db = TestDatabase::create().await;
    let project_id = create_project(&db).await;

    let run = eventflow(
        Some(db.url()),
        &[
            "endpoints",
            "create",
            "--project",
            &project_id,
            "--url",
            "ftp://example.com/x",
        ],
    )
    .await;

    let line = run.error_line();
    assert!(
        line.contains("--url") && line.contains("http or https"),
        "{line}"
    );
    assert_eq!(db.count("SELECT count(*) FROM endpoints").await, 0);
}

#[tokio::test]
async fn an_endpoint_url_with_credentials_is_refused() {
    let db = TestDatabase::create().await;
    let project_id = create_project(&db).await;

    let run = eventflow(
        Some(db.url()),
        &[
            "endpoints",
            "create",
            "--project",
            &project_id,
            "--url",
            "https://user:secret@example.com/x",
        ],
    )
    .await;

    let line = run.error_line();
    assert!(line.contains("user name or password"), "{line}");
    assert_eq!(db.count("SELECT count(*) FROM endpoints").await, 0);
}

#[tokio::test]
async fn a_malformed_event_type_filter_is_refused() {
    let db = TestDatabase::create().await;
    let project_id = create_project(&db).await;

    let run = eventflow(
        Some(db.url()),
        &[
            "endpoints",
            "create",
            "--project",
            &project_id,
            "--url",
            "https://example.com/x",
            "--event-types",
            "*.created",
        ],
    )
    .await;

    let line = run.error_line();
    assert!(
        line.contains("--event-types") && line.contains("*.created"),
        "{line}"
    );
}

#[tokio::test]
async fn an_unknown_scope_is_refused() {
    let db = TestDatabase::create().await;
    let project_id = create_project(&db).await;

    let run = eventflow(
        Some(db.url()),
        &[
            "keys",
            "create",
            "--project",
            &project_id,
            "--scopes",
            "ingest,root",
        ],
    )
    .await;

    let line = run.error_line();
    assert!(line.contains("--scopes") && line.contains("root"), "{line}");
}

#[tokio::test]
async fn a_key_for_a_missing_project_is_refused() {
    let db = TestDatabase::create().await;

    let run = eventflow(
        Some(db.url()),
        &[
            "keys",
            "create",
            "--project",
            &ProjectId::new().to_string(),
            "--scopes",
            "read",
        ],
    )
    .await;

    assert!(
        run.error_line().contains("project not found"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_command_without_a_database_url_says_which_setting_is_missing() {
    let run = eventflow(None, &["projects", "create", "shop"]).await;

    assert!(
        run.error_line().contains("EVENTFLOW_DATABASE_URL"),
        "{}",
        run.stderr
    );
}
