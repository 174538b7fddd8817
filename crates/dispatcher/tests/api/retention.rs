//! Retention moves time by writing rows whose UUID v7 ids (and partitions)
//! belong to past days, then lets the running dispatcher apply every
//! project's `retention_days`.

use std::collections::BTreeSet;
use std::time::Duration;

use eventflow_domain::{DeliveryId, EndpointId, EventId, ProjectId};
use eventflow_store::Store;
use eventflow_test_support::{TestDatabase, eventually};
use time::OffsetDateTime;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::{spawn_app_on, test_config};

/// The ids of one event written `age` ago with one delivery and one attempt.
#[derive(Debug, Clone, Copy)]
struct OldEvent {
    event: Uuid,
    delivery: Uuid,
    attempt: Uuid,
}

fn v7_at(at: OffsetDateTime) -> Uuid {
    let nanos = at.unix_timestamp_nanos();
    let seconds = u64::try_from(nanos / 1_000_000_000).unwrap();
    let subsec = u32::try_from(nanos % 1_000_000_000).unwrap();
    Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, seconds, subsec))
}

async fn write_old_event(
    client: &Client,
    project: ProjectId,
    age: Duration,
    pending: bool,
) -> OldEvent {
    let at = OffsetDateTime::now_utc() - age;
    let event = v7_at(at);
    let endpoint = EndpointId::new();
    let delivery = DeliveryId::for_event_endpoint(EventId::from_uuid(event), endpoint).uuid();
    let attempt = v7_at(at + Duration::from_secs(1));
    let status = if pending { "pending" } else { "succeeded" };
    client
        .execute(
            "INSERT INTO events (id, project_id, event_type, payload, occurred_at, received_at) \
             VALUES ($1, $2, 'order.created', '{}', $3, $3)",
            &[&event, &project.uuid(), &at],
        )
        .await
        .unwrap();
    // A pending delivery's next attempt lies far ahead: the test's dispatcher
    // must not settle it while retention runs.
    client
        .execute(
            "INSERT INTO deliveries (id, project_id, event_id, endpoint_id, status, attempt_count, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, 1, CASE WHEN $5 = 'pending' THEN now() + interval '1 day' END, $6)",
            &[&delivery, &project.uuid(), &event, &endpoint.uuid(), &status, &at],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO attempts (id, delivery_id, project_id, endpoint_id, attempt_number, started_at, duration_us, status_code) \
             VALUES ($1, $2, $3, $4, 1, $5, 1000, 200)",
            &[&attempt, &delivery, &project.uuid(), &endpoint.uuid(), &at],
        )
        .await
        .unwrap();
    OldEvent {
        event,
        delivery,
        attempt,
    }
}

async fn project_with_retention(store: &Store, client: &Client, days: i32) -> ProjectId {
    let project = store.create_project("retention", None, None).await.unwrap();
    client
        .execute(
            "UPDATE projects SET retention_days = $2 WHERE id = $1",
            &[&project.id.uuid(), &days],
        )
        .await
        .unwrap();
    project.id
}

async fn ids(client: &Client, sql: &str) -> BTreeSet<Uuid> {
    client
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

async fn partition_exists(client: &Client, name: &str) -> bool {
    client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .await
        .unwrap()
        .get(0)
}

fn day_partition(table: &str, age_days: i64) -> String {
    let day = (OffsetDateTime::now_utc() - time::Duration::days(age_days)).date();
    format!(
        "{table}_{:04}{:02}{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

const DAY: Duration = Duration::from_secs(24 * 3600);

#[tokio::test]
async fn exactly_what_is_older_than_each_projects_retention_is_removed_unless_pending() {
    let db = TestDatabase::create().await;
    let store = db.store();
    let client = db.client().await;
    client
        .batch_execute(
            "SELECT eventflow_ensure_partitions(t, (now() AT TIME ZONE 'UTC')::date - 15, 16) \
             FROM unnest(ARRAY['events', 'deliveries', 'attempts']) AS t",
        )
        .await
        .unwrap();
    let short = project_with_retention(&store, &client, 2).await;
    let long = project_with_retention(&store, &client, 10).await;
    // Twelve days old: past both retentions, its whole day goes.
    let twelve = [
        write_old_event(&client, short, 12 * DAY, false).await,
        write_old_event(&client, long, 12 * DAY, false).await,
    ];
    // Eleven days old: one of them still pending keeps its day's partitions,
    // so the others of that day go row by row.
    let eleven_pending = write_old_event(&client, long, 11 * DAY, true).await;
    let eleven_done = [
        write_old_event(&client, long, 11 * DAY, false).await,
        write_old_event(&client, short, 11 * DAY, false).await,
    ];
    // Five days old: past the short retention only.
    let five_short_done = write_old_event(&client, short, 5 * DAY, false).await;
    let five_short_pending = write_old_event(&client, short, 5 * DAY, true).await;
    let five_long = write_old_event(&client, long, 5 * DAY, false).await;
    // One day old: within both.
    let one = [
        write_old_event(&client, short, DAY, false).await,
        write_old_event(&client, long, DAY, false).await,
    ];

    // Statistics follow the project's retention too.
    client
        .execute(
            "INSERT INTO stats_hourly (project_id, hour, events) VALUES \
             ($1, date_trunc('hour', now() - interval '5 days'), 1), \
             ($1, date_trunc('hour', now() - interval '1 day'), 1)",
            &[&short.uuid()],
        )
        .await
        .unwrap();

    let mut config = test_config(db.url());
    config.retention_interval = Duration::from_millis(200);
    config.retention_batch = 2; // several batches per project
    config.retention_batch_pause = Duration::ZERO;
    // Two replicas: only the one holding the advisory lock applies retention.
    let replica = eventflow_test_support::spawn_dispatcher(config.clone()).await;
    let app = spawn_app_on(db, config).await;

    let kept = [
        eleven_pending,
        five_short_pending,
        five_long,
        one[0],
        one[1],
    ];
    let expect = |pick: fn(&OldEvent) -> Uuid| kept.iter().map(pick).collect::<BTreeSet<_>>();
    eventually(
        "retention to leave only the kept events",
        Duration::from_secs(30),
        || async { ids(&client, "SELECT id FROM events").await == expect(|e| e.event) },
    )
    .await;

    assert_eq!(
        ids(&client, "SELECT id FROM events").await,
        expect(|e| e.event)
    );
    assert_eq!(
        ids(&client, "SELECT id FROM deliveries").await,
        expect(|e| e.delivery)
    );
    assert_eq!(
        ids(&client, "SELECT id FROM attempts").await,
        expect(|e| e.attempt)
    );
    assert!(!partition_exists(&client, &day_partition("events", 12)).await);
    assert!(!partition_exists(&client, &day_partition("attempts", 12)).await);
    assert!(
        partition_exists(&client, &day_partition("deliveries", 11)).await,
        "a day with a pending delivery is kept"
    );
    let _removed = (twelve, eleven_done, five_short_done);

    let stats_left: i64 = client
        .query_one(
            "SELECT count(*) FROM stats_hourly WHERE project_id = $1 AND hour > now() - interval '2 days'",
            &[&short.uuid()],
        )
        .await
        .unwrap()
        .get(0);
    let stats_all: i64 = client
        .query_one("SELECT count(*) FROM stats_hourly", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        (stats_left, stats_all),
        (1, 1),
        "only the recent hour is kept"
    );

    // The leader publishes its counters once its whole run has returned, which can be a
    // moment after the last row the checks above look at is gone.
    eventually(
        "the leader to publish the retention counters",
        Duration::from_secs(10),
        || async {
            let metrics = app.get("/metrics").await.text().await.unwrap()
                + &replica.get("/metrics").await.text().await.unwrap();
            metrics.contains("eventflow_retention_rows_deleted_total{table=\"events\"}")
                && metrics.contains("eventflow_retention_partitions_dropped_total")
        },
    )
    .await;
    replica.shutdown().await.unwrap();
    app.shutdown().await.unwrap();
}
