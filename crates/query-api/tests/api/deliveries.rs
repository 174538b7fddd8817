//! `/v1/deliveries`: by endpoint and status, one page at a time; a delivery
//! and its attempts; retrying a dead-lettered delivery seen at a real
//! receiver; bad parameters.

use std::time::Duration;

use eventflow_domain::{DeliveryId, EndpointId};
use eventflow_test_support::{Reply, spawn_gateway};
use serde_json::{Value, json};

use crate::events::{
    NO_DISPATCHER, Stack, error_fields, get, ids, post, post_event_id, wait_for_count,
};

#[tokio::test]
async fn deliveries_are_listed_by_endpoint_and_status_with_their_attempts() {
    let stack = Stack::start().await;
    let (api, key) = (&stack.api, stack.key.as_str());
    let everything = stack.endpoint("/all", &["*"]).await;
    let orders = stack.endpoint("/orders", &["order.*"]).await;
    post_event_id(&stack.gateway, key, "order.created").await;
    post_event_id(&stack.gateway, key, "invoice.paid").await;
    wait_for_count(api, key, "/v1/deliveries?status=succeeded", 3).await;
    stack.sink.always(Reply::Status(503));
    let doomed = post_event_id(&stack.gateway, key, "order.paid").await;
    wait_for_count(api, key, "/v1/deliveries?status=failed", 2).await;

    let (status, all) = get(api, key, "/v1/deliveries").await;
    assert_eq!(status, 200, "{all}");
    let all_ids = ids(&all);
    assert_eq!(all_ids.len(), 5);
    let mut sorted = all_ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(all_ids, sorted, "newest first");

    let (_, of_orders) = get(api, key, &format!("/v1/deliveries?endpoint_id={orders}")).await;
    assert_eq!(ids(&of_orders).len(), 2);
    assert!(
        of_orders["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["endpoint_id"] == orders.to_string())
    );
    let (_, failed_orders) = get(
        api,
        key,
        &format!("/v1/deliveries?endpoint_id={orders}&status=failed"),
    )
    .await;
    let failed = &failed_orders["data"][0];
    assert_eq!(ids(&failed_orders).len(), 1);
    assert_eq!(failed["event_id"], doomed);
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["last_status_code"], 503);
    assert_eq!(failed["next_attempt_at"], Value::Null);
    let (_, succeeded) = get(
        api,
        key,
        &format!("/v1/deliveries?endpoint_id={everything}&status=succeeded"),
    )
    .await;
    assert_eq!(ids(&succeeded).len(), 2);
    let (_, refused) = get(api, key, "/v1/deliveries?status=refused").await;
    assert!(ids(&refused).is_empty());

    // One at a time: the same deliveries, in the same order.
    let mut walked = Vec::new();
    let mut path = "/v1/deliveries?limit=2".to_owned();
    loop {
        let (status, page) = get(api, key, &path).await;
        assert_eq!(status, 200, "{page}");
        walked.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/deliveries?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(walked, all_ids);

    let id = failed["id"].as_str().unwrap();
    let (status, one) = get(api, key, &format!("/v1/deliveries/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(&one, failed);

    let (status, attempts) = get(api, key, &format!("/v1/deliveries/{id}/attempts")).await;
    assert_eq!(status, 200, "{attempts}");
    let attempts = attempts["data"].as_array().unwrap().clone();
    assert_eq!(
        attempts.len() as i64,
        failed["attempt_count"].as_i64().unwrap()
    );
    assert!(attempts.len() >= 2, "{attempts:?}");
    let numbers: Vec<i64> = attempts
        .iter()
        .map(|a| a["attempt_number"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = (1..=numbers.len() as i64).rev().collect();
    assert_eq!(numbers, expected, "newest first");
    for attempt in &attempts {
        assert!(attempt["id"].as_str().unwrap().starts_with("att_"));
        assert_eq!(attempt["delivery_id"], id);
        assert_eq!(attempt["status_code"], 503);
        assert!(attempt["duration_ms"].as_f64().unwrap() >= 0.0);
        assert!(attempt["started_at"].is_string());
        assert!(attempt["response_body"].is_string(), "{attempt}");
    }
    let (_, first_page) = get(api, key, &format!("/v1/deliveries/{id}/attempts?limit=1")).await;
    assert_eq!(
        ids(&first_page),
        [attempts[0]["id"].as_str().unwrap().to_owned()]
    );
    let cursor = first_page["next_cursor"].as_str().unwrap();
    let (_, second_page) = get(
        api,
        key,
        &format!("/v1/deliveries/{id}/attempts?limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(
        ids(&second_page),
        [attempts[1]["id"].as_str().unwrap().to_owned()]
    );

    let (status, _) = get(
        api,
        key,
        &format!("/v1/deliveries?endpoint_id={}", EndpointId::new()),
    )
    .await;
    assert_eq!(status, 404);
    let missing = DeliveryId::new();
    assert_eq!(
        get(api, key, &format!("/v1/deliveries/{missing}")).await.0,
        404
    );
    assert_eq!(
        get(api, key, &format!("/v1/deliveries/{missing}/attempts"))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn retrying_a_dead_lettered_delivery_delivers_it_again() {
    let stack = Stack::start().await;
    let (api, key) = (&stack.api, stack.key.as_str());
    stack.endpoint("/flaky", &["*"]).await;
    stack.sink.always(Reply::Status(500));
    let event = post_event_id(&stack.gateway, key, "order.created").await;
    let failed = wait_for_count(api, key, "/v1/deliveries?status=failed", 1).await;
    let delivery = &failed["data"][0];
    let id = delivery["id"].as_str().unwrap();
    let attempts_before = delivery["attempt_count"].as_u64().unwrap() as usize;
    assert_eq!(stack.sink.received().len(), attempts_before);

    stack.sink.always(Reply::Status(204));
    let (status, scheduled) = post(api, key, &format!("/v1/deliveries/{id}/retry"), None).await;
    assert_eq!(status, 202, "{scheduled}");
    assert_eq!(scheduled, json!({"scheduled": 1}));

    let received = stack
        .sink
        .wait_for(attempts_before + 1, Duration::from_secs(10))
        .await;
    assert_eq!(received.len(), attempts_before + 1);
    let retried = received.last().unwrap();
    assert_eq!(retried.header("webhook-id"), Some(event.as_str()));
    let succeeded = wait_for_count(api, key, "/v1/deliveries?status=succeeded", 1).await;
    assert_eq!(succeeded["data"][0]["id"], id);
    assert_eq!(succeeded["data"][0]["last_status_code"], 204);
    let (_, attempts) = get(api, key, &format!("/v1/deliveries/{id}/attempts")).await;
    assert_eq!(attempts["data"][0]["status_code"], 204, "{attempts}");
    assert_eq!(
        ids(&attempts).len(),
        attempts_before + 1,
        "earlier attempts are kept"
    );
    let numbers: Vec<u64> = attempts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["attempt_number"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (1..=attempts_before as u64 + 1).rev().collect();
    assert_eq!(
        numbers, expected,
        "numbered on from the earlier ones, newest first"
    );

    let (status, _) = post(
        api,
        key,
        &format!("/v1/deliveries/{}/retry", DeliveryId::new()),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, problem) = post(api, key, "/v1/deliveries/nope/retry", None).await;
    assert_eq!(status, 400);
    assert_eq!(error_fields(&problem), ["id"]);
}

#[tokio::test]
async fn bad_delivery_parameters_are_422_problems_and_malformed_ids_400_naming_them() {
    let gateway = spawn_gateway().await;
    let api = gateway
        .spawn_query_api_with(|c| c.dispatcher_grpc_url = NO_DISPATCHER.into())
        .await;
    let (_, key) = gateway.create_project_with_key("read").await;
    let some = DeliveryId::new();

    for (path, status_wanted, fields) in [
        ("/v1/deliveries?limit=0", 422, vec!["limit"]),
        ("/v1/deliveries?limit=100000", 422, vec!["limit"]),
        ("/v1/deliveries?cursor=garbage", 422, vec!["cursor"]),
        ("/v1/deliveries?status=wat", 422, vec!["status"]),
        (
            "/v1/deliveries?endpoint_id=garbage",
            422,
            vec!["endpoint_id"],
        ),
        (
            "/v1/deliveries?status=Failed&endpoint_id=ep_1",
            422,
            vec!["endpoint_id", "status"],
        ),
        ("/v1/deliveries/garbage", 400, vec!["id"]),
        (
            "/v1/deliveries/evt_0192f3a0c0de7abc8def0123456789ab/attempts",
            400,
            vec!["id"],
        ),
    ]
    .into_iter()
    .map(|(path, status, fields)| (path.to_owned(), status, fields))
    .chain([
        (
            format!("/v1/deliveries/{some}/attempts?limit=0"),
            422,
            vec!["limit"],
        ),
        (
            format!("/v1/deliveries/{some}/attempts?cursor=garbage"),
            422,
            vec!["cursor"],
        ),
    ]) {
        let (status, problem) = get(&api, &key, &path).await;
        assert_eq!(status, status_wanted, "{path}: {problem}");
        assert_eq!(error_fields(&problem), fields, "{path}: {problem}");
    }
    for (path, named) in [
        (
            "/v1/deliveries?since=2024-01-01T00:00:00Z".to_owned(),
            "since",
        ),
        (
            format!("/v1/deliveries/{some}/attempts?status=failed"),
            "status",
        ),
    ] {
        let (status, problem) = get(&api, &key, &path).await;
        assert_eq!(status, 422, "{path}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(named),
            "{problem}"
        );
    }
}
