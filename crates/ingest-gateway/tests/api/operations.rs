//! The gateway's own metrics (events accepted and rejected) and a drain on
//! shutdown that loses no acknowledged event. What every service does the
//! same way (health, readiness, 405s, stopping) is checked in
//! eventflow-test-support's `tests/lifecycle.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use eventflow_test_support::{WITHIN, eventually, spawn_gateway};

use crate::order_created;

#[tokio::test]
async fn metrics_expose_request_latency_and_event_counters() {
    let gateway = spawn_gateway().await;
    let (_, key) = gateway.create_project_with_key("ingest").await;
    gateway.post_event(&key, &order_created(1)).await;
    gateway.post_event("efk_bad", &order_created(1)).await;

    let text = gateway
        .client
        .get(gateway.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert!(
        text.contains("http_server_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("eventflow_events_accepted_total"), "{text}");
    assert!(
        text.contains(r#"eventflow_events_rejected_total{reason="unauthenticated"}"#),
        "{text}"
    );
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish_and_loses_none() {
    let gateway = spawn_gateway().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..16)
        .map(|_| {
            let (client, url, key, acknowledged) = (
                reqwest::Client::new(),
                gateway.url("/v1/events"),
                key.clone(),
                acknowledged.clone(),
            );
            tokio::spawn(async move {
                for n in 0.. {
                    match client
                        .post(&url)
                        .bearer_auth(&key)
                        .json(&order_created(n))
                        .send()
                        .await
                    {
                        Ok(response) if response.status() == 202 => {
                            acknowledged.fetch_add(1, Ordering::SeqCst)
                        }
                        _ => return,
                    };
                }
            })
        })
        .collect();
    eventually("200 events acknowledged", WITHIN, || async {
        acknowledged.load(Ordering::SeqCst) >= 200
    })
    .await;

    let store = gateway.store.clone();
    gateway.shutdown().await.expect("clean shutdown");
    for producer in producers {
        producer.await.unwrap();
    }

    let acknowledged = acknowledged.load(Ordering::SeqCst) as i64;
    assert_eq!(
        store.count_events(project).await.unwrap(),
        acknowledged,
        "every 202 is stored"
    );
}
