//! `/v1/events`: search by type (wildcards), reception time and delivery
//! state; pagination while events keep arriving; an event with its payload
//! and deliveries; replay seen at a real receiver; bad parameters.
//!
//! Also the helpers the deliveries, isolation and gRPC tests share: a stack
//! of gateway, dispatcher, webhook sink and query API.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use eventflow_domain::{EndpointId, ProjectId};
use eventflow_runtime::internal_auth::InternalToken;
use eventflow_test_support::{
    Reply, TestDispatcher, TestGateway, TestQueryApi, WITHIN, WebhookSink, eventually,
    spawn_gateway,
};
use serde_json::{Value, json};

/// Where no dispatcher listens.
pub const NO_DISPATCHER: &str = "http://127.0.0.1:1";

/// A gateway, a dispatcher delivering to loopback, a webhook sink and a query
/// API that talks to the dispatcher; project `a` with a key of every scope.
pub struct Stack {
    pub gateway: TestGateway,
    pub api: TestQueryApi,
    pub sink: WebhookSink,
    pub project: ProjectId,
    /// `ingest,read,admin`.
    pub key: String,
    dispatcher: TestDispatcher,
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(TestGateway::spawn_dispatcher).await
    }

    /// A stack whose dispatcher takes due deliveries (replays, retries)
    /// only in the test's steps ([`Stack::deliver_due`]).
    pub async fn stepped() -> Self {
        Self::start_with(TestGateway::spawn_stepped_dispatcher).await
    }

    async fn start_with(
        spawn_dispatcher: impl AsyncFnOnce(&TestGateway) -> TestDispatcher,
    ) -> Self {
        let gateway = spawn_gateway().await;
        let dispatcher = spawn_dispatcher(&gateway).await;
        let grpc_url = format!("http://{}", dispatcher.grpc_addr);
        let api = gateway
            .spawn_query_api_with(|config| config.dispatcher_grpc_url = grpc_url)
            .await;
        let sink = WebhookSink::start().await;
        let (project, key) = gateway.create_project_with_key("ingest,read,admin").await;
        Self {
            gateway,
            api,
            sink,
            project,
            key,
            dispatcher,
        }
    }

    /// Takes one step of the dispatcher's due-delivery loop; returns how
    /// many deliveries it started.
    pub async fn deliver_due(&self) -> usize {
        self.dispatcher
            .steps
            .deliver_due_batch()
            .await
            .expect("due deliveries are read")
    }

    /// Creates an endpoint of the project delivering to `path` on the sink.
    pub async fn endpoint(&self, path: &str, event_types: &[&str]) -> EndpointId {
        self.gateway
            .create_endpoint(self.project, &self.sink.url(path), event_types)
            .await
            .id
    }
}

/// GETs `path` with the key; returns the status and the JSON body.
pub async fn get(api: &TestQueryApi, key: &str, path: &str) -> (u16, Value) {
    let response = api
        .client
        .get(api.url(path))
        .bearer_auth(key)
        .send()
        .await
        .expect("query-api answers");
    read(response).await
}

/// POSTs `body` (none: an empty body) to `path` with the key.
pub async fn post(api: &TestQueryApi, key: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = api.client.post(api.url(path)).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    read(request.send().await.expect("query-api answers")).await
}

async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let problem = response
        .headers()
        .get("content-type")
        .is_some_and(|value| value == "application/problem+json");
    let text = response.text().await.expect("a body");
    if status >= 400 {
        assert!(problem, "{status} without problem+json: {text}");
    }
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON body: {text}"))
    };
    (status, body)
}

/// Posts an event of `event_type` with `payload`; returns the gateway's answer.
pub async fn post_event(
    gateway: &TestGateway,
    key: &str,
    event_type: &str,
    payload: Value,
) -> Value {
    let response = gateway
        .post_event(key, &json!({"type": event_type, "payload": payload}))
        .await;
    assert_eq!(response.status(), 202);
    response.json().await.expect("the gateway's answer")
}

/// Posts an event and returns its id.
pub async fn post_event_id(gateway: &TestGateway, key: &str, event_type: &str) -> String {
    let accepted = post_event(gateway, key, event_type, json!({"kind": event_type})).await;
    accepted["id"].as_str().expect("an id").to_owned()
}

/// The `id` of each item of a page.
pub fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a page: {page}"))
        .iter()
        .map(|item| item["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// The fields a validation problem names.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("a validation problem: {problem}"))
        .iter()
        .map(|e| e["field"].as_str().expect("a field").to_owned())
        .collect()
}

/// Waits until `path` lists `count` items (or fails after 20 s); returns the page.
pub async fn wait_for_count(api: &TestQueryApi, key: &str, path: &str, count: usize) -> Value {
    let what = format!("{path} to list {count}");
    eventually(&what, Duration::from_secs(20), || async {
        let (status, page) = get(api, key, path).await;
        assert_eq!(status, 200, "{page}");
        (ids(&page).len() == count).then_some(page)
    })
    .await
}

#[tokio::test]
async fn events_are_listed_newest_first_and_filtered_by_exact_type_or_prefix() {
    let gateway = spawn_gateway().await;
    let api = gateway
        .spawn_query_api_with(|c| c.dispatcher_grpc_url = NO_DISPATCHER.into())
        .await;
    let (_, key) = gateway.create_project_with_key("ingest,read").await;
    let types = [
        "order.created",
        "order.paid",
        "order.item.added",
        "orders.created",
        "order",
        "invoice.paid",
        "a_b.created",
        "axb.created",
    ];
    let mut posted = Vec::new();
    for event_type in types {
        posted.push(post_event_id(&gateway, &key, event_type).await);
    }
    let newest_first: Vec<String> = posted.iter().rev().cloned().collect();
    let of = |wanted: &[&str]| -> Vec<String> {
        types
            .iter()
            .zip(&posted)
            .rev()
            .filter(|(t, _)| wanted.contains(t))
            .map(|(_, id)| id.clone())
            .collect()
    };

    let (status, all) = get(&api, &key, "/v1/events").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(ids(&all), newest_first);
    assert_eq!(all["next_cursor"], Value::Null);
    assert_eq!(all["data"][0]["type"], "axb.created");
    assert!(all["data"][0]["occurred_at"].is_string());
    assert!(all["data"][0]["received_at"].is_string());
    assert!(all["data"][0].get("payload").is_none(), "lean by default");

    for (filter, expected) in [
        ("*", of(&types)),
        (
            "order.*",
            of(&["order.created", "order.paid", "order.item.added"]),
        ),
        ("order.paid", of(&["order.paid"])),
        ("order", of(&["order"])),
        // `_` is a LIKE wildcard: it must match itself only.
        ("a_b.*", of(&["a_b.created"])),
        ("nothing.*", Vec::new()),
    ] {
        let (status, page) = get(&api, &key, &format!("/v1/events?type={filter}")).await;
        assert_eq!(status, 200, "{filter}: {page}");
        assert_eq!(ids(&page), expected, "type={filter}");
    }

    let (_, with_payload) = get(
        &api,
        &key,
        "/v1/events?type=invoice.paid&include_payload=true",
    )
    .await;
    assert_eq!(
        with_payload["data"][0]["payload"],
        json!({"kind": "invoice.paid"})
    );
}

#[tokio::test]
async fn since_and_until_select_events_by_reception_time() {
    let gateway = spawn_gateway().await;
    let api = gateway
        .spawn_query_api_with(|c| c.dispatcher_grpc_url = NO_DISPATCHER.into())
        .await;
    let (_, key) = gateway.create_project_with_key("ingest,read").await;
    let mut accepted = Vec::new();
    for n in 0..3 {
        accepted.push(post_event(&gateway, &key, "tick", json!({"n": n})).await);
        // What is under test is selection by reception time: the events
        // must be received at distinct times.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let id = |i: usize| accepted[i]["id"].as_str().unwrap().to_owned();
    let at = |i: usize| accepted[i]["received_at"].as_str().unwrap().to_owned();

    let search = |query: Vec<(&'static str, String)>| {
        let query: Vec<String> = query
            .into_iter()
            .map(|(name, value)| format!("{name}={}", value.replace('+', "%2B")))
            .collect();
        let (api, key) = (&api, &key);
        async move { get(api, key, &format!("/v1/events?{}", query.join("&"))).await }
    };

    let (status, middle) = search(vec![("since", at(1)), ("until", at(2))]).await;
    assert_eq!(status, 200, "{middle}");
    assert_eq!(ids(&middle), [id(1)]);
    let (_, from_second) = search(vec![("since", at(1))]).await;
    assert_eq!(ids(&from_second), [id(2), id(1)]);
    let (_, before_second) = search(vec![("until", at(1))]).await;
    assert_eq!(ids(&before_second), [id(0)]);
    let (_, future) = search(vec![("since", "2999-01-01T00:00:00Z".to_owned())]).await;
    assert!(ids(&future).is_empty());
    // Offsets other than Z are the same instant.
    let (_, everything) = search(vec![("since", "1970-01-01T01:00:00+01:00".to_owned())]).await;
    assert_eq!(ids(&everything).len(), 3);

    let (status, problem) = search(vec![("since", at(2)), ("until", at(1))]).await;
    assert_eq!(status, 422);
    assert_eq!(error_fields(&problem), ["until"]);
}

#[tokio::test]
async fn status_and_endpoint_filters_select_events_by_their_deliveries() {
    let stack = Stack::start().await;
    let (api, key) = (&stack.api, stack.key.as_str());
    let everything = stack.endpoint("/all", &["*"]).await;
    let orders = stack.endpoint("/orders", &["order.*"]).await;
    let order = post_event_id(&stack.gateway, key, "order.created").await;
    let invoice = post_event_id(&stack.gateway, key, "invoice.paid").await;
    wait_for_count(api, key, "/v1/deliveries?status=succeeded", 3).await;

    let (_, to_orders) = get(api, key, &format!("/v1/events?endpoint_id={orders}")).await;
    assert_eq!(ids(&to_orders), [order.as_str()]);
    let (_, to_everything) = get(api, key, &format!("/v1/events?endpoint_id={everything}")).await;
    assert_eq!(ids(&to_everything), [invoice.clone(), order.clone()]);
    let (_, pending) = get(api, key, "/v1/events?status=pending").await;
    assert!(ids(&pending).is_empty());
    let (_, failed) = get(api, key, "/v1/events?status=failed").await;
    assert!(ids(&failed).is_empty());

    // The receiver breaks: the next event is dead-lettered at both endpoints.
    stack.sink.always(Reply::Status(500));
    let doomed = post_event_id(&stack.gateway, key, "order.paid").await;
    wait_for_count(api, key, "/v1/deliveries?status=failed", 2).await;
    let (_, failed) = get(api, key, "/v1/events?status=failed").await;
    assert_eq!(ids(&failed), [doomed.as_str()]);
    let (_, combined) = get(
        api,
        key,
        &format!("/v1/events?endpoint_id={orders}&status=failed&type=order.*"),
    )
    .await;
    assert_eq!(ids(&combined), [doomed.as_str()]);
    let (_, succeeded_to_orders) = get(
        api,
        key,
        &format!("/v1/events?endpoint_id={orders}&status=succeeded"),
    )
    .await;
    assert_eq!(ids(&succeeded_to_orders), [order.as_str()]);
    let (_, refused) = get(
        api,
        key,
        &format!("/v1/events?endpoint_id={everything}&status=refused"),
    )
    .await;
    assert!(ids(&refused).is_empty());
    let (_, succeeded) = get(api, key, "/v1/events?status=succeeded").await;
    assert_eq!(ids(&succeeded), [invoice.clone(), order.clone()]);
    // Filters hold across pages.
    let (_, first) = get(api, key, "/v1/events?status=succeeded&limit=1").await;
    assert_eq!(ids(&first), [invoice.as_str()]);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let (status, second) = get(
        api,
        key,
        &format!("/v1/events?status=succeeded&limit=1&cursor={cursor}&since=2000-01-01T00:00:00Z"),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(ids(&second), [order.as_str()]);
    assert_eq!(second["next_cursor"], Value::Null);

    let (status, problem) = get(
        api,
        key,
        &format!("/v1/events?endpoint_id={}", EndpointId::new()),
    )
    .await;
    assert_eq!(status, 404, "{problem}");
}

#[tokio::test]
async fn an_event_is_read_with_its_payload_and_its_deliveries() {
    let stack = Stack::start().await;
    let (api, key) = (&stack.api, stack.key.as_str());
    let first = stack.endpoint("/one", &["*"]).await;
    let second = stack.endpoint("/two", &["user.*"]).await;
    let accepted = post_event(
        &stack.gateway,
        key,
        "user.signed_up",
        json!({"user": {"id": 7, "name": "Ada"}, "tags": ["a", "b"], "ratio": 1.50}),
    )
    .await;
    let id = accepted["id"].as_str().unwrap();
    stack.sink.wait_for(2, Duration::from_secs(10)).await;
    wait_for_count(api, key, "/v1/deliveries?status=succeeded", 2).await;

    let (status, event) = get(api, key, &format!("/v1/events/{id}")).await;
    assert_eq!(status, 200, "{event}");
    assert_eq!(event["id"], id);
    assert_eq!(event["type"], "user.signed_up");
    assert!(event["received_at"].is_string());
    assert_eq!(
        event["payload"],
        json!({"user": {"id": 7, "name": "Ada"}, "tags": ["a", "b"], "ratio": 1.50})
    );
    let deliveries = event["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2, "{event}");
    let endpoints: HashSet<&str> = deliveries
        .iter()
        .map(|d| d["endpoint_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        endpoints,
        HashSet::from([first.to_string().as_str(), second.to_string().as_str()])
    );
    for delivery in deliveries {
        assert_eq!(delivery["event_id"], id);
        assert_eq!(delivery["status"], "succeeded");
        assert_eq!(delivery["attempt_count"], 1);
        assert_eq!(delivery["last_status_code"], 200);
        assert!(delivery["id"].as_str().unwrap().starts_with("dlv_"));
    }

    let (status, listed) = get(api, key, &format!("/v1/events/{id}/deliveries")).await;
    assert_eq!(status, 200);
    assert_eq!(listed["data"], event["deliveries"]);

    let (status, missing) = get(
        api,
        key,
        &format!("/v1/events/{}", eventflow_domain::EventId::new()),
    )
    .await;
    assert_eq!(status, 404, "{missing}");
}

#[tokio::test]
async fn pages_walked_while_events_arrive_hold_every_original_event_once() {
    let gateway = spawn_gateway().await;
    let api = gateway
        .spawn_query_api_with(|c| c.dispatcher_grpc_url = NO_DISPATCHER.into())
        .await;
    let (_, key) = gateway.create_project_with_key("ingest,read").await;
    let batch: Vec<Value> = (0..23)
        .map(|n| json!({"type": "order.created", "payload": {"n": n}}))
        .collect();
    let response = gateway.post_batch(&key, &batch).await;
    assert!(response.status().is_success());
    for n in 0..7 {
        post_event(&gateway, &key, "order.paid", json!({"n": n})).await;
    }
    let (_, everything) = get(&api, &key, "/v1/events?limit=500").await;
    let original: Vec<String> = ids(&everything);
    assert_eq!(original.len(), 30);

    // Another producer keeps posting from the moment the walk starts.
    let gateway = Arc::new(gateway);
    let stop = Arc::new(AtomicBool::new(false));
    let arrived = Arc::new(AtomicUsize::new(0));
    let (walked, mut cursor) = {
        let (status, first) = get(&api, &key, "/v1/events?limit=4").await;
        assert_eq!(status, 200);
        (
            ids(&first),
            first["next_cursor"].as_str().map(str::to_owned),
        )
    };
    let producer = {
        let (gateway, key, stop, arrived) =
            (gateway.clone(), key.clone(), stop.clone(), arrived.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                post_event(&gateway, &key, "order.created", json!({"late": true})).await;
                arrived.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let mut walked = walked;
    let mut pages = 1;
    while let Some(next) = cursor.take() {
        // Let new events land between pages.
        eventually("a new event to land", WITHIN, || async {
            arrived.load(Ordering::Relaxed) >= pages
        })
        .await;
        let (status, page) = get(&api, &key, &format!("/v1/events?limit=4&cursor={next}")).await;
        assert_eq!(status, 200, "{page}");
        walked.extend(ids(&page));
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        pages += 1;
    }
    stop.store(true, Ordering::Relaxed);
    producer.await.unwrap();

    assert_eq!(pages, 8, "30 events in pages of 4");
    let unique: HashSet<&String> = walked.iter().collect();
    assert_eq!(unique.len(), walked.len(), "no event twice");
    assert_eq!(
        walked, original,
        "exactly the events that existed, in order"
    );
    let late = arrived.load(Ordering::Relaxed);
    assert!(late >= pages - 1, "events arrived during the walk: {late}");
    let (_, now) = get(&api, &key, "/v1/events?limit=500").await;
    assert_eq!(ids(&now).len(), 30 + late);
}

#[tokio::test]
async fn replaying_an_event_delivers_it_again_with_the_same_webhook_id() {
    let stack = Stack::stepped().await;
    let (api, key) = (&stack.api, stack.key.as_str());
    stack.endpoint("/a", &["*"]).await;
    let b = stack.endpoint("/b", &["*"]).await;
    let id = post_event_id(&stack.gateway, key, "order.created").await;
    assert_eq!(
        stack.sink.wait_for(2, Duration::from_secs(10)).await.len(),
        2
    );

    let (status, scheduled) = post(api, key, &format!("/v1/events/{id}/replay"), None).await;
    assert_eq!(status, 202, "{scheduled}");
    assert_eq!(scheduled, json!({"scheduled": 2}));
    assert_eq!(stack.deliver_due().await, 2);
    let received = stack.sink.wait_for(4, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 4);

    let (status, scheduled) = post(
        api,
        key,
        &format!("/v1/events/{id}/replay"),
        Some(json!({"endpoint_ids": [b.to_string()]})),
    )
    .await;
    assert_eq!(status, 202, "{scheduled}");
    assert_eq!(scheduled, json!({"scheduled": 1}));
    assert_eq!(stack.deliver_due().await, 1);
    let received = stack.sink.wait_for(5, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 5);
    assert_eq!(received[4].path, "/b");
    for request in &received {
        assert_eq!(request.header("webhook-id"), Some(id.as_str()));
    }
    let paths: Vec<&str> = received.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths.iter().filter(|p| **p == "/a").count(), 2, "{paths:?}");

    let (status, problem) = post(
        api,
        key,
        &format!("/v1/events/{id}/replay"),
        Some(json!({"endpoint_ids": [EndpointId::new().to_string()]})),
    )
    .await;
    assert_eq!(status, 404, "{problem}");
    let (status, problem) = post(
        api,
        key,
        &format!("/v1/events/{id}/replay"),
        Some(json!({"endpoint_ids": ["ep_nope"], "extra": 1})),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        stack.deliver_due().await,
        0,
        "refused replays schedule nothing"
    );
    assert_eq!(
        stack.sink.received().len(),
        5,
        "refused replays send nothing"
    );
}

#[tokio::test]
async fn replay_and_retry_answer_503_when_the_dispatcher_is_unreachable() {
    let stack = Stack::start().await;
    let key = stack.key.as_str();
    stack.endpoint("/a", &["*"]).await;
    let id = post_event_id(&stack.gateway, key, "order.created").await;
    let deliveries = wait_for_count(&stack.api, key, "/v1/deliveries?status=succeeded", 1).await;
    let delivery = ids(&deliveries).remove(0);
    let stranded = stack
        .gateway
        .spawn_query_api_with(|c| c.dispatcher_grpc_url = NO_DISPATCHER.into())
        .await;

    let (status, problem) = post(&stranded, key, &format!("/v1/events/{id}/replay"), None).await;
    assert_eq!(status, 503, "{problem}");
    let (status, problem) = post(
        &stranded,
        key,
        &format!("/v1/deliveries/{delivery}/retry"),
        None,
    )
    .await;
    assert_eq!(status, 503, "{problem}");
}

#[tokio::test]
async fn the_query_api_reaches_the_dispatcher_only_with_the_shared_internal_token() {
    let stack = Stack::stepped().await;
    let key = stack.key.as_str();
    stack.endpoint("/a", &["*"]).await;
    let id = post_event_id(&stack.gateway, key, "order.created").await;
    stack.sink.wait_for(1, Duration::from_secs(10)).await;
    let dispatcher_url = stack.dispatcher.grpc_url();
    let impostor = stack
        .gateway
        .spawn_query_api_with(|c| {
            c.dispatcher_grpc_url = dispatcher_url;
            c.internal_token =
                Some(InternalToken::new("not-the-dispatchers-token").expect("a valid token"));
        })
        .await;

    let (status, problem) = post(&impostor, key, &format!("/v1/events/{id}/replay"), None).await;

    assert_eq!(status, 500, "{problem}");
    assert_eq!(
        stack.deliver_due().await,
        0,
        "the refused replay scheduled nothing"
    );
    let (status, scheduled) = post(&stack.api, key, &format!("/v1/events/{id}/replay"), None).await;
    assert_eq!(status, 202, "the shared token is admitted: {scheduled}");
    assert_eq!(stack.deliver_due().await, 1);
    assert_eq!(
        stack.sink.wait_for(2, Duration::from_secs(10)).await.len(),
        2
    );
    assert_eq!(stack.sink.received().len(), 2, "one delivery, one replay");
}

#[tokio::test]
async fn event_searches_at_the_ends_of_the_years_0000_to_9999_answer_normally() {
    let gateway = spawn_gateway().await;
    let api = gateway
        .spawn_query_api_with(|c| c.dispatcher_grpc_url = NO_DISPATCHER.into())
        .await;
    let (_, key) = gateway.create_project_with_key("ingest,read").await;
    post_event_id(&gateway, &key, "order.created").await;

    let (status, everything) = get(
        &api,
        &key,
        "/v1/events?since=0000-01-01T00:00:00Z&until=9999-12-31T23:59:59.999999Z",
    )
    .await;
    assert_eq!(status, 200, "{everything}");
    assert_eq!(ids(&everything).len(), 1);
    for query in [
        "since=9999-12-31T23:59:59.999999Z",
        "until=0000-01-01T00:00:00Z",
        "until=0000-01-01T00:00:00.000001Z&since=0000-01-01T00:00:00Z",
    ] {
        let (status, page) = get(&api, &key, &format!("/v1/events?{query}")).await;
        assert_eq!(status, 200, "{query}: {page}");
        assert!(ids(&page).is_empty(), "{query}");
    }
    let (status, problem) = get(&api, &key, "/v1/events?since=10000-01-01T00:00:00Z").await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "since");
}

#[tokio::test]
async fn bad_query_parameters_are_422_problems_and_malformed_ids_400_naming_them() {
    let gateway = spawn_gateway().await;
    let api = gateway
        .spawn_query_api_with(|c| c.dispatcher_grpc_url = NO_DISPATCHER.into())
        .await;
    let (_, key) = gateway.create_project_with_key("read").await;

    for (query, fields) in [
        ("limit=0", vec!["limit"]),
        ("limit=100000", vec!["limit"]),
        ("limit=-1", vec!["limit"]),
        ("limit=ten", vec!["limit"]),
        ("limit=", vec!["limit"]),
        ("cursor=garbage", vec!["cursor"]),
        ("since=yesterday", vec!["since"]),
        ("until=2024-13-01T00:00:00Z", vec!["until"]),
        ("type=bad!", vec!["type"]),
        ("type=order*", vec!["type"]),
        ("type=*.created", vec!["type"]),
        ("status=wat", vec!["status"]),
        ("endpoint_id=ep_nope", vec!["endpoint_id"]),
        (
            "endpoint_id=evt_0192f3a0c0de7abc8def0123456789ab",
            vec!["endpoint_id"],
        ),
        ("include_payload=yes", vec!["include_payload"]),
        (
            "type=bad!&since=yesterday&status=wat&limit=0&cursor=x",
            vec!["type", "since", "status", "limit", "cursor"],
        ),
    ] {
        let (status, problem) = get(&api, &key, &format!("/v1/events?{query}")).await;
        assert_eq!(status, 422, "{query}: {problem}");
        assert_eq!(problem["status"], 422);
        assert_eq!(problem["type"], "https://eventflow.dev/problems/validation");
        assert_eq!(error_fields(&problem), fields, "{query}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(fields[0]),
            "{problem}"
        );
    }

    for (query, named) in [("colour=red", "colour"), ("type=a&type=b", "type")] {
        let (status, problem) = get(&api, &key, &format!("/v1/events?{query}")).await;
        assert_eq!(status, 422, "{query}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(named),
            "{query}: {problem}"
        );
    }

    for path in [
        "/v1/events/not-an-id",
        "/v1/events/dlv_0192f3a0c0de7abc8def0123456789ab",
        "/v1/events/EVT_0192F3A0C0DE7ABC8DEF0123456789AB/deliveries",
    ] {
        let (status, problem) = get(&api, &key, path).await;
        assert_eq!(status, 400, "{path}: {problem}");
        assert_eq!(error_fields(&problem), ["id"]);
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_event_and_delivery_routes() {
    let gateway = spawn_gateway().await;
    let api = gateway
        .spawn_query_api_with(|c| c.dispatcher_grpc_url = NO_DISPATCHER.into())
        .await;
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
        ("/v1/events", "get"),
        ("/v1/events/{id}", "get"),
        ("/v1/events/{id}/deliveries", "get"),
        ("/v1/events/{id}/replay", "post"),
        ("/v1/deliveries", "get"),
        ("/v1/deliveries/{id}", "get"),
        ("/v1/deliveries/{id}/attempts", "get"),
        ("/v1/deliveries/{id}/retry", "post"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path}");
    }
    let params: Vec<&str> = paths["/v1/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "type",
        "since",
        "until",
        "status",
        "endpoint_id",
        "limit",
        "cursor",
    ] {
        assert!(params.contains(&name), "{name} in {params:?}");
    }
}
