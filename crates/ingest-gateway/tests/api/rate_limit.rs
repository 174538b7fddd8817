use std::time::Duration;

use eventflow_test_support::spawn_gateway;

use crate::{order_created, problem};

#[tokio::test]
async fn a_project_over_its_rate_is_429_with_headers_then_recovers() {
    let gateway = spawn_gateway().await;
    let project = gateway
        .store
        // 1 per second after a burst of 5: the six posts below would need a
        // whole second to earn a seventh, so a loaded machine cannot turn
        // the 429 into a 202.
        .create_project("limited", Some(1), Some(5))
        .await
        .unwrap();
    let key = gateway.create_key(project.id, "ingest").await;

    let mut statuses = Vec::new();
    for n in 0..5 {
        statuses.push(
            gateway
                .post_event(&key, &order_created(n))
                .await
                .status()
                .as_u16(),
        );
    }
    let limited = gateway.post_event(&key, &order_created(5)).await;

    assert_eq!(statuses, [202; 5]);
    assert_eq!(limited.status(), 429);
    let headers = limited.headers().clone();
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(headers["ratelimit-limit"], "5");
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert!(headers.contains_key("ratelimit-reset"));
    let body = problem(limited).await;
    assert_eq!(body["type"], "https://eventflow.dev/problems/rate-limited");
    assert_eq!(gateway.store.count_events(project.id).await.unwrap(), 5);

    // 1 per second: one event's worth of allowance is back after a second.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        gateway.post_event(&key, &order_created(6)).await.status(),
        202
    );
}

#[tokio::test]
async fn a_batch_costs_one_unit_per_valid_event() {
    let gateway = spawn_gateway().await;
    let project = gateway
        .store
        .create_project("limited", Some(10), Some(10))
        .await
        .unwrap();
    let key = gateway.create_key(project.id, "ingest").await;
    let eight: Vec<_> = (0..8).map(order_created).collect();

    assert_eq!(gateway.post_batch(&key, &eight).await.status(), 200);
    let response = gateway.post_batch(&key, &eight).await;

    assert_eq!(response.status(), 429);
    assert_eq!(gateway.store.count_events(project.id).await.unwrap(), 8);
}

#[tokio::test]
async fn projects_have_separate_allowances() {
    let gateway = spawn_gateway().await;
    let a = gateway
        .store
        .create_project("a", Some(1), Some(1))
        .await
        .unwrap();
    let b = gateway
        .store
        .create_project("b", Some(1), Some(1))
        .await
        .unwrap();
    let (key_a, key_b) = (
        gateway.create_key(a.id, "ingest").await,
        gateway.create_key(b.id, "ingest").await,
    );

    assert_eq!(
        gateway.post_event(&key_a, &order_created(0)).await.status(),
        202
    );
    assert_eq!(
        gateway.post_event(&key_a, &order_created(1)).await.status(),
        429
    );
    assert_eq!(
        gateway.post_event(&key_b, &order_created(0)).await.status(),
        202
    );
}
