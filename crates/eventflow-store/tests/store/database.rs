//! `ensure_database`, against the real server: what `eventflow dev` relies on
//! to start on an empty PostgreSQL.

use eventflow_store::{PoolSettings, Store, StoreError, ensure_database};
use eventflow_test_support::TestDatabase;

/// Whether the server has a database of this exact name.
async fn exists(db: &TestDatabase, name: &str) -> bool {
    db.client()
        .await
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname::text = $1)",
            &[&name],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_missing_database_is_created_and_an_existing_one_left_alone() {
    let db = TestDatabase::create().await;
    // Named after the test database, so the test run's clean-up drops it too.
    let name = format!("{}_dev", db.name());
    let url = db.url().replace(db.name(), &name);
    assert!(!exists(&db, &name).await);

    assert!(ensure_database(&url).await.unwrap(), "created");
    assert!(!ensure_database(&url).await.unwrap(), "already there");
    assert!(
        !ensure_database(db.url()).await.unwrap(),
        "the test's own database"
    );

    assert!(exists(&db, &name).await);
    let store = Store::connect(&url, &PoolSettings::default()).unwrap();
    store.ping().await.unwrap();
    store.close();
}

#[tokio::test]
async fn a_name_that_is_not_a_plain_identifier_is_refused_not_run() {
    let db = TestDatabase::create().await;
    let victim = TestDatabase::create().await;
    let evil = format!("{}\"; DROP DATABASE \"{}\"; --", db.name(), victim.name());
    // The key=value form carries any name, quotes and spaces included.
    let url = db.url_through(TestDatabase::server_addr()).replace(
        &format!("dbname={}", db.name()),
        &format!("dbname='{evil}'"),
    );
    assert!(url.contains("DROP DATABASE"), "{url}");

    let refused = ensure_database(&url).await;

    assert!(
        matches!(&refused, Err(StoreError::DatabaseName { name, .. }) if *name == evil),
        "{refused:?}"
    );
    assert!(exists(&db, victim.name()).await, "nothing ran");
    assert!(!exists(&db, &evil).await, "nothing was created");
    let too_long = db.url().replace(db.name(), &"a".repeat(64));
    assert!(matches!(
        ensure_database(&too_long).await,
        Err(StoreError::DatabaseName { .. })
    ));
}
