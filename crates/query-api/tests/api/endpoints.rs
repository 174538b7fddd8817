//! `/v1/endpoints`: CRUD, URL and filter validation, secrets and their
//! rotation, test sends and recovery (through a real dispatcher and webhook
//! sink), scopes and isolation between projects.

use std::time::Duration;

use eventflow_domain::{
    AddressPolicy, DeliveryId, EndpointId, EndpointSecret, EventId, format_rfc3339, verify,
};
use eventflow_store::DeliveryStatus;
use eventflow_test_support::{
    DispatcherConfig, Received, Reply, TEST_ADMIN_TOKEN, TestDispatcher, TestGateway, TestQueryApi,
    WITHIN, WebhookSink, eventually, spawn_gateway,
};
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::api_keys::{error_fields, send};

/// Nothing listens here: changes still succeed, and log that the cache
/// refresh failed.
const NO_DISPATCHER: &str = "http://127.0.0.1:1";

/// A query API whose refreshes go nowhere, allowing no private addresses.
async fn query_api(gateway: &TestGateway) -> TestQueryApi {
    gateway
        .spawn_query_api_with(|config| {
            config.dispatcher_grpc_url = NO_DISPATCHER.to_owned();
            config.service.database_pool_size = 2;
        })
        .await
}

/// A dispatcher and a query API that talks to it and accepts loopback URLs.
pub async fn delivering(gateway: &TestGateway) -> (TestDispatcher, TestQueryApi) {
    delivering_with(gateway, |_| {}).await
}

/// [`delivering`] with a dispatcher whose settings `adjust` changed.
pub async fn delivering_with(
    gateway: &TestGateway,
    adjust: impl FnOnce(&mut DispatcherConfig),
) -> (TestDispatcher, TestQueryApi) {
    // Small pools: six of these run at once against one PostgreSQL.
    let dispatcher = gateway
        .spawn_dispatcher_with(|config| {
            config.service.database_pool_size = 4;
            adjust(config);
        })
        .await;
    let grpc_url = format!("http://{}", dispatcher.grpc_addr);
    let api = gateway
        .spawn_query_api_with(|config| {
            config.dispatcher_grpc_url = grpc_url;
            config.service.database_pool_size = 2;
            config.endpoint_allow_nets =
                AddressPolicy::parse_allow_list("127.0.0.0/8").expect("allow list");
        })
        .await;
    (dispatcher, api)
}

pub async fn create(api: &TestQueryApi, key: &str, body: Value) -> Value {
    let (status, created) = send(api, Method::POST, "/v1/endpoints", key, Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created
}

pub fn verifies(request: &Received, secret: &str) -> bool {
    let secret = EndpointSecret::parse(secret).expect("a whsec_ secret");
    let timestamp: i64 = request
        .header("webhook-timestamp")
        .expect("webhook-timestamp")
        .parse()
        .expect("unix seconds");
    verify(
        &secret,
        request.header("webhook-id").expect("webhook-id"),
        timestamp,
        request.body.as_bytes(),
        request
            .header("webhook-signature")
            .expect("webhook-signature"),
    )
}

async fn delivery_status(
    gateway: &TestGateway,
    event_id: &str,
    endpoint_id: &str,
) -> Option<DeliveryStatus> {
    let id = DeliveryId::for_event_endpoint(
        EventId::parse(event_id).expect("an event id"),
        EndpointId::parse(endpoint_id).expect("an endpoint id"),
    );
    gateway
        .store
        .delivery_statuses(&[id])
        .await
        .expect("delivery statuses")
        .get(&id)
        .copied()
}

pub async fn post_event(gateway: &TestGateway, key: &str, event_type: &str) -> String {
    let response = gateway
        .post_event(key, &json!({"type": event_type, "payload": {"n": 1}}))
        .await;
    assert_eq!(response.status(), 202);
    response.json::<Value>().await.expect("a JSON answer")["id"]
        .as_str()
        .expect("an event id")
        .to_owned()
}

#[tokio::test]
async fn endpoints_are_created_read_listed_changed_and_deleted() {
    let gateway = spawn_gateway().await;
    let api = query_api(&gateway).await;
    let (project, key) = gateway.create_project_with_key("read,admin").await;

    let created = create(
        &api,
        &key,
        json!({
            "url": "https://example.com/hooks",
            "description": " orders ",
            "event_types": ["order.*", "invoice.paid", "order.*"],
            "payload_filter": {"field": "amount", "gt": 100},
            "headers": {"X-Tenant": "acme"},
            "rate_limit_per_second": 10,
            "max_concurrency": 4
        }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ep_"), "{created}");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["project_id"], project.to_string());
    assert_eq!(created["url"], "https://example.com/hooks");
    assert_eq!(created["description"], "orders");
    assert_eq!(created["event_types"], json!(["order.*", "invoice.paid"]));
    assert_eq!(created["payload_filter"]["field"], "amount");
    assert_eq!(created["headers"], json!({"x-tenant": "acme"}));
    assert_eq!(created["rate_limit_per_second"], 10);
    assert_eq!(created["max_concurrency"], 4);
    assert_eq!(created["enabled"], true);
    assert_eq!(created["paused"], false);
    let defaults = create(&api, &key, json!({"url": "https://example.org/in"})).await;
    assert_eq!(defaults["event_types"], json!(["*"]));
    assert_eq!(defaults["max_concurrency"], 16);
    assert!(defaults["payload_filter"].is_null());
    assert!(defaults["rate_limit_per_second"].is_null());

    let (status, read) = send(
        &api,
        Method::GET,
        &format!("/v1/endpoints/{id}"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(read.get("secret").is_none(), "{read}");
    assert_eq!(read["headers"], json!({"x-tenant": "acme"}));
    let (_, listed) = send(&api, Method::GET, "/v1/endpoints", &key, None).await;
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [defaults["id"].as_str().unwrap(), id.as_str()],
        "newest first"
    );
    assert!(!listed.to_string().contains("whsec_"));
    let (_, first) = send(&api, Method::GET, "/v1/endpoints?limit=1", &key, None).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = send(
        &api,
        Method::GET,
        &format!("/v1/endpoints?limit=1&cursor={cursor}"),
        &key,
        None,
    )
    .await;
    assert_eq!(second["data"][0]["id"], id);
    assert!(second["next_cursor"].is_null());

    let (status, changed) = send(
        &api,
        Method::PATCH,
        &format!("/v1/endpoints/{id}"),
        &key,
        Some(json!({
            "url": "https://hooks.example.com/v2",
            "description": null,
            "payload_filter": null,
            "rate_limit_per_second": null,
            "headers": {"Authorization": "Bearer abc"},
            "max_concurrency": 8,
            "enabled": false
        })),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["url"], "https://hooks.example.com/v2");
    assert_eq!(changed["description"], "");
    assert!(changed["payload_filter"].is_null());
    assert!(changed["rate_limit_per_second"].is_null());
    assert_eq!(changed["headers"], json!({"authorization": "Bearer abc"}));
    assert_eq!(changed["max_concurrency"], 8);
    assert_eq!(changed["event_types"], json!(["order.*", "invoice.paid"]));
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["disabled_reason"], "disabled by user");

    let (_, enabled) = send(
        &api,
        Method::PATCH,
        &format!("/v1/endpoints/{id}"),
        &key,
        Some(json!({"enabled": true, "paused": true})),
    )
    .await;
    assert_eq!(enabled["enabled"], true);
    assert!(enabled["disabled_reason"].is_null());
    assert_eq!(enabled["paused"], true);
    assert_eq!(enabled["url"], "https://hooks.example.com/v2");

    let (status, _) = send(
        &api,
        Method::DELETE,
        &format!("/v1/endpoints/{id}"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, 204);
    for method in [Method::GET, Method::DELETE] {
        let (status, _) = send(&api, method, &format!("/v1/endpoints/{id}"), &key, None).await;
        assert_eq!(status, 404);
    }
}

#[tokio::test]
async fn unsafe_or_malformed_urls_are_refused_naming_url() {
    let gateway = spawn_gateway().await;
    let api = query_api(&gateway).await;
    let (_, key) = gateway.create_project_with_key("read,admin").await;
    let existing = create(&api, &key, json!({"url": "https://example.com/in"})).await;
    let path = format!("/v1/endpoints/{}", existing["id"].as_str().unwrap());

    for url in [
        "ftp://example.com/hooks",
        "https://user:pw@example.com/hooks",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost/",
        "http://127.0.0.1:9000/",
        "http://[::1]/",
        "http://0x7f000001/",
        "example.com/hooks",
        "",
    ] {
        let (status, problem) = send(
            &api,
            Method::POST,
            "/v1/endpoints",
            &key,
            Some(json!({"url": url})),
        )
        .await;
        assert_eq!(status, 422, "{url}: {problem}");
        assert_eq!(error_fields(&problem), ["url"], "{url}");
        let (status, problem) =
            send(&api, Method::PATCH, &path, &key, Some(json!({"url": url}))).await;
        assert_eq!(status, 422, "{url}: {problem}");
        assert_eq!(error_fields(&problem), ["url"], "{url}");
    }
    let (_, listed) = send(&api, Method::GET, "/v1/endpoints", &key, None).await;
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        1,
        "nothing else written"
    );
    assert_eq!(listed["data"][0]["url"], "https://example.com/in");
}

#[tokio::test]
async fn bad_filters_headers_and_limits_are_refused_naming_each_field() {
    let gateway = spawn_gateway().await;
    let api = query_api(&gateway).await;
    let (_, key) = gateway.create_project_with_key("read,admin").await;
    let url = "https://example.com/in";

    let cases = [
        (json!({"url": url, "event_types": []}), "event_types"),
        (
            json!({"url": url, "event_types": ["order created"]}),
            "event_types",
        ),
        (
            json!({"url": url, "event_types": ["order.*.paid"]}),
            "event_types",
        ),
        (
            json!({"url": url, "payload_filter": {"field": "a", "like": 1}}),
            "payload_filter",
        ),
        (
            json!({"url": url, "payload_filter": [1, 2]}),
            "payload_filter",
        ),
        (
            json!({"url": url, "headers": {"webhook-signature": "v1,x"}}),
            "headers",
        ),
        (
            json!({"url": url, "headers": {"Content-Type": "text/plain"}}),
            "headers",
        ),
        (
            json!({"url": url, "headers": {"Host": "internal"}}),
            "headers",
        ),
        (json!({"url": url, "headers": {"x-n": 5}}), "headers"),
        (json!({"url": url, "headers": ["x"]}), "headers"),
        (json!({"url": url, "max_concurrency": 0}), "max_concurrency"),
        (
            json!({"url": url, "max_concurrency": 1001}),
            "max_concurrency",
        ),
        (
            json!({"url": url, "rate_limit_per_second": 0}),
            "rate_limit_per_second",
        ),
        (
            json!({"url": url, "description": "d".repeat(1001)}),
            "description",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = send(
            &api,
            Method::POST,
            "/v1/endpoints",
            &key,
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(error_fields(&problem), [field], "{body}");
        assert_eq!(problem["type"], "https://eventflow.dev/problems/validation");
    }

    let (status, problem) = send(
        &api,
        Method::POST,
        "/v1/endpoints",
        &key,
        Some(json!({
            "url": "ftp://x",
            "event_types": [],
            "payload_filter": {"nope": 1},
            "headers": {"webhook-id": "x"},
            "max_concurrency": 0
        })),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        error_fields(&problem),
        [
            "url",
            "event_types",
            "payload_filter",
            "headers",
            "max_concurrency"
        ]
    );
    let (status, _) = send(
        &api,
        Method::POST,
        "/v1/endpoints",
        &key,
        Some(json!({"url": url, "colour": "blue"})),
    )
    .await;
    assert_eq!(status, 422, "unknown fields are refused");

    let existing = create(&api, &key, json!({"url": url, "event_types": ["order.*"]})).await;
    let path = format!("/v1/endpoints/{}", existing["id"].as_str().unwrap());
    let (status, problem) = send(
        &api,
        Method::PATCH,
        &path,
        &key,
        Some(json!({"event_types": ["*"], "payload_filter": {"field": "a"}})),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(error_fields(&problem), ["payload_filter"]);
    let (_, unchanged) = send(&api, Method::GET, &path, &key, None).await;
    assert_eq!(
        unchanged["event_types"],
        json!(["order.*"]),
        "no partial write"
    );
}

#[tokio::test]
async fn bad_list_parameters_are_a_422() {
    let gateway = spawn_gateway().await;
    let api = query_api(&gateway).await;
    let (_, key) = gateway.create_project_with_key("read").await;
    for query in [
        "limit=0",
        "limit=501",
        "limit=ten",
        "cursor=not-a-cursor",
        "limit=-1",
    ] {
        let (status, problem) = send(
            &api,
            Method::GET,
            &format!("/v1/endpoints?{query}"),
            &key,
            None,
        )
        .await;
        assert_eq!(status, 422, "{query}: {problem}");
    }
}

#[tokio::test]
async fn another_projects_key_gets_404_on_every_endpoint_route() {
    let gateway = spawn_gateway().await;
    let api = query_api(&gateway).await;
    let (_, key_a) = gateway.create_project_with_key("read,admin").await;
    let (_, key_b) = gateway.create_project_with_key("read,admin").await;
    let created = create(&api, &key_a, json!({"url": "https://example.com/a"})).await;
    let id = created["id"].as_str().unwrap();

    let routes = [
        (Method::GET, format!("/v1/endpoints/{id}"), None),
        (
            Method::PATCH,
            format!("/v1/endpoints/{id}"),
            Some(json!({"enabled": false})),
        ),
        (Method::DELETE, format!("/v1/endpoints/{id}"), None),
        (Method::GET, format!("/v1/endpoints/{id}/secret"), None),
        (
            Method::POST,
            format!("/v1/endpoints/{id}/secret/rotate"),
            None,
        ),
        (Method::POST, format!("/v1/endpoints/{id}/test"), None),
        (
            Method::POST,
            format!("/v1/endpoints/{id}/recover"),
            Some(json!({"since": "2024-01-01T00:00:00Z"})),
        ),
    ];
    for (method, path, body) in &routes {
        let (status, problem) = send(&api, method.clone(), path, &key_b, body.clone()).await;
        assert_eq!(status, 404, "{method} {path}: {problem}");
        let malformed = path.replace(id, "ep_123");
        let (status, problem) = send(&api, method.clone(), &malformed, &key_b, body.clone()).await;
        assert_eq!(status, 400, "{method} {malformed}: {problem}");
        assert_eq!(error_fields(&problem), ["id"]);
    }
    let (_, listed) = send(&api, Method::GET, "/v1/endpoints", &key_b, None).await;
    assert_eq!(listed["data"], json!([]));

    let (status, secret) = send(
        &api,
        Method::GET,
        &format!("/v1/endpoints/{id}/secret"),
        &key_a,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        secret["secret"], created["secret"],
        "untouched by project B"
    );
    let (_, still) = send(
        &api,
        Method::GET,
        &format!("/v1/endpoints/{id}"),
        &key_a,
        None,
    )
    .await;
    assert_eq!(still["enabled"], true);
}

#[tokio::test]
async fn reads_need_the_read_scope_and_changes_the_admin_scope() {
    let gateway = spawn_gateway().await;
    let api = query_api(&gateway).await;
    let (project, admin) = gateway.create_project_with_key("read,admin").await;
    let read = gateway.create_key(project, "read").await;
    let admin_only = gateway.create_key(project, "admin").await;
    let created = create(
        &api,
        &admin,
        json!({"url": "https://example.com/a", "headers": {"authorization": "Bearer s3cret"}}),
    )
    .await;
    let id = created["id"].as_str().unwrap();

    let writes = [
        (
            Method::POST,
            "/v1/endpoints".to_owned(),
            Some(json!({"url": "https://example.com/b"})),
        ),
        (
            Method::PATCH,
            format!("/v1/endpoints/{id}"),
            Some(json!({"enabled": false})),
        ),
        (Method::DELETE, format!("/v1/endpoints/{id}"), None),
        (Method::GET, format!("/v1/endpoints/{id}/secret"), None),
        (
            Method::POST,
            format!("/v1/endpoints/{id}/secret/rotate"),
            None,
        ),
        (Method::POST, format!("/v1/endpoints/{id}/test"), None),
        (
            Method::POST,
            format!("/v1/endpoints/{id}/recover"),
            Some(json!({"since": "2024-01-01T00:00:00Z"})),
        ),
    ];
    for (method, path, body) in &writes {
        let (status, problem) = send(&api, method.clone(), path, &read, body.clone()).await;
        assert_eq!(status, 403, "{method} {path}: {problem}");
    }
    for path in ["/v1/endpoints".to_owned(), format!("/v1/endpoints/{id}")] {
        let (status, _) = send(&api, Method::GET, &path, &admin_only, None).await;
        assert_eq!(status, 403, "admin does not imply read: {path}");
        let (status, _) = send(&api, Method::GET, &path, TEST_ADMIN_TOKEN, None).await;
        assert_eq!(status, 403, "the operator reads no project's data: {path}");
        let response = api.client.get(api.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 401);
    }

    let (status, seen) = send(
        &api,
        Method::GET,
        &format!("/v1/endpoints/{id}"),
        &read,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(seen["headers"], json!({"authorization": "[redacted]"}));
    assert!(!seen.to_string().contains("s3cret"));
    let (_, seen) = send(
        &api,
        Method::GET,
        &format!("/v1/endpoints/{id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(seen["headers"], json!({"authorization": "Bearer s3cret"}));
}

#[tokio::test]
async fn a_test_send_reaches_its_endpoint_signed_whatever_its_filters() {
    let gateway = spawn_gateway().await;
    let (_dispatcher, api) = delivering(&gateway).await;
    let sink = WebhookSink::start().await;
    let (_, key) = gateway.create_project_with_key("read,admin").await;
    let target = create(
        &api,
        &key,
        json!({"url": sink.url("/target"), "event_types": ["order.*"], "headers": {"x-tenant": "acme"}}),
    )
    .await;
    let target_id = target["id"].as_str().unwrap();

    let (status, sent) = send(
        &api,
        Method::POST,
        &format!("/v1/endpoints/{target_id}/test"),
        &key,
        None,
    )
    .await;

    assert_eq!(status, 202, "{sent}");
    let event_id = sent["event_id"].as_str().unwrap();
    assert!(event_id.starts_with("evt_"));
    let received = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1, "{received:?}");
    let request = &received[0];
    assert_eq!(request.path, "/target");
    assert_eq!(request.header("webhook-id"), Some(event_id));
    assert_eq!(request.header("x-tenant"), Some("acme"));
    let body = request.json();
    assert_eq!(body["type"], "eventflow.test");
    assert_eq!(
        body["data"],
        json!({"test": true, "endpoint_id": target_id})
    );
    assert!(verifies(request, target["secret"].as_str().unwrap()));

    let (_, paused) = send(
        &api,
        Method::PATCH,
        &format!("/v1/endpoints/{target_id}"),
        &key,
        Some(json!({"paused": true})),
    )
    .await;
    assert_eq!(paused["paused"], true);
    let (status, _) = send(
        &api,
        Method::POST,
        &format!("/v1/endpoints/{target_id}/test"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, 409, "a paused endpoint would hold the test");
}

#[tokio::test]
async fn a_test_send_reaches_no_other_endpoint() {
    let gateway = spawn_gateway().await;
    // No grace: a recovery step looks at every event the stream handled.
    let (dispatcher, api) =
        delivering_with(&gateway, |config| config.recovery_grace = Duration::ZERO).await;
    let sink = WebhookSink::start().await;
    let (_, key) = gateway.create_project_with_key("read,admin").await;
    let target = create(&api, &key, json!({"url": sink.url("/target")})).await;
    let _bystander = create(&api, &key, json!({"url": sink.url("/bystander")})).await;

    let (status, _) = send(
        &api,
        Method::POST,
        &format!("/v1/endpoints/{}/test", target["id"].as_str().unwrap()),
        &key,
        None,
    )
    .await;

    assert_eq!(status, 202);
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).await.len(), 1);
    // Recovery looks at the event (whatever it re-publishes for it is then
    // on the stream), and the stream is drained: by now every way the event
    // could take to the bystander has been taken.
    gateway.wait_until_stream_drained().await;
    dispatcher
        .steps
        .recover_once()
        .await
        .expect("a recovery step");
    gateway.wait_until_stream_drained().await;
    let paths: Vec<String> = sink.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/target"]);
}

#[tokio::test]
async fn during_the_grace_period_old_and_new_secrets_both_verify_a_delivery() {
    let gateway = spawn_gateway().await;
    let (_dispatcher, api) = delivering(&gateway).await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("read,admin").await;
    let ingest = gateway.create_key(project, "ingest").await;
    let created = create(&api, &key, json!({"url": sink.url("/hooks")})).await;
    let id = created["id"].as_str().unwrap();
    let original = created["secret"].as_str().unwrap().to_owned();

    let before = OffsetDateTime::now_utc();
    let (status, rotated) = send(
        &api,
        Method::POST,
        &format!("/v1/endpoints/{id}/secret/rotate"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let current = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(current, original);
    assert_eq!(rotated["previous_secret"], original.as_str());
    let expires = OffsetDateTime::parse(
        rotated["previous_secret_expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let grace = expires - before;
    assert!(
        grace > time::Duration::hours(24) - time::Duration::minutes(1)
            && grace <= time::Duration::hours(24) + time::Duration::minutes(1),
        "{grace}"
    );
    let (_, shown) = send(
        &api,
        Method::GET,
        &format!("/v1/endpoints/{id}/secret"),
        &key,
        None,
    )
    .await;
    assert_eq!(shown, rotated);

    post_event(&gateway, &ingest, "order.created").await;
    let received = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    let signatures = received[0].header("webhook-signature").unwrap();
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    assert!(verifies(&received[0], &current), "the new secret verifies");
    assert!(
        verifies(&received[0], &original),
        "the old secret still verifies"
    );

    let (status, without_grace) = send(
        &api,
        Method::POST,
        &format!("/v1/endpoints/{id}/secret/rotate"),
        &key,
        Some(json!({"grace_period_seconds": 0})),
    )
    .await;
    assert_eq!(status, 200);
    let newest = without_grace["secret"].as_str().unwrap().to_owned();
    assert!(
        without_grace.get("previous_secret").is_none(),
        "{without_grace}"
    );
    post_event(&gateway, &ingest, "order.created").await;
    let received = sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 2);
    assert!(verifies(&received[1], &newest));
    assert!(
        !verifies(&received[1], &current),
        "no grace: the old secret stops"
    );

    for body in [
        json!({"grace_period_seconds": 604_801}),
        json!({"grace_period_seconds": -1}),
        json!({"grace": 10}),
    ] {
        let (status, problem) = send(
            &api,
            Method::POST,
            &format!("/v1/endpoints/{id}/secret/rotate"),
            &key,
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body}: {problem}");
    }
}

#[tokio::test]
async fn recovering_an_endpoint_resends_its_dead_lettered_deliveries() {
    let gateway = spawn_gateway().await;
    let (_dispatcher, api) = delivering(&gateway).await;
    let sink = WebhookSink::start().await;
    sink.always(Reply::Status(500));
    let (project, key) = gateway.create_project_with_key("read,admin").await;
    let ingest = gateway.create_key(project, "ingest").await;
    let created = create(&api, &key, json!({"url": sink.url("/hooks")})).await;
    let endpoint_id = created["id"].as_str().unwrap();
    let since = format_rfc3339(OffsetDateTime::now_utc() - time::Duration::minutes(1));

    let event_id = post_event(&gateway, &ingest, "order.created").await;
    eventually(
        "the delivery dead-lettered after the schedule",
        WITHIN,
        || async {
            delivery_status(&gateway, &event_id, endpoint_id).await == Some(DeliveryStatus::Failed)
        },
    )
    .await;
    let attempts_before = sink.received().len();
    sink.always(Reply::Status(200));

    let (status, problem) = send(
        &api,
        Method::POST,
        &format!("/v1/endpoints/{endpoint_id}/recover"),
        &key,
        Some(json!({"since": "yesterday"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(error_fields(&problem), ["since"]);
    let (status, scheduled) = send(
        &api,
        Method::POST,
        &format!("/v1/endpoints/{endpoint_id}/recover"),
        &key,
        Some(json!({"since": since})),
    )
    .await;

    assert_eq!(status, 202, "{scheduled}");
    assert_eq!(scheduled["scheduled"], 1);
    let received = sink
        .wait_for(attempts_before + 1, Duration::from_secs(10))
        .await;
    assert_eq!(received.len(), attempts_before + 1);
    assert_eq!(
        received.last().unwrap().header("webhook-id"),
        Some(event_id.as_str())
    );
    eventually("the recovered delivery to succeed", WITHIN, || async {
        delivery_status(&gateway, &event_id, endpoint_id).await == Some(DeliveryStatus::Succeeded)
    })
    .await;
}

#[tokio::test]
async fn pausing_holds_deliveries_and_unpausing_releases_them() {
    let gateway = spawn_gateway().await;
    let (_dispatcher, api) = delivering(&gateway).await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("read,admin").await;
    let ingest = gateway.create_key(project, "ingest").await;
    let created = create(&api, &key, json!({"url": sink.url("/hooks")})).await;
    let path = format!("/v1/endpoints/{}", created["id"].as_str().unwrap());

    let (status, _) = send(
        &api,
        Method::PATCH,
        &path,
        &key,
        Some(json!({"paused": true})),
    )
    .await;
    assert_eq!(status, 200);
    let held = post_event(&gateway, &ingest, "order.created").await;
    let status = eventually("the held delivery to be recorded", WITHIN, || async {
        delivery_status(&gateway, &held, created["id"].as_str().unwrap()).await
    })
    .await;
    assert_eq!(status, DeliveryStatus::Pending, "held, not dropped");
    assert!(sink.received().is_empty());

    let (status, _) = send(
        &api,
        Method::PATCH,
        &path,
        &key,
        Some(json!({"paused": false})),
    )
    .await;
    assert_eq!(status, 200);
    let received = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].header("webhook-id"), Some(held.as_str()));

    // Disabling says why; enabling again forgets it and delivers new events.
    let (_, disabled) = send(
        &api,
        Method::PATCH,
        &path,
        &key,
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(disabled["enabled"], false);
    assert_eq!(disabled["disabled_reason"], "disabled by user");
    let (_, enabled) = send(
        &api,
        Method::PATCH,
        &path,
        &key,
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(enabled["enabled"], true);
    assert!(enabled["disabled_reason"].is_null());
    let delivered = post_event(&gateway, &ingest, "order.created").await;
    let received = sink.wait_for(2, Duration::from_secs(10)).await;
    let ids: Vec<&str> = received
        .iter()
        .filter_map(|r| r.header("webhook-id"))
        .collect();
    assert_eq!(ids, [held.as_str(), delivered.as_str()]);
}

#[tokio::test]
async fn the_openapi_document_describes_keys_and_endpoints() {
    let gateway = spawn_gateway().await;
    let api = query_api(&gateway).await;
    let document: Value = api
        .client
        .get(api.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = &document["paths"];
    for (path, method) in [
        ("/v1/api-keys", "post"),
        ("/v1/api-keys", "get"),
        ("/v1/api-keys/{id}", "delete"),
        ("/v1/endpoints", "post"),
        ("/v1/endpoints/{id}", "patch"),
        ("/v1/endpoints/{id}/secret", "get"),
        ("/v1/endpoints/{id}/secret/rotate", "post"),
        ("/v1/endpoints/{id}/test", "post"),
        ("/v1/endpoints/{id}/recover", "post"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path}");
    }
    let schemas = &document["components"]["schemas"];
    assert!(schemas["EndpointIn"].is_object(), "{schemas}");
    assert!(schemas["CreatedApiKeyOut"].is_object(), "{schemas}");
}
