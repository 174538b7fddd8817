//! Error paths: each names the failure, says what to do, and exits with its
//! documented code; with `--json` the API's problem document is on stdout.

use crate::{Stack, TempDir, command, finish};

#[tokio::test]
async fn a_bad_key_exits_4_and_says_where_the_key_comes_from() {
    let stack = Stack::start().await;

    let run = stack
        .run_with_key("efk_not_a_real_key", &["endpoints", "list"])
        .await;

    let line = run.error_line(4);
    assert!(line.contains("401"), "{line}");
    assert!(line.contains("EVENTFLOW_KEY"), "{line}");
}

#[tokio::test]
async fn no_key_at_all_says_how_to_give_one() {
    let stack = Stack::start().await;

    let run = stack.run_with_key("", &["events", "list"]).await;

    let line = run.error_line(4);
    assert!(line.contains("--key"), "{line}");
    assert!(line.contains(".eventflow/dev-key"), "{line}");
}

#[tokio::test]
async fn a_key_without_the_scope_exits_4_and_names_the_way_forward() {
    let stack = Stack::start().await;
    let read_only = stack.gateway.create_key(stack.project_id, "read").await;

    let endpoint = stack
        .run_with_key(
            &read_only,
            &["endpoints", "create", "--url", "http://127.0.0.1:9/x"],
        )
        .await;
    let project = stack.run(&["projects", "create", "other"]).await;

    assert!(
        endpoint.error_line(4).contains("403"),
        "{}",
        endpoint.stderr
    );
    let line = project.error_line(4);
    assert!(line.contains("403"), "{line}");
    assert!(line.contains("EVENTFLOW_ADMIN_TOKEN"), "{line}");
}

#[tokio::test]
async fn invalid_input_exits_3_and_echoes_the_apis_errors() {
    let stack = Stack::start().await;

    // The URL, headers and limits are refused locally (see the next test); the
    // filters are the API's alone.
    let run = stack
        .run(&[
            "endpoints",
            "create",
            "--url",
            "https://example.com/x",
            "--event-types",
            "",
            "--payload-filter",
            r#"{"field": "a", "like": 1}"#,
            "--json",
        ])
        .await;

    let line = run.error_line(3);
    assert!(line.contains("payload_filter: "), "{line}");
    assert!(line.contains("event_types: "), "{line}");
    let problem: serde_json::Value = serde_json::from_str(&run.stdout).expect("problem on stdout");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"payload_filter") && fields.contains(&"event_types"),
        "{problem}"
    );
    let listed = stack.run(&["endpoints", "list", "--json"]).await.json();
    assert_eq!(
        listed["data"],
        serde_json::json!([]),
        "nothing half-written"
    );
}

#[tokio::test]
async fn an_endpoint_the_api_refuses_is_refused_locally_with_the_apis_reason() {
    let stack = Stack::start().await;
    let endpoints = stack.query.url("/v1/endpoints");
    // (CLI options, the same definition as the API takes it, the field refused.)
    let cases: [(&[&str], &str, &str); 5] = [
        (
            &["--url", "ftp://example.com/x"],
            r#"{"url": "ftp://example.com/x"}"#,
            "url",
        ),
        (
            &["--url", "https://user:pw@example.com/x"],
            r#"{"url": "https://user:pw@example.com/x"}"#,
            "url",
        ),
        (
            &[
                "--url",
                "https://example.com/x",
                "--header",
                "Host=evil.example",
            ],
            r#"{"url": "https://example.com/x", "headers": {"Host": "evil.example"}}"#,
            "headers",
        ),
        (
            &["--url", "https://example.com/x", "--rate-limit", "0"],
            r#"{"url": "https://example.com/x", "rate_limit_per_second": 0}"#,
            "rate_limit_per_second",
        ),
        (
            &[
                "--url",
                "https://example.com/x",
                "--max-concurrency",
                "1001",
            ],
            r#"{"url": "https://example.com/x", "max_concurrency": 1001}"#,
            "max_concurrency",
        ),
    ];
    for (options, body, field) in cases {
        let (status, problem) = post_raw(&endpoints, &stack.key, body).await;
        assert_eq!(status, 422, "{problem}");
        let (api_field, api_reason) = errors_of(&problem)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no field error: {problem}"));
        assert_eq!(api_field, field, "{problem}");

        // Nothing listens at this address: a request would exit 6, not 3.
        let mut create = command(&stack.home.0);
        create
            .args(["endpoints", "create", "--api-url", "http://127.0.0.1:9"])
            .args(["--key", &stack.key])
            .args(options);
        let run = finish(create, None).await;

        let line = run.error_line(3);
        assert_eq!(
            line,
            format!("error: invalid endpoint {field}: {api_reason}"),
            "{options:?}"
        );
    }
    let mut update = command(&stack.home.0);
    update
        .args(["endpoints", "update", "ep_0123456789abcdef0123456789abcdef"])
        .args(["--api-url", "http://127.0.0.1:9", "--key", &stack.key])
        .args(["--url", "ftp://example.com/x"]);
    assert_eq!(
        finish(update, None).await.error_line(3),
        "error: invalid endpoint url: must use http or https"
    );
    let listed = stack.run(&["endpoints", "list", "--json"]).await.json();
    assert_eq!(listed["data"], serde_json::json!([]));
}

#[tokio::test]
async fn a_service_that_is_down_exits_6_and_says_how_to_start_one() {
    let home = TempDir::new();
    let mut list = command(&home.0);
    list.args([
        "events",
        "list",
        "--api-url",
        "http://127.0.0.1:9",
        "--key",
        "efk_x",
    ]);

    let run = finish(list, None).await;

    let line = run.error_line(6);
    assert!(line.contains("http://127.0.0.1:9"), "{line}");
    assert!(line.contains("scripts/dev.sh"), "{line}");
}

#[tokio::test]
async fn the_gateway_given_as_the_query_api_asks_whether_the_address_is_right() {
    let stack = Stack::start().await;

    let run = stack
        .run(&["events", "list", "--api-url", &stack.gateway.url("")])
        .await;

    let line = run.error_line(5);
    assert!(line.contains("405"), "{line}");
    assert!(line.contains("EVENTFLOW_URL"), "{line}");
}

#[tokio::test]
async fn an_unknown_option_exits_2() {
    let home = TempDir::new();
    let mut run = command(&home.0);
    run.args(["events", "list", "--no-such-option"]);

    let run = finish(run, None).await;

    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
}

/// Posts `body` to `url` with `key` and returns the status and problem.
async fn post_raw(url: &str, key: &str, body: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("the service answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a problem document"))
}

/// The problem's `errors[]` as (field, message) pairs.
fn errors_of(problem: &serde_json::Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| {
                    let text = |name: &str| error[name].as_str().unwrap_or_default().to_owned();
                    (text("field"), text("message"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_gateways_refusals_speak_the_contracts_words_not_rusts() {
    let stack = Stack::start().await;
    let events = stack.gateway.url("/v1/events");
    let batch = stack.gateway.url("/v1/events/batch");

    let cases = [
        (
            &events,
            r#"[{"type":"a.b","payload":{}}]"#,
            "body",
            "/v1/events/batch",
        ),
        (
            &events,
            r#"{"type":"a.b","payload":{},"colour":"red"}"#,
            "colour",
            "not a known field",
        ),
        (
            &batch,
            r#"[{"type":"a.b","payload":{}}]"#,
            "body",
            "not a bare array",
        ),
        (&batch, r#"{"events":{}}"#, "events", "must be an array"),
        (
            &batch,
            r#"{"events":[[1,2,3,4]]}"#,
            "events[0]",
            "one event",
        ),
        (
            &batch,
            r#"{"events":[{"type":"a.b","payload":{},"extra":1}]}"#,
            "events[0].extra",
            "not a known field",
        ),
    ];
    for (url, body, field, words) in cases {
        let (status, problem) = post_raw(url, &stack.key, body).await;
        let text = problem.to_string();
        let errors = errors_of(&problem);
        let named = errors
            .iter()
            .chain(
                problem["results"][0]["error"]
                    .as_object()
                    .map(|_| errors_of(&problem["results"][0]["error"]))
                    .unwrap_or_default()
                    .iter(),
            )
            .any(|(f, message)| f == field && message.contains(words));
        assert!(named, "{body}: {status} {text}");
        for rust in [
            "struct",
            "EventIn",
            "BatchIn",
            "sequence",
            "invalid type",
            "invalid length",
        ] {
            assert!(!text.contains(rust), "{body}: {text}");
        }
    }
}

#[tokio::test]
async fn an_event_posted_to_the_query_api_gets_a_405_naming_the_gateway() {
    let stack = Stack::start().await;

    let (status, problem) = post_raw(
        &stack.query.url("/v1/events"),
        &stack.key,
        r#"{"type":"a.b","payload":{}}"#,
    )
    .await;

    // The path serves GET (searches) here: 405, and the detail says where to send.
    assert_eq!(status, 405);
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("ingest gateway") && detail.contains("8080"),
        "{detail}"
    );
}

#[tokio::test]
async fn the_query_api_names_an_unknown_field_in_its_errors() {
    let stack = Stack::start().await;

    let (status, problem) = post_raw(
        &stack.query.url("/v1/endpoints"),
        &stack.key,
        r#"{"url":"http://127.0.0.1:9/x","colour":"red"}"#,
    )
    .await;

    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        errors_of(&problem),
        [(
            "colour".to_owned(),
            "is not a field of this request".to_owned()
        )],
        "{problem}"
    );
    assert!(
        !problem.to_string().contains("expected one of"),
        "{problem}"
    );
}
