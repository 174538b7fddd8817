//! migrate, profile, projects, keys, endpoints, events, deliveries and stats
//! through the query API, with `--json` parsed and checked.

use std::time::Duration;

use eventflow_domain::{ApiKeyId, EndpointId, EventId, ProjectId};
use eventflow_test_support::{TestDatabase, WebhookSink, eventually};
use serde_json::{Value, json};

use crate::{Stack, TempDir, command, finish};

/// How long a CLI test waits: every check runs a CLI process.
const CLI_WITHIN: Duration = Duration::from_secs(20);

#[tokio::test]
async fn migrate_is_the_one_command_that_uses_the_database() {
    let db = TestDatabase::create().await;
    let home = TempDir::new();
    let mut migrate = command(&home.0);
    migrate
        .args(["migrate", "--json"])
        .env("EVENTFLOW_DATABASE_URL", db.url());

    let migrated = finish(migrate, None).await.json();

    assert_eq!(
        migrated["applied"],
        json!([]),
        "the test database is already migrated"
    );
    let mut without = command(&home.0);
    without.arg("migrate");
    let run = finish(without, None).await;
    assert!(
        run.error_line(1).contains("--database-url"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn the_operator_creates_lists_and_updates_projects() {
    let stack = Stack::start().await;

    let created = stack
        .run_as_operator(&[
            "projects",
            "create",
            "shop",
            "--rate-limit",
            "50",
            "--burst",
            "100",
            "--json",
        ])
        .await
        .json();
    let id = created["id"].as_str().unwrap();
    ProjectId::parse(id).unwrap();
    assert_eq!(created["name"], "shop");
    assert_eq!(created["rate_limit_per_second"], 50);
    assert_eq!(created["rate_limit_burst"], 100);

    let listed = stack
        .run_as_operator(&["projects", "list", "--json"])
        .await
        .json();
    let names: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|project| project["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"shop"), "{listed}");

    let updated = stack
        .run_as_operator(&[
            "projects",
            "update",
            id,
            "--name",
            "store",
            "--retention-days",
            "7",
            "--json",
        ])
        .await
        .json();
    assert_eq!(updated["name"], "store");
    assert_eq!(updated["retention_days"], 7);
    let fetched = stack
        .run_as_operator(&["projects", "get", id, "--json"])
        .await
        .json();
    assert_eq!(fetched, updated);

    let table = stack.run_as_operator(&["projects", "list"]).await;
    assert!(table.status.success(), "{}", table.stderr);
    assert!(table.stdout.starts_with("ID"), "{}", table.stdout);
    assert!(table.stdout.contains("store"), "{}", table.stdout);
}

#[tokio::test]
async fn keys_are_created_listed_and_revoked_and_a_revoked_key_stops_working() {
    let stack = Stack::start().await;

    let created = stack
        .run(&[
            "keys",
            "create",
            "--scopes",
            "read",
            "--name",
            "ci",
            "--expires-in",
            "30d",
            "--json",
        ])
        .await
        .json();
    ApiKeyId::parse(created["id"].as_str().unwrap()).unwrap();
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("efk_"), "{created}");
    assert_eq!(created["scopes"], json!(["read"]));
    assert_eq!(created["project_id"], stack.project_id.to_string());
    assert!(created["expires_at"].is_string(), "{created}");

    let listed = stack.run(&["keys", "list", "--json"]).await.json();
    let ids: Vec<&Value> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| &key["id"])
        .collect();
    assert!(ids.contains(&&created["id"]), "{listed}");
    assert!(
        listed.to_string().find(key).is_none(),
        "a list never shows a key"
    );

    let works = stack.run_with_key(key, &["events", "list", "--json"]).await;
    assert!(works.status.success(), "{}", works.stderr);

    let revoked = stack
        .run(&["keys", "revoke", created["id"].as_str().unwrap(), "--json"])
        .await
        .json();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let refused = eventually("the revoked key to be refused", CLI_WITHIN, || async {
        let run = stack.run_with_key(key, &["events", "list"]).await;
        (run.status.code() == Some(4)).then_some(run)
    })
    .await;
    assert!(refused.error_line(4).contains("401"), "{}", refused.stderr);
}

#[tokio::test]
async fn an_endpoint_goes_through_its_whole_life_from_the_cli() {
    let stack = Stack::start().await;
    let sink = WebhookSink::start().await;

    let created = stack
        .run(&[
            "endpoints",
            "create",
            "--url",
            &sink.url("/hooks"),
            "--event-types",
            "order.*,eventflow.test",
            "--description",
            "shop",
            "--header",
            "x-team=checkout",
            "--json",
        ])
        .await
        .json();
    let id = created["id"].as_str().unwrap().to_owned();
    EndpointId::parse(&id).unwrap();
    assert!(
        created["secret"].as_str().unwrap().starts_with("whsec_"),
        "{created}"
    );
    assert_eq!(created["event_types"], json!(["order.*", "eventflow.test"]));
    assert_eq!(created["headers"], json!({"x-team": "checkout"}));

    let listed = stack.run(&["endpoints", "list", "--json"]).await.json();
    assert_eq!(listed["data"][0]["id"], id.as_str());

    let updated = stack
        .run(&[
            "endpoints",
            "update",
            &id,
            "--description",
            "orders",
            "--max-concurrency",
            "4",
            "--json",
        ])
        .await
        .json();
    assert_eq!(updated["description"], "orders");
    assert_eq!(updated["max_concurrency"], 4);

    for (action, field, value) in [
        ("disable", "enabled", false),
        ("enable", "enabled", true),
        ("pause", "paused", true),
        ("resume", "paused", false),
    ] {
        let changed = stack
            .run(&["endpoints", action, &id, "--json"])
            .await
            .json();
        assert_eq!(changed[field], value, "{action}: {changed}");
    }

    let secret = stack
        .run(&["endpoints", "secret", &id, "--json"])
        .await
        .json();
    assert_eq!(secret["secret"], created["secret"]);
    let rotated = stack
        .run(&[
            "endpoints",
            "rotate-secret",
            &id,
            "--grace-seconds",
            "60",
            "--json",
        ])
        .await
        .json();
    let after = stack
        .run(&["endpoints", "secret", &id, "--json"])
        .await
        .json();
    assert_ne!(after["secret"], created["secret"], "{rotated}");
    assert_eq!(after["previous_secret"], created["secret"]);

    let test = stack
        .run(&["endpoints", "test", &id, "--json"])
        .await
        .json();
    EventId::parse(test["event_id"].as_str().unwrap()).unwrap();
    let received = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(received[0].json()["type"], "eventflow.test");

    let recovered = stack
        .run(&[
            "endpoints",
            "recover",
            &id,
            "--since",
            "2026-01-01T00:00:00Z",
            "--json",
        ])
        .await
        .json();
    assert_eq!(recovered["scheduled"], 0, "nothing failed");

    let deleted = stack
        .run(&["endpoints", "delete", &id, "--json"])
        .await
        .json();
    assert_eq!(deleted["deleted"], true);
    let gone = stack.run(&["endpoints", "get", &id]).await;
    assert!(gone.error_line(5).contains("404"), "{}", gone.stderr);
}

#[tokio::test]
async fn events_and_deliveries_are_listed_shown_replayed_and_retried() {
    let stack = Stack::start().await;
    let sink = WebhookSink::start().await;
    let endpoint = stack
        .run(&[
            "endpoints",
            "create",
            "--url",
            &sink.url("/hooks"),
            "--json",
        ])
        .await
        .json();
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let sent = stack
        .run(&[
            "send",
            "--type",
            "order.created",
            "--payload",
            r#"{"order_id":42}"#,
            "--json",
        ])
        .await
        .json();
    let event_id = sent["id"].as_str().unwrap();
    sink.wait_for(1, Duration::from_secs(20)).await;

    let events = stack
        .run(&["events", "list", "--type", "order.*", "--payload", "--json"])
        .await
        .json();
    assert_eq!(events["data"][0]["id"], event_id);
    assert_eq!(events["data"][0]["payload"], json!({"order_id": 42}));

    let event = eventually("the delivery to succeed", CLI_WITHIN, || async {
        let event = stack
            .run(&["events", "get", event_id, "--json"])
            .await
            .json();
        (event["deliveries"][0]["status"] == "succeeded").then_some(event)
    })
    .await;
    let delivery_id = event["deliveries"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(event["deliveries"][0]["endpoint_id"], endpoint_id);

    let deliveries = stack
        .run(&[
            "deliveries",
            "list",
            "--endpoint",
            endpoint_id,
            "--status",
            "succeeded",
            "--json",
        ])
        .await
        .json();
    assert_eq!(deliveries["data"][0]["id"], delivery_id.as_str());
    let delivery = stack
        .run(&["deliveries", "get", &delivery_id, "--json"])
        .await
        .json();
    assert_eq!(delivery["status"], "succeeded");
    assert_eq!(delivery["attempts"][0]["status_code"], 200, "{delivery}");

    let replayed = stack
        .run(&["events", "replay", event_id, "--json"])
        .await
        .json();
    assert_eq!(replayed["scheduled"], 1, "{replayed}");
    sink.wait_for(2, Duration::from_secs(20)).await;
    let retried = stack
        .run(&["deliveries", "retry", &delivery_id, "--json"])
        .await
        .json();
    assert!(retried.is_object(), "{retried}");
    sink.wait_for(3, Duration::from_secs(20)).await;

    let all = stack
        .run(&["events", "list", "--limit", "1", "--all", "--json"])
        .await
        .json();
    assert_eq!(all["data"].as_array().unwrap().len(), 1);
    assert_eq!(all["next_cursor"], Value::Null);

    let stats = stack
        .run(&["stats", "--bucket", "minute", "--json"])
        .await
        .json();
    let events_counted: i64 = stats["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| point["events"].as_i64().unwrap())
        .sum();
    assert_eq!(events_counted, 1, "{stats}");
    let table = stack.run(&["stats", "--bucket", "minute"]).await;
    assert!(table.status.success(), "{}", table.stderr);
    assert!(table.stdout.contains("events"), "{}", table.stdout);
    assert!(table.stdout.contains('█'), "a sparkline: {}", table.stdout);
}

#[tokio::test]
async fn a_saved_profile_is_used_when_no_flag_or_variable_says_otherwise() {
    let stack = Stack::start().await;
    let query = stack.query.url("");
    let saved = stack
        .run(&[
            "profile",
            "set",
            "staging",
            "--api-url",
            &query,
            "--key",
            &stack.key,
            "--json",
        ])
        .await
        .json();
    assert_eq!(saved["name"], "staging");
    assert!(
        !saved.to_string().contains(&stack.key),
        "the key is masked: {saved}"
    );

    // No EVENTFLOW_URL or EVENTFLOW_KEY: the profile alone says where and who.
    let mut listed = command(&stack.home.0);
    listed.args(["--profile", "staging", "endpoints", "list", "--json"]);
    let page = finish(listed, None).await.json();
    assert_eq!(page["data"], json!([]));

    let mut missing = command(&stack.home.0);
    missing.args(["--profile", "nope", "endpoints", "list"]);
    let run = finish(missing, None).await;
    assert!(
        run.error_line(1).contains("eventflow profile set nope"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn completions_and_help_cover_every_command() {
    let home = TempDir::new();
    for shell in ["bash", "zsh", "fish"] {
        let mut run = command(&home.0);
        run.args(["completions", shell]);
        let run = finish(run, None).await;
        assert!(run.status.success(), "{}", run.stderr);
        for word in ["endpoints", "rotate-secret", "deliveries", "listen"] {
            assert!(run.stdout.contains(word), "{shell} lacks {word}");
        }
    }
    let mut help = command(&home.0);
    help.args(["send", "--help"]);
    let help = finish(help, None).await;
    assert!(help.stdout.contains("Examples:"), "{}", help.stdout);
    let mut top = command(&home.0);
    top.arg("--help");
    let top = finish(top, None).await;
    assert!(top.stdout.contains("Exit codes:"), "{}", top.stdout);
}
