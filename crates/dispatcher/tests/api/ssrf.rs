//! Deliveries never reach addresses inside the service's own network: with
//! no allow-list, private, loopback, link-local, metadata and unspecified
//! destinations are refused before a connection is made, whether written as
//! an address (IPv4, IPv6, IPv4-mapped, a bare number) or as a name that
//! resolves to one. A refusal is recorded with its reason and never retried.
//! Redirects are not followed, so a receiver cannot bounce a delivery
//! somewhere else.
//!
//! No test here sends a packet off the machine: the outside addresses are
//! refused before connecting, which the attempt's `refused_address` kind
//! (not `connect`) and its duration show.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use eventflow_domain::AddressPolicy;
use eventflow_store::DeliveryStatus;
use eventflow_test_support::{
    Reply, STEPPED_RETRY_POLL, TestDispatcher, TestGateway, WebhookSink, spawn_gateway,
};
use serde_json::json;

use crate::scenario::{attempts, delivery_of, post_event, take_due_step, wait_for_status};

/// A listener that only counts connections, for addresses no sink listens on.
struct Tripwire {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl Tripwire {
    async fn bind(addr: &str) -> Self {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .unwrap_or_else(|error| panic!("bind {addr}: {error}"));
        let local = listener.local_addr().expect("tripwire address");
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        Self {
            addr: local,
            connections,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A gateway and a dispatcher whose allow-list is empty, as in production.
async fn spawn_without_allow_list() -> (TestGateway, TestDispatcher) {
    let gateway = spawn_gateway().await;
    let dispatcher = gateway
        .spawn_dispatcher_with(|config| {
            config.endpoint_allow_nets = AddressPolicy::default();
            config.retry_poll_interval = STEPPED_RETRY_POLL;
        })
        .await;
    (gateway, dispatcher)
}

/// What the tenant reads for every refused address: never the address, nor
/// what a name resolved to.
const REFUSED: &str = "refused: not a public address";

/// Delivers one event to `url` and checks it was refused: status `refused`,
/// one quick `refused_address` attempt, nothing due for a retry, and an
/// error naming no address.
async fn assert_refused(gateway: &TestGateway, dispatcher: &TestDispatcher, url: &str) {
    let (project, key) = gateway.create_project_with_key("ingest").await;
    let endpoint = gateway.create_endpoint(project, url, &["order.*"]).await;

    let event = post_event(
        gateway,
        &key,
        &json!({"type": "order.created", "payload": {}}),
    )
    .await;

    let delivery = delivery_of(event, endpoint.id);
    let state = wait_for_status(gateway, delivery, DeliveryStatus::Refused).await;
    assert_eq!(state.last_error.as_deref(), Some(REFUSED), "{url}");
    assert_eq!(
        state.next_attempt_at, None,
        "{url}: nothing more is scheduled"
    );
    assert_eq!(take_due_step(dispatcher).await, 0, "{url}: nothing is due");
    let attempts = attempts(gateway, delivery).await;
    assert_eq!(attempts.len(), 1, "{url}: refused once, never retried");
    let attempt = &attempts[0];
    assert_eq!(
        attempt.error_kind.as_deref(),
        Some("refused_address"),
        "{url}"
    );
    assert_eq!(attempt.status_code, None, "{url}");
    assert!(
        attempt.duration < Duration::from_millis(250),
        "{url}: refused before connecting, took {:?}",
        attempt.duration
    );
    let state = wait_for_status(gateway, delivery, DeliveryStatus::Refused).await;
    assert_eq!(state.attempt_count, 1, "{url}");
}

#[tokio::test]
async fn a_delivery_to_the_cloud_metadata_address_is_refused() {
    let (gateway, dispatcher) = spawn_without_allow_list().await;

    assert_refused(
        &gateway,
        &dispatcher,
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    )
    .await;
}

#[tokio::test]
async fn a_delivery_to_a_private_network_address_is_refused() {
    let (gateway, dispatcher) = spawn_without_allow_list().await;

    assert_refused(&gateway, &dispatcher, "http://10.0.0.1/hooks").await;
}

#[tokio::test]
async fn a_delivery_to_ipv4_loopback_is_refused_without_an_allow_list() {
    let (gateway, dispatcher) = spawn_without_allow_list().await;
    let sink = WebhookSink::start().await;

    assert_refused(&gateway, &dispatcher, &sink.url("/hooks")).await;

    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn a_delivery_to_ipv6_loopback_is_refused() {
    let (gateway, dispatcher) = spawn_without_allow_list().await;
    let receiver = Tripwire::bind("[::1]:0").await;

    let url = format!("http://[::1]:{}/hooks", receiver.addr.port());
    assert_refused(&gateway, &dispatcher, &url).await;

    assert_eq!(receiver.connections(), 0);
}

#[tokio::test]
async fn a_delivery_to_an_ipv4_mapped_ipv6_loopback_address_is_refused() {
    let (gateway, dispatcher) = spawn_without_allow_list().await;
    let sink = WebhookSink::start().await;

    let url = format!("http://[::ffff:127.0.0.1]:{}/hooks", sink.addr().port());
    assert_refused(&gateway, &dispatcher, &url).await;

    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn a_delivery_to_loopback_written_as_a_single_number_is_refused() {
    let (gateway, dispatcher) = spawn_without_allow_list().await;
    let sink = WebhookSink::start().await;

    // 2130706433 is 127.0.0.1, as URL parsers read it.
    let url = format!("http://2130706433:{}/hooks", sink.addr().port());
    assert_refused(&gateway, &dispatcher, &url).await;

    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn a_delivery_to_the_unspecified_address_is_refused() {
    let (gateway, dispatcher) = spawn_without_allow_list().await;
    let sink = WebhookSink::start().await;

    // Connecting to 0.0.0.0 reaches this machine on Linux.
    let url = format!("http://0.0.0.0:{}/hooks", sink.addr().port());
    assert_refused(&gateway, &dispatcher, &url).await;

    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn a_delivery_to_a_host_name_that_resolves_to_loopback_is_refused() {
    let (gateway, dispatcher) = spawn_without_allow_list().await;
    let sink = WebhookSink::start().await;

    let url = format!("http://localhost:{}/hooks", sink.addr().port());
    assert_refused(&gateway, &dispatcher, &url).await;

    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn a_redirect_is_not_followed_even_to_an_allowed_address() {
    let gateway = spawn_gateway().await;
    // The test allow-list lets deliveries reach 127.0.0.0/8.
    let _dispatcher = gateway.spawn_dispatcher().await;
    let elsewhere = WebhookSink::start().await;
    let sink = WebhookSink::start().await;
    sink.always(Reply::Redirect(elsewhere.url("/stolen")));
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
    let state = wait_for_status(&gateway, delivery, DeliveryStatus::Failed).await;
    assert_eq!(state.last_status_code, Some(302));
    assert_eq!(sink.received().len(), 3, "every attempt of the schedule");
    assert!(
        elsewhere.received().is_empty(),
        "the redirect target is never asked"
    );
    let attempts = attempts(&gateway, delivery).await;
    assert_eq!(attempts.len(), 3);
    assert!(attempts.iter().all(|attempt| {
        attempt.status_code == Some(302) && attempt.error_kind.as_deref() == Some("http_status")
    }));
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_recorded_as_a_failed_answer() {
    let gateway = spawn_gateway().await;
    let _dispatcher = gateway.spawn_dispatcher().await;
    let sink = WebhookSink::start().await;
    sink.always(Reply::Redirect("http://10.0.0.1/x".to_owned()));
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
    let attempts = attempts(&gateway, delivery).await;
    // Had the redirect been followed, the attempt would show 10.0.0.1's
    // refusal or a connection failure, not the receiver's 302.
    assert_eq!(attempts.len(), 3);
    assert!(attempts.iter().all(|attempt| {
        attempt.status_code == Some(302) && attempt.error_kind.as_deref() == Some("http_status")
    }));
}
