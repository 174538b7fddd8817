//! Every event, delivery and attempt route is scoped to the caller's project
//! (another project's ids answer 404 and show none of its data) and checks
//! its scope (`read` for reads, `admin` for replay and retry).

use std::time::Duration;

use eventflow_test_support::TEST_ADMIN_TOKEN;
use serde_json::{Value, json};

use crate::events::{Stack, get, ids, post, post_event, post_event_id, wait_for_count};

/// A's event (with a payload marker), its delivery and endpoint, all delivered.
struct ProjectA {
    event: String,
    delivery: String,
    endpoint: String,
}

const MARKER: &str = "secret-of-project-a";

async fn project_a(stack: &Stack) -> ProjectA {
    let endpoint = stack.endpoint("/a", &["*"]).await.to_string();
    let accepted = post_event(
        &stack.gateway,
        &stack.key,
        "order.created",
        json!({"note": MARKER}),
    )
    .await;
    let page = wait_for_count(&stack.api, &stack.key, "/v1/deliveries?status=succeeded", 1).await;
    ProjectA {
        event: accepted["id"].as_str().expect("an id").to_owned(),
        delivery: ids(&page).remove(0),
        endpoint,
    }
}

fn assert_no_trace(a: &ProjectA, what: &str, body: &Value) {
    let text = body.to_string();
    for secret in [&a.event, &a.delivery, &a.endpoint, &MARKER.to_owned()] {
        assert!(
            !text.contains(secret.as_str()),
            "{what} shows {secret}: {text}"
        );
    }
}

#[tokio::test]
async fn another_projects_key_gets_404_on_every_route_and_sees_none_of_its_data() {
    let stack = Stack::stepped().await;
    let a = project_a(&stack).await;
    let (_, b_key) = stack
        .gateway
        .create_project_with_key("ingest,read,admin")
        .await;
    let b_event = post_event_id(&stack.gateway, &b_key, "order.created").await;
    let api = &stack.api;

    let reads = [
        format!("/v1/events/{}", a.event),
        format!("/v1/events/{}/deliveries", a.event),
        format!("/v1/deliveries/{}", a.delivery),
        format!("/v1/deliveries/{}/attempts", a.delivery),
        format!("/v1/events?endpoint_id={}", a.endpoint),
        format!("/v1/deliveries?endpoint_id={}", a.endpoint),
    ];
    for path in &reads {
        let (status, body) = get(api, &b_key, path).await;
        assert_eq!(status, 404, "GET {path}: {body}");
        assert_no_trace(&a, path, &body);
        // The owner reads the same path.
        assert_eq!(get(api, &stack.key, path).await.0, 200, "owner GET {path}");
    }
    let writes = [
        (format!("/v1/events/{}/replay", a.event), None),
        (format!("/v1/deliveries/{}/retry", a.delivery), None),
        // B's own event, to A's endpoint.
        (
            format!("/v1/events/{b_event}/replay"),
            Some(json!({"endpoint_ids": [a.endpoint]})),
        ),
    ];
    for (path, body) in writes {
        let (status, answer) = post(api, &b_key, &path, body).await;
        assert_eq!(status, 404, "POST {path}: {answer}");
        assert_no_trace(&a, &path, &answer);
    }

    for path in [
        "/v1/events",
        "/v1/events?type=*&include_payload=true",
        "/v1/events?status=succeeded",
        "/v1/deliveries",
        "/v1/deliveries?status=succeeded",
    ] {
        let (status, page) = get(api, &b_key, path).await;
        assert_eq!(status, 200, "{path}: {page}");
        assert_no_trace(&a, path, &page);
    }
    let (_, b_events) = get(api, &b_key, "/v1/events").await;
    assert_eq!(ids(&b_events), [b_event]);
    let (_, b_deliveries) = get(api, &b_key, "/v1/deliveries").await;
    assert!(
        ids(&b_deliveries).is_empty(),
        "B has no endpoints: {b_deliveries}"
    );

    assert_eq!(
        stack.deliver_due().await,
        0,
        "B's refused replays schedule nothing"
    );
    assert_eq!(
        stack.sink.received().len(),
        1,
        "B's refused replays sent nothing"
    );
}

#[tokio::test]
async fn every_route_checks_its_scope() {
    let stack = Stack::start().await;
    let a = project_a(&stack).await;
    let ingest = stack.gateway.create_key(stack.project, "ingest").await;
    let read = stack.gateway.create_key(stack.project, "read").await;
    let admin = stack.gateway.create_key(stack.project, "admin").await;
    let api = &stack.api;

    let reads = [
        "/v1/events".to_owned(),
        format!("/v1/events/{}", a.event),
        format!("/v1/events/{}/deliveries", a.event),
        "/v1/deliveries".to_owned(),
        format!("/v1/deliveries/{}", a.delivery),
        format!("/v1/deliveries/{}/attempts", a.delivery),
    ];
    for path in &reads {
        for (who, key) in [
            ("ingest", &ingest),
            ("admin", &admin),
            ("operator", &TEST_ADMIN_TOKEN.to_owned()),
        ] {
            let (status, body) = get(api, key, path).await;
            assert_eq!(status, 403, "{who} GET {path}: {body}");
            assert_no_trace(&a, path, &body);
        }
        let (status, _) = get(api, "not-a-key", path).await;
        assert_eq!(status, 401, "bad key GET {path}");
        let anonymous = api.client.get(api.url(path)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "no key GET {path}");
        assert_eq!(get(api, &read, path).await.0, 200, "read GET {path}");
    }

    let writes = [
        format!("/v1/events/{}/replay", a.event),
        format!("/v1/deliveries/{}/retry", a.delivery),
    ];
    for (sent, path) in (2..).zip(&writes) {
        for (who, key) in [("ingest", &ingest), ("read", &read)] {
            let (status, body) = post(api, key, path, None).await;
            assert_eq!(status, 403, "{who} POST {path}: {body}");
        }
        let (status, body) = post(api, &admin, path, None).await;
        assert_eq!(status, 202, "admin POST {path}: {body}");
        // The first delivery, then the replay, then the retry.
        let received = stack.sink.wait_for(sent, Duration::from_secs(10)).await;
        assert_eq!(received.len(), sent, "after POST {path}");
    }
}
