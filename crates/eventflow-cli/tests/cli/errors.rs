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

    let run = stack
        .run(&[
            "endpoints",
            "create",
            "--url",
            "ftp://example.com/x",
            "--event-types",
            "",
            "--json",
        ])
        .await;

    let line = run.error_line(3);
    assert!(line.contains("url: "), "{line}");
    assert!(line.contains("event_types: "), "{line}");
    let problem: serde_json::Value = serde_json::from_str(&run.stdout).expect("problem on stdout");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"url") && fields.contains(&"event_types"),
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
