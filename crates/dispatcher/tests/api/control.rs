//! `DispatchControl` over gRPC, as query-api and operators call it: replay,
//! retry, recovery of dead letters, pause and resume, each scoped to the
//! project it names.

use std::time::Duration;

use eventflow_domain::{EndpointId, EventId, ProjectId, format_rfc3339};
use eventflow_proto::dispatch::v1::{
    EndpointRequest, RecoverEndpointRequest, RefreshEndpointCacheRequest, ReplayEventsRequest,
    RetryDeliveriesRequest,
};
use eventflow_runtime::api_error::PROBLEM_METADATA_KEY;
use eventflow_store::DeliveryStatus;
use eventflow_test_support::{
    Received, Reply, TcpProxy, TestDatabase, WITHIN, WebhookSink, eventually, spawn_gateway,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tonic::Code;

use crate::scenario::{
    attempts, control, delivery_of, delivery_state, post_event, step_until_status, take_due_step,
    wait_for_status,
};

fn requests_for(received: &[Received], event: EventId) -> Vec<&Received> {
    let id = event.to_string();
    received
        .iter()
        .filter(|request| request.header("webhook-id") == Some(id.as_str()))
        .collect()
}

#[tokio::test]
async fn replaying_an_event_delivers_it_again_with_the_same_webhook_id() {
    let gateway = spawn_gateway().await;
    let dispatcher = gateway.spawn_dispatcher().await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let a = gateway
        .create_endpoint(project, &sink.url("/a"), &["order.*"])
        .await;
    let b = gateway
        .create_endpoint(project, &sink.url("/b"), &["order.*"])
        .await;
    let event = post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {"n": 1}}),
    )
    .await;
    for endpoint in [&a, &b] {
        wait_for_status(
            &gateway,
            delivery_of(event, endpoint.id),
            DeliveryStatus::Succeeded,
        )
        .await;
    }

    let replayed = control(&dispatcher)
        .await
        .replay_events(ReplayEventsRequest {
            project_id: project.to_string(),
            event_ids: vec![event.to_string()],
            endpoint_ids: vec![],
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(replayed.scheduled, 2);
    let received = sink.wait_for(4, WITHIN).await;
    assert_eq!(received.len(), 4);
    for path in ["/a", "/b"] {
        let to_path: Vec<&Received> = received.iter().filter(|r| r.path == path).collect();
        assert_eq!(to_path.len(), 2, "{path} gets the event twice");
        assert_eq!(
            to_path[0].header("webhook-id"),
            Some(event.to_string().as_str())
        );
        assert_eq!(
            to_path[1].header("webhook-id"),
            to_path[0].header("webhook-id"),
            "a replay carries the same webhook-id, so receivers can de-duplicate"
        );
        assert_eq!(to_path[1].body, to_path[0].body);
    }
}

#[tokio::test]
async fn replaying_to_chosen_endpoints_delivers_only_to_them() {
    let gateway = spawn_gateway().await;
    let dispatcher = gateway.spawn_stepped_dispatcher().await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let chosen = gateway
        .create_endpoint(project, &sink.url("/chosen"), &["order.*"])
        .await;
    let other = gateway
        .create_endpoint(project, &sink.url("/other"), &["order.*"])
        .await;
    let event = post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {}}),
    )
    .await;
    wait_for_status(
        &gateway,
        delivery_of(event, chosen.id),
        DeliveryStatus::Succeeded,
    )
    .await;
    wait_for_status(
        &gateway,
        delivery_of(event, other.id),
        DeliveryStatus::Succeeded,
    )
    .await;

    let replayed = control(&dispatcher)
        .await
        .replay_events(ReplayEventsRequest {
            project_id: project.to_string(),
            event_ids: vec![event.to_string()],
            endpoint_ids: vec![chosen.id.to_string()],
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(replayed.scheduled, 1);
    assert_eq!(
        take_due_step(&dispatcher).await,
        1,
        "only the chosen delivery is due"
    );
    sink.wait_for(3, WITHIN).await;
    wait_for_status(
        &gateway,
        delivery_of(event, chosen.id),
        DeliveryStatus::Succeeded,
    )
    .await;
    assert_eq!(take_due_step(&dispatcher).await, 0, "nothing more is due");
    let received = sink.received();
    let paths: Vec<&str> = received.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths.iter().filter(|p| **p == "/chosen").count(),
        2,
        "{paths:?}"
    );
    assert_eq!(
        paths.iter().filter(|p| **p == "/other").count(),
        1,
        "{paths:?}"
    );
}

#[tokio::test]
async fn retrying_a_dead_lettered_delivery_sends_it_again() {
    let gateway = spawn_gateway().await;
    let dispatcher = gateway.spawn_dispatcher().await;
    let sink = WebhookSink::start().await;
    sink.always(Reply::Status(500));
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project, &sink.url("/hooks"), &["order.*"])
        .await;
    let event = post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {}}),
    )
    .await;
    let delivery = delivery_of(event, endpoint.id);
    wait_for_status(&gateway, delivery, DeliveryStatus::Failed).await;
    sink.always(Reply::Status(200));

    let retried = control(&dispatcher)
        .await
        .retry_deliveries(RetryDeliveriesRequest {
            project_id: project.to_string(),
            delivery_ids: vec![delivery.to_string()],
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(retried.scheduled, 1);
    wait_for_status(&gateway, delivery, DeliveryStatus::Succeeded).await;
    let received = sink.received();
    assert_eq!(received.len(), 4, "three failed attempts, then the retry");
    assert_eq!(
        received[3].header("webhook-id"),
        Some(event.to_string().as_str())
    );
    let codes: Vec<Option<i32>> = attempts(&gateway, delivery)
        .await
        .iter()
        .map(|attempt| attempt.status_code)
        .collect();
    assert_eq!(codes, [Some(500), Some(500), Some(500), Some(200)]);
}

#[tokio::test]
async fn recovering_an_endpoint_resends_the_dead_letters_created_since_the_time_given() {
    let gateway = spawn_gateway().await;
    let dispatcher = gateway.spawn_stepped_dispatcher().await;
    let sink = WebhookSink::start().await;
    sink.always(Reply::Status(500));
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project, &sink.url("/hooks"), &["order.*"])
        .await;
    let before = post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {"n": 0}}),
    )
    .await;
    step_until_status(
        &gateway,
        &dispatcher,
        delivery_of(before, endpoint.id),
        DeliveryStatus::Failed,
    )
    .await;
    let since = OffsetDateTime::now_utc();
    let mut after = Vec::new();
    for n in 1..=2 {
        after.push(
            post_event(
                &gateway,
                &key,
                &json!({"type": "order.created", "payload": {"n": n}}),
            )
            .await,
        );
    }
    for event in &after {
        step_until_status(
            &gateway,
            &dispatcher,
            delivery_of(*event, endpoint.id),
            DeliveryStatus::Failed,
        )
        .await;
    }
    sink.always(Reply::Status(200));

    let recovered = control(&dispatcher)
        .await
        .recover_endpoint(RecoverEndpointRequest {
            project_id: project.to_string(),
            endpoint_id: endpoint.id.to_string(),
            since: format_rfc3339(since),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(recovered.scheduled, 2);
    assert_eq!(
        take_due_step(&dispatcher).await,
        2,
        "the two dead letters since"
    );
    for event in &after {
        wait_for_status(
            &gateway,
            delivery_of(*event, endpoint.id),
            DeliveryStatus::Succeeded,
        )
        .await;
    }
    assert_eq!(take_due_step(&dispatcher).await, 0, "nothing more is due");
    let received = sink.received();
    for event in &after {
        assert_eq!(
            requests_for(&received, *event).len(),
            4,
            "three failures and the recovery"
        );
    }
    assert_eq!(
        requests_for(&received, before).len(),
        3,
        "a dead letter from before `since` is left alone"
    );
    let state = delivery_state(&gateway, delivery_of(before, endpoint.id))
        .await
        .unwrap();
    assert_eq!(state.status, DeliveryStatus::Failed);
}

#[tokio::test]
async fn a_paused_endpoint_holds_new_deliveries_until_it_is_resumed() {
    let gateway = spawn_gateway().await;
    let dispatcher = gateway.spawn_stepped_dispatcher().await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project, &sink.url("/hooks"), &["order.*"])
        .await;
    let request = EndpointRequest {
        project_id: project.to_string(),
        endpoint_id: endpoint.id.to_string(),
    };

    let paused = control(&dispatcher)
        .await
        .pause_endpoint(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(paused.paused);
    let event = post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {}}),
    )
    .await;

    let delivery = delivery_of(event, endpoint.id);
    let held = eventually("the delivery to be held", WITHIN, || async {
        delivery_state(&gateway, delivery).await
    })
    .await;
    assert_eq!(held.status, DeliveryStatus::Pending);
    assert_eq!(held.attempt_count, 0);
    assert_eq!(held.last_error.as_deref(), Some("endpoint paused"));
    assert_eq!(
        take_due_step(&dispatcher).await,
        0,
        "a held delivery is not due"
    );
    assert!(
        sink.received().is_empty(),
        "nothing reaches a paused endpoint"
    );

    let resumed = control(&dispatcher)
        .await
        .resume_endpoint(request)
        .await
        .unwrap()
        .into_inner();

    assert!(!resumed.paused);
    assert_eq!(resumed.released, 1);
    assert_eq!(
        take_due_step(&dispatcher).await,
        1,
        "the released delivery is due"
    );
    let received = sink.wait_for(1, WITHIN).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].header("webhook-id"),
        Some(event.to_string().as_str())
    );
    wait_for_status(&gateway, delivery, DeliveryStatus::Succeeded).await;
}

#[tokio::test]
async fn control_calls_naming_another_projects_ids_answer_not_found() {
    let gateway = spawn_gateway().await;
    let dispatcher = gateway.spawn_stepped_dispatcher().await;
    let sink = WebhookSink::start().await;
    let (project_a, key_a) = gateway.create_project_with_key("ingest").await;
    let (project_b, _) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project_a, &sink.url("/a"), &["order.*"])
        .await;
    let event = post_event(
        &gateway,
        &key_a,
        &json!({"type": "order.created", "payload": {}}),
    )
    .await;
    let delivery = delivery_of(event, endpoint.id);
    wait_for_status(&gateway, delivery, DeliveryStatus::Succeeded).await;
    let mut control = control(&dispatcher).await;
    let as_b = EndpointRequest {
        project_id: project_b.to_string(),
        endpoint_id: endpoint.id.to_string(),
    };

    let answers = [
        (
            "ReplayEvents",
            control
                .replay_events(ReplayEventsRequest {
                    project_id: project_b.to_string(),
                    event_ids: vec![event.to_string()],
                    endpoint_ids: vec![],
                })
                .await
                .map(drop),
        ),
        (
            "ReplayEvents to an endpoint",
            control
                .replay_events(ReplayEventsRequest {
                    project_id: project_b.to_string(),
                    event_ids: vec![],
                    endpoint_ids: vec![endpoint.id.to_string()],
                })
                .await
                .map(drop),
        ),
        (
            "RetryDeliveries",
            control
                .retry_deliveries(RetryDeliveriesRequest {
                    project_id: project_b.to_string(),
                    delivery_ids: vec![delivery.to_string()],
                })
                .await
                .map(drop),
        ),
        (
            "RecoverEndpoint",
            control
                .recover_endpoint(RecoverEndpointRequest {
                    project_id: project_b.to_string(),
                    endpoint_id: endpoint.id.to_string(),
                    since: "2020-01-01T00:00:00Z".to_owned(),
                })
                .await
                .map(drop),
        ),
        (
            "PauseEndpoint",
            control.pause_endpoint(as_b.clone()).await.map(drop),
        ),
        (
            "ResumeEndpoint",
            control.resume_endpoint(as_b).await.map(drop),
        ),
    ];

    for (call, answer) in answers {
        let status = answer.expect_err(call);
        assert_eq!(status.code(), Code::NotFound, "{call}: {status:?}");
    }
    let record = gateway.store.endpoint(endpoint.id).await.unwrap();
    assert!(!record.paused, "project B could not pause A's endpoint");
    assert_eq!(take_due_step(&dispatcher).await, 0, "nothing was scheduled");
    assert_eq!(
        sink.received().len(),
        1,
        "nothing was sent again for project B"
    );
    assert_eq!(attempts(&gateway, delivery).await.len(), 1);
}

#[tokio::test]
async fn control_calls_with_malformed_ids_answer_invalid_argument() {
    let gateway = spawn_gateway().await;
    let dispatcher = gateway.spawn_dispatcher().await;
    let sink = WebhookSink::start().await;
    let (project, _) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project, &sink.url("/a"), &["order.*"])
        .await;
    let mut control = control(&dispatcher).await;
    let project_id = project.to_string();
    let endpoint_id = endpoint.id.to_string();

    let answers = [
        (
            "project_id",
            control
                .pause_endpoint(EndpointRequest {
                    project_id: "prj_42".to_owned(),
                    endpoint_id: endpoint_id.clone(),
                })
                .await
                .map(drop),
        ),
        (
            "endpoint_id",
            control
                .pause_endpoint(EndpointRequest {
                    project_id: project_id.clone(),
                    // An id of the wrong kind.
                    endpoint_id: project_id.clone(),
                })
                .await
                .map(drop),
        ),
        (
            "event_ids",
            control
                .replay_events(ReplayEventsRequest {
                    project_id: project_id.clone(),
                    event_ids: vec!["evt_not-hex".to_owned()],
                    endpoint_ids: vec![],
                })
                .await
                .map(drop),
        ),
        (
            "delivery_ids",
            control
                .retry_deliveries(RetryDeliveriesRequest {
                    project_id: project_id.clone(),
                    delivery_ids: vec![endpoint_id.clone()],
                })
                .await
                .map(drop),
        ),
        (
            "since",
            control
                .recover_endpoint(RecoverEndpointRequest {
                    project_id: project_id.clone(),
                    endpoint_id: endpoint_id.clone(),
                    since: "yesterday".to_owned(),
                })
                .await
                .map(drop),
        ),
        (
            "project_id",
            control
                .refresh_endpoint_cache(RefreshEndpointCacheRequest {
                    project_id: "everything".to_owned(),
                })
                .await
                .map(drop),
        ),
    ];

    for (field, answer) in answers {
        let status = answer.expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(
            status.message().contains(field),
            "the message names {field}: {}",
            status.message()
        );
        // The same validation problem as every service's: 422, each field named.
        let problem = problem(&status);
        assert_eq!(problem["type"], "https://eventflow.dev/problems/validation");
        assert_eq!(problem["title"], "Unprocessable Content");
        assert_eq!(problem["status"], 422);
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        assert!(problem["errors"][0]["message"].is_string(), "{problem}");
    }
    let record = gateway.store.endpoint(endpoint.id).await.unwrap();
    assert!(!record.paused);
}

#[tokio::test]
async fn a_replay_made_while_an_attempt_is_in_flight_is_not_undone_by_that_attempts_result() {
    let gateway = spawn_gateway().await;
    let dispatcher = gateway.spawn_dispatcher().await;
    let sink = WebhookSink::start().await;
    sink.delay(Duration::from_millis(700));
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project, &sink.url("/a"), &["*"])
        .await;
    let event = post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {}}),
    )
    .await;
    sink.wait_for(1, WITHIN).await; // the first attempt is now in flight

    let replayed = control(&dispatcher)
        .await
        .replay_events(ReplayEventsRequest {
            project_id: project.to_string(),
            event_ids: vec![event.to_string()],
            endpoint_ids: vec![],
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(replayed.scheduled, 1);
    let received = sink.wait_for(2, WITHIN).await;
    assert_eq!(
        requests_for(&received, event).len(),
        2,
        "the replay is sent after the first attempt"
    );
    let delivery = delivery_of(event, endpoint.id);
    let state = wait_for_status(&gateway, delivery, DeliveryStatus::Succeeded).await;
    assert_eq!(
        state.generation, 1,
        "the state is the replay's, not the overtaken attempt's"
    );
    eventually("both attempts recorded", WITHIN, || async {
        (attempts(&gateway, delivery).await.len() == 2).then_some(())
    })
    .await;
}

/// The problem document a status carries in its metadata.
fn problem(status: &tonic::Status) -> Value {
    let json = status
        .metadata()
        .get_bin(PROBLEM_METADATA_KEY)
        .expect("a problem in the metadata")
        .to_bytes()
        .expect("base64 metadata");
    serde_json::from_slice(&json).expect("a JSON problem")
}

#[tokio::test]
async fn a_control_call_while_postgres_is_out_of_reach_answers_unavailable() {
    let gateway = spawn_gateway().await;
    let proxy = TcpProxy::start(TestDatabase::server_addr()).await;
    let database_url = gateway.db.url_through(proxy.addr());
    let dispatcher = gateway
        .spawn_dispatcher_with(|config| {
            config.service.database_url = database_url;
            config.service.database_timeout = Duration::from_secs(1);
        })
        .await;
    let mut control = control(&dispatcher).await;

    proxy.cut().await;
    let status = control
        .pause_endpoint(EndpointRequest {
            project_id: ProjectId::new().to_string(),
            endpoint_id: EndpointId::new().to_string(),
        })
        .await
        .expect_err("no database, no answer");

    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(
        problem(&status)["type"],
        "https://eventflow.dev/problems/unavailable"
    );
    assert_eq!(status.metadata().get("retry-after").unwrap(), "1");
}
