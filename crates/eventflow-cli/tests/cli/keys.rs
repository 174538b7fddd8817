//! `eventflow keys create --expires-at / --expires-in` (issue #9, item 9).

use eventflow_domain::parse_rfc3339;
use eventflow_test_support::TestDatabase;

use crate::eventflow;

#[tokio::test]
async fn a_key_created_with_expires_in_shows_and_stores_its_expiry() {
    let db = TestDatabase::create().await;
    let url = Some(db.url());
    let project = eventflow(url, &["projects", "create", "shop", "--json"])
        .await
        .json();
    let project_id = project["id"].as_str().unwrap();
    let before = time::OffsetDateTime::now_utc();

    let key = eventflow(
        url,
        &[
            "keys",
            "create",
            "--project",
            project_id,
            "--scopes",
            "read",
            "--expires-in",
            "1h",
            "--json",
        ],
    )
    .await
    .json();

    let expires_at = parse_rfc3339(key["expires_at"].as_str().unwrap()).unwrap();
    let from_now = expires_at - before;
    assert!(
        from_now > time::Duration::minutes(59) && from_now < time::Duration::minutes(61),
        "{from_now}"
    );
    let id = eventflow_domain::ApiKeyId::parse(key["id"].as_str().unwrap()).unwrap();
    let stored = db.store().api_key(id).await.unwrap();
    assert_eq!(
        stored.expires_at.map(|at| at.unix_timestamp()),
        Some(expires_at.unix_timestamp())
    );
}

#[tokio::test]
async fn a_key_cannot_be_created_already_expired() {
    let db = TestDatabase::create().await;
    let url = Some(db.url());
    let project = eventflow(url, &["projects", "create", "shop", "--json"])
        .await
        .json();
    let project_id = project["id"].as_str().unwrap();

    let run = eventflow(
        url,
        &[
            "keys",
            "create",
            "--project",
            project_id,
            "--scopes",
            "read",
            "--expires-at",
            "2001-01-01T00:00:00Z",
        ],
    )
    .await;

    let line = run.error_line();
    assert!(
        line.contains("--expires-at") && line.contains("future"),
        "{line}"
    );
    let keys = db
        .store()
        .list_api_keys(
            eventflow_domain::ProjectId::parse(project_id).unwrap(),
            None,
            10,
        )
        .await
        .unwrap();
    assert!(keys.is_empty());
}
