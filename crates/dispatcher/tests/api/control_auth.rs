//! `DispatchControl` admits only callers presenting the shared internal
//! token, and refuses lists of ids that are too long or name an id twice
//! with INVALID_ARGUMENT, before touching anything.

use eventflow_domain::{DeliveryId, EndpointId, EventId, ProjectId};
use eventflow_proto::dispatch::v1::{
    EndpointRequest, RefreshEndpointCacheRequest, ReplayEventsRequest, RetryDeliveriesRequest,
};
use eventflow_runtime::internal_auth::InternalToken;
use eventflow_store::DeliveryStatus;
use eventflow_test_support::{WebhookSink, spawn_gateway};
use serde_json::json;
use tonic::Code;

use crate::scenario::{
    control, control_with, delivery_of, delivery_state, post_event, wait_for_status,
};
use crate::{spawn_app, spawn_app_on, test_config};

fn refresh_all() -> RefreshEndpointCacheRequest {
    RefreshEndpointCacheRequest {
        project_id: String::new(),
    }
}

#[tokio::test]
async fn control_calls_without_the_internal_token_are_unauthenticated() {
    let app = spawn_app().await;
    let mut anonymous = control_with(&app, None).await;
    let wrong = InternalToken::new("not-the-internal-token-42").unwrap();
    let mut impostor = control_with(&app, Some(&wrong)).await;

    let missing = anonymous.refresh_endpoint_cache(refresh_all()).await;
    let pause = anonymous
        .pause_endpoint(EndpointRequest {
            project_id: ProjectId::new().to_string(),
            endpoint_id: EndpointId::new().to_string(),
        })
        .await;
    let mismatched = impostor.refresh_endpoint_cache(refresh_all()).await;

    assert_eq!(missing.unwrap_err().code(), Code::Unauthenticated);
    assert_eq!(pause.unwrap_err().code(), Code::Unauthenticated);
    let mismatched = mismatched.unwrap_err();
    assert_eq!(mismatched.code(), Code::Unauthenticated);
    assert_eq!(mismatched.message(), "invalid internal token");
    control(&app)
        .await
        .refresh_endpoint_cache(refresh_all())
        .await
        .expect("the right token is admitted");
}

#[tokio::test]
async fn a_dispatcher_without_an_internal_token_refuses_every_control_call() {
    let db = eventflow_test_support::TestDatabase::create().await;
    let mut config = test_config(db.url());
    config.internal_token = None;
    let app = spawn_app_on(db, config).await;

    let refused = control(&app)
        .await
        .refresh_endpoint_cache(refresh_all())
        .await;

    let refused = refused.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(
        refused.message().contains("internal_token"),
        "{}",
        refused.message()
    );
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200, "the dispatcher still runs");
}

#[tokio::test]
async fn duplicate_ids_are_invalid_arguments_naming_the_list() {
    let gateway = spawn_gateway().await;
    let dispatcher = gateway.spawn_dispatcher().await;
    let sink = WebhookSink::start().await;
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway
        .create_endpoint(project, &sink.url("/a"), &["order.*"])
        .await;
    let event = post_event(
        &gateway,
        &key,
        &json!({"type": "order.created", "payload": {}}),
    )
    .await;
    let delivery = delivery_of(event, endpoint.id);
    wait_for_status(&gateway, delivery, DeliveryStatus::Succeeded).await;
    let mut control = control(&dispatcher).await;

    let twice_to_one_endpoint = control
        .replay_events(ReplayEventsRequest {
            project_id: project.to_string(),
            event_ids: vec![event.to_string()],
            endpoint_ids: vec![endpoint.id.to_string(), endpoint.id.to_string()],
        })
        .await
        .unwrap_err();
    let one_event_twice = control
        .replay_events(ReplayEventsRequest {
            project_id: project.to_string(),
            event_ids: vec![event.to_string(), event.to_string()],
            endpoint_ids: vec![],
        })
        .await
        .unwrap_err();
    let one_delivery_twice = control
        .retry_deliveries(RetryDeliveriesRequest {
            project_id: project.to_string(),
            delivery_ids: vec![delivery.to_string(), delivery.to_string()],
        })
        .await
        .unwrap_err();

    for (status, field) in [
        (twice_to_one_endpoint, "endpoint_ids"),
        (one_event_twice, "event_ids"),
        (one_delivery_twice, "delivery_ids"),
    ] {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(
            status.message().starts_with(field) && status.message().contains("more than once"),
            "{}",
            status.message()
        );
    }
    let state = delivery_state(&gateway, delivery).await.unwrap();
    assert_eq!(
        state.status,
        DeliveryStatus::Succeeded,
        "nothing was scheduled again"
    );
    assert_eq!(state.attempt_count, 1);
}

#[tokio::test]
async fn more_ids_than_the_cap_are_an_invalid_argument_naming_the_cap() {
    let app = spawn_app().await;
    let mut control = control(&app).await;
    let project = ProjectId::new().to_string();
    let events: Vec<String> = (0..1001).map(|_| EventId::new().to_string()).collect();
    let deliveries: Vec<String> = (0..1001)
        .map(|_| DeliveryId::for_event_endpoint(EventId::new(), EndpointId::new()).to_string())
        .collect();

    let replay = control
        .replay_events(ReplayEventsRequest {
            project_id: project.clone(),
            event_ids: events,
            endpoint_ids: vec![],
        })
        .await
        .unwrap_err();
    let retry = control
        .retry_deliveries(RetryDeliveriesRequest {
            project_id: project,
            delivery_ids: deliveries,
        })
        .await
        .unwrap_err();

    for (status, field) in [(replay, "event_ids"), (retry, "delivery_ids")] {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(
            status.message(),
            format!("{field}: at most 1000 ids per call, got 1001")
        );
    }
}

#[tokio::test]
async fn refresh_endpoint_cache_succeeds_for_every_project_or_one() {
    let app = spawn_app().await;
    let mut control = control(&app).await;

    let all = RefreshEndpointCacheRequest {
        project_id: String::new(),
    };
    control.refresh_endpoint_cache(all).await.unwrap();
    let one = RefreshEndpointCacheRequest {
        project_id: eventflow_domain::ProjectId::new().to_string(),
    };
    control.refresh_endpoint_cache(one).await.unwrap();

    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn refresh_endpoint_cache_refuses_a_malformed_project_id() {
    let app = spawn_app().await;
    let mut control = control(&app).await;

    let request = RefreshEndpointCacheRequest {
        project_id: "ep_123".to_owned(),
    };
    let status = control.refresh_endpoint_cache(request).await.unwrap_err();

    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("invalid project id"),
        "{}",
        status.message()
    );
    app.shutdown().await.unwrap();
}
