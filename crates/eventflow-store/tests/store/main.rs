//! Storage behaviour that the services' APIs cannot show: concurrent
//! migrations, partitions and retention.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use eventflow_domain::{DeliveryId, EndpointId, EventId, EventType, ProjectId};
use eventflow_store::{DeliveryState, DeliveryStatus, NewEvent, PoolSettings, Store};
use eventflow_test_support::TestDatabase;
use time::OffsetDateTime;

mod database;

async fn empty_database() -> (TestDatabase, Store) {
    let db = TestDatabase::create().await;
    let store = db.store();
    let client = db.client().await;
    // Start from nothing: drop what the template brought.
    client
        .batch_execute(
            "DROP SCHEMA public CASCADE; CREATE SCHEMA public; \
             DROP TABLE IF EXISTS refinery_schema_history",
        )
        .await
        .unwrap();
    (db, store)
}

#[tokio::test]
async fn several_replicas_migrating_at_once_apply_each_migration_once() {
    let (db, _) = empty_database().await;
    let runs = (0..4).map(|_| {
        let store = Store::connect(db.url(), &PoolSettings::default()).unwrap();
        async move { store.migrate().await }
    });

    let applied: Vec<Vec<String>> = futures_util::future::try_join_all(runs).await.unwrap();

    // Each migration is applied by exactly one of the replicas.
    let migrations = eventflow_store::migrations_fingerprint().split(',').count();
    let total: usize = applied.iter().map(Vec::len).sum();
    assert_eq!(
        total, migrations,
        "each migration applied once: {applied:?}"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM refinery_schema_history")
            .await,
        migrations as i64
    );
}

fn event(project_id: ProjectId, received_at: OffsetDateTime) -> NewEvent {
    NewEvent {
        id: EventId::new(),
        project_id,
        event_type: EventType::parse("a").unwrap(),
        payload: "{}".into(),
        idempotency: None,
        occurred_at: received_at,
        received_at,
        traceparent: None,
    }
}

#[tokio::test]
async fn events_land_in_their_day_partition_and_old_days_drop_whole() {
    let db = TestDatabase::create().await;
    let store = db.store();
    let project = store.create_project("p", None, None).await.unwrap();
    store.ensure_partitions(2).await.unwrap();
    store
        .insert_events(&[event(project.id, OffsetDateTime::now_utc())])
        .await
        .unwrap();

    let today = OffsetDateTime::now_utc().date();
    let partition = format!("events_{}", today.to_string().replace('-', ""));
    assert_eq!(
        db.count(&format!("SELECT count(*) FROM {partition}")).await,
        1
    );
    assert_eq!(db.count("SELECT count(*) FROM events_default").await, 0);

    let tomorrow = today.next_day().unwrap();
    let dropped = store
        .drop_partitions_before(tomorrow + time::Duration::days(1))
        .await
        .unwrap();
    assert!(
        dropped >= 3,
        "yesterday's, today's and tomorrow's partitions of each table: {dropped}"
    );
    assert_eq!(
        store.count_events(project.id).await.unwrap(),
        0,
        "retention removed the day at once"
    );
}

#[tokio::test]
async fn the_sql_uuid_floor_orders_like_uuid_v7_ids() {
    let db = TestDatabase::create().await;
    let id = EventId::new();
    let client = db.client().await;
    let row = client
        .query_one(
            "SELECT eventflow_uuid_floor(now() - interval '1 second') < $1, \
                    eventflow_uuid_floor(now() + interval '1 second') > $1",
            &[&id.uuid()],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1));
}

#[tokio::test]
async fn idempotency_keys_older_than_the_retention_are_purged() {
    let db = TestDatabase::create().await;
    let store = db.store();
    let project = store.create_project("p", None, None).await.unwrap();
    let client = db.client().await;
    client
        .execute(
            "INSERT INTO idempotency_keys (project_id, key, event_id, request_hash, created_at) VALUES \
             ($1, 'old', gen_random_uuid(), '\\x00', now() - interval '25 hours'), \
             ($1, 'new', gen_random_uuid(), '\\x00', now() - interval '23 hours')",
            &[&project.id.uuid()],
        )
        .await
        .unwrap();

    let purged = store
        .purge_idempotency_keys(Duration::from_secs(24 * 3600))
        .await
        .unwrap();

    assert_eq!(purged, 1);
    assert_eq!(
        db.count("SELECT count(*) FROM idempotency_keys WHERE key = 'new'")
            .await,
        1
    );
}

/// A delivery's state after `attempts` attempts in generation 0.
fn delivery_state(
    (project_id, event_id, endpoint_id): (ProjectId, EventId, EndpointId),
    status: DeliveryStatus,
    attempts: i32,
) -> DeliveryState {
    DeliveryState {
        id: DeliveryId::for_event_endpoint(event_id, endpoint_id),
        project_id,
        event_id,
        endpoint_id,
        status,
        attempt_count: attempts,
        retry_base: 0,
        generation: 0,
        next_attempt_at: (status == DeliveryStatus::Pending)
            .then(|| OffsetDateTime::now_utc() + Duration::from_secs(5)),
        last_attempt_at: Some(OffsetDateTime::now_utc()),
        last_status_code: Some(if status == DeliveryStatus::Succeeded {
            200
        } else {
            500
        }),
        last_error: None,
    }
}

#[tokio::test]
async fn a_failure_recorded_after_a_success_of_the_same_generation_does_not_undo_it() {
    let db = TestDatabase::create().await;
    let store = db.store();
    let delivery = (ProjectId::new(), EventId::new(), EndpointId::new());
    let id = DeliveryId::for_event_endpoint(delivery.1, delivery.2);
    let status = |store: Store| async move { store.delivery_statuses(&[id]).await.unwrap()[&id] };

    store
        .record_deliveries(
            &[delivery_state(delivery, DeliveryStatus::Succeeded, 1)],
            &[],
        )
        .await
        .unwrap();
    store
        .record_deliveries(&[delivery_state(delivery, DeliveryStatus::Pending, 1)], &[])
        .await
        .unwrap();
    assert_eq!(status(store.clone()).await, DeliveryStatus::Succeeded);
    store
        .record_deliveries(&[delivery_state(delivery, DeliveryStatus::Failed, 8)], &[])
        .await
        .unwrap();
    assert_eq!(status(store.clone()).await, DeliveryStatus::Succeeded);

    // A pending delivery still moves on to its result.
    let other = (delivery.0, EventId::new(), delivery.2);
    let other_id = DeliveryId::for_event_endpoint(other.1, other.2);
    for (state, attempts) in [(DeliveryStatus::Pending, 1), (DeliveryStatus::Failed, 2)] {
        store
            .record_deliveries(&[delivery_state(other, state, attempts)], &[])
            .await
            .unwrap();
    }
    let stored = store.delivery_statuses(&[other_id]).await.unwrap();
    assert_eq!(stored[&other_id], DeliveryStatus::Failed);
}
