//! The benchmark's own webhook receiver: an actix-web server on a loopback port chosen by
//! the system, with two workers, that answers `200` at once to `POST /ep/<n>` and records
//! in a [`DeliveryTracker`] when each delivery arrived, keyed by its `webhook-id` header
//! and the endpoint number `n`.
//!
//! It does not verify signatures: the benchmark measures delivery, and the dispatcher's
//! tests cover signing. A request without a valid `webhook-id` gets a 400 and one for an
//! unknown endpoint number a 404; both are counted as rejected, so a misconfiguration shows
//! in the report instead of vanishing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use eventflow_domain::EventId;

use crate::tracking::{Arrival, DeliveryTracker};

/// Worker threads of the receiver: enough for tens of thousands of tiny requests per
/// second while leaving the cores to the services under test.
const RECEIVER_WORKERS: usize = 2;
/// Largest webhook body read; larger bodies are cut off but still counted.
const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// What the receiver's handler shares.
struct ReceiverState {
    tracker: Arc<DeliveryTracker>,
    rejected: AtomicU64,
}

/// A running webhook receiver.
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<ReceiverState>,
    handle: ServerHandle,
}

impl Receiver {
    /// Binds 127.0.0.1 on a free port and starts serving, recording into `tracker`.
    pub fn start(tracker: Arc<DeliveryTracker>) -> anyhow::Result<Self> {
        let state = Arc::new(ReceiverState {
            tracker,
            rejected: AtomicU64::new(0),
        });
        let shared = web::Data::from(Arc::clone(&state));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .route("/ep/{endpoint}", web::post().to(receive_webhook))
        })
        .workers(RECEIVER_WORKERS)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .context("binding the webhook receiver on 127.0.0.1")?;
        let addr = *server
            .addrs()
            .first()
            .context("the webhook receiver has no address")?;
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self {
            addr,
            state,
            handle,
        })
    }

    /// Returns the URL of endpoint number `endpoint`: `http://127.0.0.1:<port>/ep/<n>`.
    pub fn endpoint_url(&self, endpoint: usize) -> String {
        format!("http://{}/ep/{endpoint}", self.addr)
    }

    /// Returns how many requests were refused (no valid `webhook-id`, unknown endpoint).
    pub fn rejected(&self) -> u64 {
        self.state.rejected.load(Ordering::Relaxed)
    }

    /// Stops serving at once; later deliveries are refused.
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Records one delivery and answers 200, or refuses a request the benchmark did not
/// expect.
async fn receive_webhook(
    request: HttpRequest,
    endpoint: web::Path<usize>,
    body: web::Payload,
    state: web::Data<ReceiverState>,
) -> HttpResponse {
    let arrived = Instant::now();
    // Reading the body keeps the connection reusable; its content does not matter.
    let _ = body.to_bytes_limited(BODY_LIMIT).await;
    let Some(event_id) = webhook_id(&request) else {
        state.rejected.fetch_add(1, Ordering::Relaxed);
        return HttpResponse::BadRequest().finish();
    };
    match state
        .tracker
        .record_arrival(event_id, endpoint.into_inner(), arrived)
    {
        Arrival::First | Arrival::Duplicate => HttpResponse::Ok().finish(),
        Arrival::UnknownEndpoint => {
            state.rejected.fetch_add(1, Ordering::Relaxed);
            HttpResponse::NotFound().finish()
        }
    }
}

/// Returns the event id in the `webhook-id` header, if there is a valid one.
fn webhook_id(request: &HttpRequest) -> Option<EventId> {
    let value = request.headers().get("webhook-id")?.to_str().ok()?;
    EventId::parse(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn post(url: &str, webhook_id: Option<&str>) -> u16 {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client builds");
        let mut request = client.post(url).body(r#"{"type":"bench.event"}"#);
        if let Some(id) = webhook_id {
            request = request.header("webhook-id", id);
        }
        request
            .send()
            .await
            .expect("the receiver answers")
            .status()
            .as_u16()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_receiver_records_deliveries_by_webhook_id_and_endpoint() {
        let tracker = Arc::new(DeliveryTracker::new(2));
        let receiver = Receiver::start(Arc::clone(&tracker)).expect("receiver starts");
        let id = EventId::new();
        tracker.record_ack(id, Instant::now(), true);
        let webhook_id = id.to_string();

        assert_eq!(
            post(&receiver.endpoint_url(1), Some(&webhook_id)).await,
            200
        );
        assert_eq!(
            post(&receiver.endpoint_url(1), Some(&webhook_id)).await,
            200
        );
        assert_eq!(
            post(&receiver.endpoint_url(0), Some(&webhook_id)).await,
            200
        );
        assert_eq!(
            post(&receiver.endpoint_url(2), Some(&webhook_id)).await,
            404
        );
        assert_eq!(post(&receiver.endpoint_url(0), Some("evt_nope")).await, 400);
        assert_eq!(post(&receiver.endpoint_url(0), None).await, 400);

        let counts = tracker.counts();
        assert_eq!((counts.delivered, counts.duplicates), (2, 1));
        assert_eq!(tracker.outstanding(), 0);
        assert_eq!(receiver.rejected(), 3);
        receiver.stop().await;
    }
}
