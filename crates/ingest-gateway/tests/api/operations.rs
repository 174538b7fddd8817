//! Health, readiness, metrics and a clean drain on shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use eventflow_test_support::spawn_gateway;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::order_created;

#[tokio::test]
async fn healthz_and_readyz_answer_when_postgres_and_redis_do() {
    let gateway = spawn_gateway().await;
    let health = gateway
        .client
        .get(gateway.url("/healthz"))
        .send()
        .await
        .unwrap();
    let ready = gateway
        .client
        .get(gateway.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"postgres": "ok", "redis": "ok"}));
}

#[tokio::test]
async fn grpc_health_reports_serving_once_dependencies_answer() {
    let gateway = spawn_gateway().await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", gateway.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let request = HealthCheckRequest {
        service: "eventflow.ingest.v1.IngestService".into(),
    };
    let mut status = 0;
    for _ in 0..50 {
        status = health
            .check(request.clone())
            .await
            .unwrap()
            .into_inner()
            .status;
        if status == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 1, "SERVING");
}

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
    while acknowledged.load(Ordering::SeqCst) < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

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

#[tokio::test]
async fn trace_and_unknown_methods_are_405_problems_naming_the_allowed_methods() {
    let gateway = spawn_gateway().await;
    let send = async |method: &str, path: &str| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = gateway
            .client
            .request(method, gateway.url(path))
            .send()
            .await
            .unwrap();
        let allow = response
            .headers()
            .get("allow")
            .map(|value| value.to_str().unwrap().to_owned());
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        (response.status().as_u16(), allow, content_type)
    };

    for (method, path, allow) in [
        ("TRACE", "/v1/events", Some("POST")),
        ("GET", "/v1/events", Some("POST")),
        ("DELETE", "/v1/events/batch", Some("POST")),
        ("TRACE", "/healthz", Some("GET")),
        ("MADEUP", "/nowhere", Some("")),
    ] {
        let (status, allowed, content_type) = send(method, path).await;
        assert_eq!(status, 405, "{method} {path}");
        assert_eq!(allowed.as_deref(), allow, "{method} {path}");
        assert_eq!(content_type, "application/problem+json", "{method} {path}");
    }
    let (status, _, content_type) = send("GET", "/nowhere").await;
    assert_eq!(status, 404);
    assert_eq!(content_type, "application/problem+json");
}
