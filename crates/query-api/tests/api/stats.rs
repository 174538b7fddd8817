//! `/v1/stats`: counts of real ingest and delivery traffic, per project and
//! per endpoint, rolled up by minute, hour and day.

use std::time::Duration;

use eventflow_test_support::{
    Reply, TestGateway, TestQueryApi, WebhookSink, eventually, spawn_gateway,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How long the dispatcher may take to settle every delivery.
const WITHIN: Duration = Duration::from_secs(20);

/// Sums of a series: events, succeeded, failed, attempts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Totals {
    events: i64,
    succeeded: i64,
    failed: i64,
    attempts: i64,
}

fn totals(points: &[Value]) -> Totals {
    let sum = |field: &str| points.iter().map(|p| p[field].as_i64().unwrap()).sum();
    Totals {
        events: sum("events"),
        succeeded: sum("deliveries_succeeded"),
        failed: sum("deliveries_failed"),
        attempts: sum("attempts"),
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap()
}

async fn get_stats(api: &TestQueryApi, key: &str, query: &str) -> reqwest::Response {
    api.client
        .get(api.url(&format!("/v1/stats{query}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

async fn stats(api: &TestQueryApi, key: &str, query: &str) -> Value {
    let response = get_stats(api, key, query).await;
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

/// Polls the series `query` until its totals are `expected`.
async fn wait_for_totals(api: &TestQueryApi, key: &str, query: &str, expected: Totals) -> Value {
    let what = format!("stats for {query} to total {expected:?}");
    eventually(&what, WITHIN, || async {
        let body = stats(api, key, query).await;
        (totals(body["series"].as_array().unwrap()) == expected).then_some(body)
    })
    .await
}

/// Posts `count` `order.created` events and checks each was accepted.
async fn post_orders(gateway: &TestGateway, key: &str, count: usize) {
    for n in 0..count {
        let response = gateway
            .post_event(key, &json!({"type": "order.created", "payload": {"n": n}}))
            .await;
        assert_eq!(response.status(), 202);
    }
}

#[tokio::test]
async fn stats_count_events_deliveries_dead_letters_and_attempts_per_project_and_endpoint() {
    let gateway = spawn_gateway().await;
    // The test schedule makes three attempts (0s, 200ms, 400ms), then
    // dead-letters; the circuit stays closed through the 15 failures.
    let _dispatcher = gateway
        .spawn_dispatcher_with(|config| config.circuit_failure_threshold = 100)
        .await;
    let api = gateway.spawn_query_api().await;
    let healthy = WebhookSink::start().await;
    let broken = WebhookSink::start().await;
    broken.always(Reply::Status(500));
    let (project, key) = gateway.create_project_with_key("ingest,read").await;
    let good = gateway
        .create_endpoint(project, &healthy.url("/hook"), &["order.*"])
        .await;
    let bad = gateway
        .create_endpoint(project, &broken.url("/hook"), &["order.*"])
        .await;
    let since = rfc3339(OffsetDateTime::now_utc() - time::Duration::minutes(1));

    post_orders(&gateway, &key, 5).await;

    let whole = format!("?bucket=minute&since={since}");
    let body = wait_for_totals(
        &api,
        &key,
        &whole,
        Totals {
            events: 5,
            succeeded: 5,
            failed: 5,
            attempts: 5 + 5 * 3,
        },
    )
    .await;
    assert_eq!(body["bucket"], "minute");
    assert!(body["endpoint_id"].is_null());
    let with_attempts: Vec<&Value> = body["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|point| point["attempts"].as_i64().unwrap() > 0)
        .collect();
    assert!(!with_attempts.is_empty());
    for point in with_attempts {
        let latency = &point["latency_ms"];
        let (p50, p99) = (
            latency["p50"].as_u64().unwrap(),
            latency["p99"].as_u64().unwrap(),
        );
        assert!(p50 >= 1 && p50 <= p99 && p99 <= 2_000, "{latency}");
    }

    let good_only = wait_for_totals(
        &api,
        &key,
        &format!("{whole}&endpoint_id={}", good.id),
        Totals {
            events: 5,
            succeeded: 5,
            failed: 0,
            attempts: 5,
        },
    )
    .await;
    assert_eq!(good_only["endpoint_id"], good.id.to_string());
    wait_for_totals(
        &api,
        &key,
        &format!("{whole}&endpoint_id={}", bad.id),
        Totals {
            events: 5,
            succeeded: 0,
            failed: 5,
            attempts: 15,
        },
    )
    .await;
}

#[tokio::test]
async fn hour_and_day_buckets_are_the_sums_of_their_minutes_and_empty_buckets_are_zeros() {
    let gateway = spawn_gateway().await;
    let _dispatcher = gateway.spawn_dispatcher().await;
    let api = gateway.spawn_query_api().await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("ingest,read").await;
    gateway
        .create_endpoint(project, &sink.url("/hook"), &["*"])
        .await;
    post_orders(&gateway, &key, 4).await;
    // A range of whole days around now: every bucket size covers it exactly.
    let now = OffsetDateTime::now_utc();
    let today = now.replace_time(time::Time::MIDNIGHT);
    let range = format!(
        "&since={}&until={}",
        rfc3339(today - time::Duration::days(1)),
        rfc3339(today + time::Duration::days(1))
    );
    let expected = Totals {
        events: 4,
        succeeded: 4,
        failed: 0,
        attempts: 4,
    };

    let minutes = wait_for_totals(&api, &key, &format!("?bucket=minute{range}"), expected).await;
    let hours = wait_for_totals(&api, &key, &format!("?bucket=hour{range}"), expected).await;
    let days = wait_for_totals(&api, &key, &format!("?bucket=day{range}"), expected).await;

    let minutes = minutes["series"].as_array().unwrap();
    let hours = hours["series"].as_array().unwrap();
    let days = days["series"].as_array().unwrap();
    assert_eq!((minutes.len(), hours.len(), days.len()), (2 * 1440, 48, 2));
    for (index, hour) in hours.iter().enumerate() {
        let expected_start =
            rfc3339(today - time::Duration::days(1) + time::Duration::hours(index as i64));
        assert_eq!(hour["start"], expected_start.as_str());
        assert_eq!(
            totals(std::slice::from_ref(hour)),
            totals(&minutes[index * 60..(index + 1) * 60]),
            "hour {index}"
        );
    }
    for (index, day) in days.iter().enumerate() {
        assert_eq!(
            totals(std::slice::from_ref(day)),
            totals(&hours[index * 24..(index + 1) * 24]),
            "day {index}"
        );
    }
    let empty = &hours[0];
    assert_eq!(empty["events"], 0);
    assert!(empty["latency_ms"]["p50"].is_null());
    let busy_day = days.iter().find(|day| day["attempts"] == 4).unwrap();
    assert!(busy_day["latency_ms"]["p99"].as_u64().is_some());
}

#[tokio::test]
async fn bad_parameters_and_ranges_out_of_bounds_are_422_and_credentials_are_checked() {
    let gateway = spawn_gateway().await;
    let api = gateway.spawn_query_api().await;
    let (_, key) = gateway.create_project_with_key("read").await;
    let (_, ingest_only) = gateway.create_project_with_key("ingest").await;

    for query in [
        "?bucket=week",
        "?since=yesterday",
        "?until=2026-11-27",
        "?endpoint_id=ep_nothex",
        "?endpoint_id=evt_0192f3a0c0de7abc8def0123456789ab",
        "?bukket=hour",
    ] {
        let response = get_stats(&api, &key, query).await;
        assert_eq!(response.status(), 422, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{query}"
        );
    }
    for (query, field) in [
        (
            "?since=2026-11-27T12:00:00Z&until=2026-11-27T11:00:00Z",
            "since",
        ),
        (
            "?bucket=minute&since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z",
            "since",
        ),
        (
            "?bucket=day&since=9999-12-30T00:00:00Z&until=9999-12-31T12:00:00Z",
            "until",
        ),
        ("?until=0000-01-01T00:00:00Z", "until"),
        ("?bucket=minute&since=0000-01-01T00:00:00Z", "since"),
        (
            "?since=9999-12-31T23:59:59Z&until=9999-12-31T23:59:59.9Z",
            "until",
        ),
    ] {
        let response = get_stats(&api, &key, query).await;
        assert_eq!(response.status(), 422, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{query}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    let last_days = stats(
        &api,
        &key,
        "?bucket=day&since=9999-12-29T00:00:00Z&until=9999-12-31T00:00:00Z",
    )
    .await;
    assert_eq!(last_days["until"], "9999-12-31T00:00:00Z");
    assert_eq!(last_days["series"].as_array().unwrap().len(), 2);
    let problem: Value = get_stats(&api, &key, "?bucket=week&since=x")
        .await
        .json()
        .await
        .unwrap();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["bucket", "since"]);

    let anonymous = api.client.get(api.url("/v1/stats")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(get_stats(&api, &ingest_only, "").await.status(), 403);
    let default = stats(&api, &key, "").await;
    assert_eq!(default["bucket"], "hour");
    let document: Value = api
        .client
        .get(api.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(document["paths"]["/v1/stats"]["get"].is_object());
    // 24 hours back from now touch 25 hourly buckets (24 when now is on the hour).
    let buckets = default["series"].as_array().unwrap().len();
    assert!((24..=25).contains(&buckets), "{buckets}");
}

#[tokio::test]
async fn another_projects_endpoint_is_404_and_its_traffic_never_shows() {
    let gateway = spawn_gateway().await;
    let _dispatcher = gateway.spawn_dispatcher().await;
    let api = gateway.spawn_query_api().await;
    let sink = WebhookSink::start().await;
    let (theirs, their_key) = gateway.create_project_with_key("ingest,read").await;
    let their_endpoint = gateway
        .create_endpoint(theirs, &sink.url("/hook"), &["*"])
        .await;
    let (_, my_key) = gateway.create_project_with_key("read").await;
    post_orders(&gateway, &their_key, 3).await;
    let since = rfc3339(OffsetDateTime::now_utc() - time::Duration::hours(1));
    let theirs_seen = wait_for_totals(
        &api,
        &their_key,
        &format!("?bucket=minute&since={since}"),
        Totals {
            events: 3,
            succeeded: 3,
            failed: 0,
            attempts: 3,
        },
    )
    .await;
    assert!(!theirs_seen["series"].as_array().unwrap().is_empty());

    let foreign = get_stats(
        &api,
        &my_key,
        &format!("?endpoint_id={}", their_endpoint.id),
    )
    .await;
    assert_eq!(foreign.status(), 404);
    assert_eq!(
        foreign.headers()["content-type"],
        "application/problem+json"
    );
    let missing = get_stats(
        &api,
        &my_key,
        "?endpoint_id=ep_0192f3a0c0de7abc8def0123456789ab",
    )
    .await;
    assert_eq!(missing.status(), 404);
    let mine = stats(&api, &my_key, &format!("?bucket=minute&since={since}")).await;
    assert_eq!(
        totals(mine["series"].as_array().unwrap()),
        Totals::default()
    );
}
