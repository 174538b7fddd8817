//! What happens when PostgreSQL or Redis fail under the gateway.

use std::time::Duration;

use eventflow_test_support::{
    TcpProxy, TestDatabase, WITHIN, eventually, gateway_config, spawn_gateway_on,
    spawn_gateway_with,
};
use fred::prelude::*;
use serde_json::Value;

use crate::{order_created, problem};

#[tokio::test]
async fn postgres_unreachable_is_503_with_retry_after_and_nothing_is_acknowledged() {
    let db = TestDatabase::create().await;
    let proxy = TcpProxy::start(TestDatabase::server_addr()).await;
    let mut config = gateway_config(db.url());
    config.service.database_url = db.url_through(proxy.addr());
    config.service.database_timeout = Duration::from_secs(1);
    let gateway = spawn_gateway_on(db, config, |_| {}).await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    assert_eq!(
        gateway.post_event(&key, &order_created(0)).await.status(),
        202
    );

    proxy.cut().await;
    let response = gateway.post_event(&key, &order_created(1)).await;

    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body = problem(response).await;
    assert_eq!(body["type"], "https://eventflow.dev/problems/unavailable");
    assert_eq!(
        gateway.store.count_events(project).await.unwrap(),
        1,
        "the refused event is not stored"
    );
    let ready = gateway
        .client
        .get(gateway.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);

    proxy.restore();
    eventually(
        "the gateway to recover once PostgreSQL is back",
        WITHIN,
        || async { gateway.post_event(&key, &order_created(2)).await.status() == 202 },
    )
    .await;
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 2);
}

/// Makes XADD fail by putting a plain string where the stream should be.
async fn break_the_stream(stream_key: &str) -> Client {
    let redis = Client::new(
        Config::from_url(&eventflow_test_support::redis_url()).unwrap(),
        None,
        None,
        None,
    );
    redis.init().await.unwrap();
    let _: () = redis
        .set(stream_key, "not a stream", None, None, false)
        .await
        .unwrap();
    redis
}

#[tokio::test]
async fn an_event_whose_stream_append_fails_is_kept_and_published_later() {
    let gateway =
        spawn_gateway_with(|config| config.outbox_relay_interval = Duration::from_millis(100))
            .await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let stream_key = gateway.queue.keys().event_stream();
    let redis = break_the_stream(&stream_key).await;

    let response = gateway.post_event(&key, &order_created(1)).await;

    assert_eq!(
        response.status(),
        202,
        "a committed event is acknowledged even if Redis fails"
    );
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(gateway.store.count_events(project).await.unwrap(), 1);
    let outbox = gateway.store.unpublished_events(10).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].0.to_string(), id);

    let _: () = redis.del(&stream_key).await.unwrap();
    let (published, outbox_left) = eventually(
        "the outbox relay to re-publish the event",
        WITHIN,
        || async {
            let published = gateway.queue.read_event_stream(10).await.unwrap();
            let outbox_left = gateway.store.unpublished_events(10).await.unwrap().len();
            (!published.is_empty() && outbox_left == 0).then_some((published, outbox_left))
        },
    )
    .await;
    assert_eq!(
        published.len(),
        1,
        "the outbox relay re-publishes the event"
    );
    assert_eq!(published[0].event_id.to_string(), id);
    assert_eq!(outbox_left, 0, "and removes it from the outbox");
}
