//! Issue #9, item 6: a configurable cap on endpoints per project that
//! concurrent creations cannot pass, and `GET /v1/events/{id}/deliveries`
//! paginated like the other lists.

use std::collections::BTreeSet;

use eventflow_test_support::spawn_gateway;
use reqwest::Method;
use serde_json::json;

use crate::api_keys::send;
use crate::events::{Stack, get, ids, post_event_id, wait_for_count};

#[tokio::test]
async fn concurrent_creations_never_pass_the_endpoint_cap_and_the_one_over_gets_a_409() {
    let gateway = spawn_gateway().await;
    let api = gateway
        .spawn_query_api_with(|config| {
            config.dispatcher_grpc_url = "http://127.0.0.1:1".to_owned();
            config.max_endpoints_per_project = 5;
        })
        .await;
    let (_, key) = gateway.create_project_with_key("admin,read").await;
    let (_, other_key) = gateway.create_project_with_key("admin,read").await;
    let api = std::sync::Arc::new(api);

    let mut creations = tokio::task::JoinSet::new();
    for n in 0..20 {
        let (api, key) = (api.clone(), key.clone());
        creations.spawn(async move {
            let body = json!({"url": format!("https://example.com/hooks/{n}")});
            send(&api, Method::POST, "/v1/endpoints", &key, Some(body)).await
        });
    }
    let (mut created, mut refused) = (0, 0);
    while let Some(joined) = creations.join_next().await {
        let (status, body) = joined.unwrap();
        match status {
            201 => created += 1,
            409 => {
                refused += 1;
                let detail = body["detail"].as_str().unwrap();
                assert!(detail.contains("at most 5 endpoints"), "{detail}");
                assert_eq!(body["status"], 409);
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }

    assert_eq!((created, refused), (5, 15));
    let (_, listed) = get(&api, &key, "/v1/endpoints").await;
    assert_eq!(ids(&listed).len(), 5);
    // Another project's cap is its own.
    let (status, body) = send(
        &api,
        Method::POST,
        "/v1/endpoints",
        &other_key,
        Some(json!({"url": "https://example.com/other"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // Deleting one makes room for one.
    let first = ids(&listed)[0].clone();
    let (status, _) = send(
        &api,
        Method::DELETE,
        &format!("/v1/endpoints/{first}"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = send(
        &api,
        Method::POST,
        "/v1/endpoints",
        &key,
        Some(json!({"url": "https://example.com/again"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn an_events_deliveries_are_listed_a_page_at_a_time_with_a_cursor() {
    let stack = Stack::start().await;
    let (api, key) = (&stack.api, stack.key.as_str());
    for n in 0..5 {
        stack.endpoint(&format!("/hooks/{n}"), &["*"]).await;
    }
    let event = post_event_id(&stack.gateway, key, "order.created").await;
    let path = format!("/v1/events/{event}/deliveries");
    let everything = wait_for_count(api, key, &path, 5).await;
    assert!(everything["next_cursor"].is_null(), "{everything}");

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page_path = match &cursor {
            Some(cursor) => format!("{path}?limit=2&cursor={cursor}"),
            None => format!("{path}?limit=2"),
        };
        let (status, page) = get(api, key, &page_path).await;
        assert_eq!(status, 200, "{page}");
        assert!(ids(&page).len() <= 2);
        seen.extend(ids(&page));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }

    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        ids(&everything),
        "pages follow the order of the whole list"
    );
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 5);
    for bad in ["limit=0", "limit=100000", "cursor=not-a-cursor"] {
        let (status, problem) = get(api, key, &format!("{path}?{bad}")).await;
        assert_eq!(status, 422, "{bad}: {problem}");
    }
}
