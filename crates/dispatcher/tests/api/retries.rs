//! What a receiver sees across attempts: retries on the schedule with the
//! same `webhook-id` and a fresh signature each time, the dead letter after
//! the last attempt, `Retry-After` honoured within its limit, timeouts, the
//! answer kept up to a cap, and the per-endpoint headers and trace context
//! every attempt carries.

use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use eventflow_domain::{RetrySchedule, verify};
use eventflow_store::DeliveryStatus;
use eventflow_test_support::{Reply, WITHIN, WebhookSink, spawn_gateway};
use serde_json::{Value, json};

use crate::scenario::{
    attempts, delivery_of, post_event, step_until_status, take_due_step, update_endpoint,
    wait_for_status,
};

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_three_attempts_with_one_id_and_fresh_signatures() {
    let gateway = spawn_gateway().await;
    // Gaps of at least 1.04 s (1.3 s minus 20 % jitter) put every attempt in
    // its own second, so each carries a timestamp of its own.
    let _dispatcher = gateway
        .spawn_dispatcher_with(|config| {
            config.retry_schedule = RetrySchedule::parse("0s,1300ms,1300ms").unwrap();
        })
        .await;
    let sink = WebhookSink::start().await;
    sink.then([Reply::Status(500), Reply::Status(500)]);
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project, &sink.url("/hooks"), &["order.*"])
        .await;

    let event = post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {}}),
    )
    .await;

    let delivery = delivery_of(event, endpoint.id);
    wait_for_status(&gateway, delivery, DeliveryStatus::Succeeded).await;
    let received = sink.received();
    assert_eq!(received.len(), 3);
    let mut timestamps = Vec::new();
    for request in &received {
        assert_eq!(
            request.header("webhook-id"),
            Some(event.to_string().as_str())
        );
        let timestamp: i64 = request
            .header("webhook-timestamp")
            .unwrap()
            .parse()
            .unwrap();
        let signature = request.header("webhook-signature").unwrap();
        assert!(
            verify(
                &endpoint.secret,
                &event.to_string(),
                timestamp,
                request.body.as_bytes(),
                signature
            ),
            "each attempt is signed for its own timestamp"
        );
        timestamps.push(timestamp);
    }
    assert!(
        timestamps.windows(2).all(|pair| pair[0] < pair[1]),
        "every attempt has a newer timestamp: {timestamps:?}"
    );
    assert!(
        received
            .iter()
            .all(|request| request.body == received[0].body),
        "the body is the same on every attempt"
    );
    let attempts = attempts(&gateway, delivery).await;
    let codes: Vec<Option<i32>> = attempts.iter().map(|a| a.status_code).collect();
    assert_eq!(codes, [Some(500), Some(500), Some(200)]);
    let numbers: Vec<i32> = attempts.iter().map(|a| a.attempt_number).collect();
    assert_eq!(numbers, [1, 2, 3]);
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_is_dead_lettered_after_the_last_attempt() {
    let gateway = spawn_gateway().await;
    // The test schedule: 0s, 200ms, 400ms (three attempts), each retry
    // taken in a step of the test.
    let dispatcher = gateway.spawn_stepped_dispatcher().await;
    let sink = WebhookSink::start().await;
    sink.always(Reply::Status(500));
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project, &sink.url("/hooks"), &["order.*"])
        .await;

    let event = post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {}}),
    )
    .await;

    let delivery = delivery_of(event, endpoint.id);
    let state = step_until_status(&gateway, &dispatcher, delivery, DeliveryStatus::Failed).await;
    assert_eq!(state.attempt_count, 3);
    assert_eq!(state.last_status_code, Some(500));
    assert_eq!(state.next_attempt_at, None, "nothing more is scheduled");
    // No fourth attempt: nothing of it is due.
    assert_eq!(take_due_step(&dispatcher).await, 0, "nothing more is due");
    assert_eq!(sink.received().len(), 3);
    let attempts = attempts(&gateway, delivery).await;
    assert_eq!(attempts.len(), 3);
    assert!(attempts.iter().all(|attempt| {
        attempt.status_code == Some(500) && attempt.error_kind.as_deref() == Some("http_status")
    }));
    let state = step_until_status(&gateway, &dispatcher, delivery, DeliveryStatus::Failed).await;
    assert_eq!(state.attempt_count, 3, "the dead letter stays as it was");
}

#[tokio::test]
async fn a_retry_after_on_a_503_postpones_the_next_attempt() {
    let gateway = spawn_gateway().await;
    let _dispatcher = gateway
        .spawn_dispatcher_with(|config| {
            config.retry_schedule = RetrySchedule::parse("0s,50ms").unwrap();
        })
        .await;
    let sink = WebhookSink::start().await;
    sink.then([Reply::StatusRetryAfter(503, 1)]);
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project, &sink.url("/hooks"), &["order.*"])
        .await;

    let event = post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {}}),
    )
    .await;

    wait_for_status(
        &gateway,
        delivery_of(event, endpoint.id),
        DeliveryStatus::Succeeded,
    )
    .await;
    let received = sink.received();
    assert_eq!(received.len(), 2);
    let gap = received[1].at - received[0].at;
    assert!(
        gap >= Duration::from_secs(1),
        "the receiver asked for 1 s and the schedule said 50 ms; the retry came after {gap:?}"
    );
}

#[tokio::test]
async fn a_retry_after_longer_than_the_limit_is_cut_to_the_limit() {
    let gateway = spawn_gateway().await;
    let _dispatcher = gateway
        .spawn_dispatcher_with(|config| {
            config.retry_schedule = RetrySchedule::parse("0s,50ms").unwrap();
            config.max_retry_after = Duration::from_secs(1);
        })
        .await;
    let sink = WebhookSink::start().await;
    sink.then([Reply::StatusRetryAfter(429, 3600)]);
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project, &sink.url("/hooks"), &["order.*"])
        .await;

    let event = post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {}}),
    )
    .await;

    wait_for_status(
        &gateway,
        delivery_of(event, endpoint.id),
        DeliveryStatus::Succeeded,
    )
    .await;
    let received = sink.received();
    assert_eq!(received.len(), 2);
    let gap = received[1].at - received[0].at;
    assert!(
        gap >= Duration::from_secs(1) && gap < Duration::from_secs(4),
        "an hour asked, a second allowed; the retry came after {gap:?}"
    );
}

#[tokio::test]
async fn an_attempt_that_outlasts_the_timeout_is_recorded_as_a_timeout_and_retried() {
    let gateway = spawn_gateway().await;
    let _dispatcher = gateway
        .spawn_dispatcher_with(|config| {
            config.delivery_timeout = Duration::from_millis(500);
            config.claim_timeout = Duration::from_secs(2);
        })
        .await;
    let sink = WebhookSink::start().await;
    sink.delay(Duration::from_secs(3));
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project, &sink.url("/hooks"), &["order.*"])
        .await;

    let event = post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {}}),
    )
    .await;
    sink.wait_for(1, WITHIN).await;
    sink.delay(Duration::ZERO);

    let delivery = delivery_of(event, endpoint.id);
    let state = wait_for_status(&gateway, delivery, DeliveryStatus::Succeeded).await;
    assert_eq!(state.attempt_count, 2);
    let attempts = attempts(&gateway, delivery).await;
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].error_kind.as_deref(), Some("timeout"));
    assert_eq!(attempts[0].status_code, None);
    assert!(
        attempts[0].duration >= Duration::from_millis(450)
            && attempts[0].duration < Duration::from_millis(1500),
        "the attempt was given up after the 500 ms timeout, not the receiver's 3 s: {:?}",
        attempts[0].duration
    );
    assert_eq!(attempts[1].status_code, Some(200));
    assert_eq!(attempts[1].error_kind, None);
}

/// Answers every request with `body`, as a receiver with a chatty error page would.
fn start_receiver_answering(body: String) -> (String, actix_web::dev::ServerHandle) {
    let server = HttpServer::new(move || {
        let body = body.clone();
        App::new().default_service(web::to(move || {
            let body = body.clone();
            async move { HttpResponse::Ok().body(body) }
        }))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("bind receiver");
    let url = format!("http://{}/hooks", server.addrs()[0]);
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (url, handle)
}

#[tokio::test]
async fn only_the_first_max_response_bytes_of_an_answer_are_kept() {
    let gateway = spawn_gateway().await;
    let _dispatcher = gateway
        .spawn_dispatcher_with(|config| config.max_response_bytes = 25)
        .await;
    let (url, receiver) = start_receiver_answering("0123456789".repeat(10_000));
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway.create_endpoint(project, &url, &["order.*"]).await;

    let event = post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {}}),
    )
    .await;

    let delivery = delivery_of(event, endpoint.id);
    wait_for_status(&gateway, delivery, DeliveryStatus::Succeeded).await;
    let attempts = attempts(&gateway, delivery).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        attempts[0].response_body.as_deref(),
        Some("0123456789012345678901234")
    );
    receiver.stop(false).await;
}

#[tokio::test]
async fn an_endpoints_custom_headers_reach_the_receiver_without_overriding_webhook_headers() {
    let gateway = spawn_gateway().await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project, &sink.url("/hooks"), &["order.*"])
        .await;
    update_endpoint(
        &gateway,
        endpoint.id,
        r#"headers = '{"X-Team": "payments", "Authorization": "Bearer receiver-token", "webhook-id": "forged"}'"#,
    )
    .await;
    let _dispatcher = gateway.spawn_dispatcher().await;

    let event = post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {}}),
    )
    .await;

    let received = sink.wait_for(1, WITHIN).await;
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.header("x-team"), Some("payments"));
    assert_eq!(
        request.header("authorization"),
        Some("Bearer receiver-token")
    );
    let ids: Vec<&str> = request
        .headers
        .iter()
        .filter(|(name, _)| name == "webhook-id")
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(ids, [event.to_string().as_str()]);
}

#[tokio::test]
async fn the_producers_traceparent_reaches_the_receiver_in_the_same_trace() {
    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    let gateway = spawn_gateway().await;
    let _dispatcher = gateway.spawn_dispatcher().await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    gateway
        .create_endpoint(project, &sink.url("/hooks"), &["order.*"])
        .await;

    let response = gateway
        .client
        .post(gateway.url("/v1/events"))
        .bearer_auth(&key)
        .header("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01"))
        .json(&json!({"type": "order.created", "payload": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"].clone();

    let received = sink.wait_for(1, WITHIN).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].header("webhook-id"), id.as_str());
    let traceparent = received[0].header("traceparent").expect("a traceparent");
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[0], "00", "{traceparent}");
    assert_eq!(parts[1], TRACE_ID, "the producer's trace continues");
}
