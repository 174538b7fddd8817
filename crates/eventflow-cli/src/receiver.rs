//! A local webhook receiver: verifies each delivery's Standard Webhooks
//! signature, optionally forwards it, and hands what it saw to the caller.
//! `eventflow listen` and the demo endpoint of `eventflow dev` use it.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use eventflow_domain::{EndpointSecret, verify};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

/// Deliveries older or newer than this are refused (Standard Webhooks' advice).
const TIMESTAMP_TOLERANCE_SECONDS: i64 = 5 * 60;
/// The largest delivery body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// One delivery as received.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    /// `webhook-id`: the event's id.
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub verified: bool,
    /// Why it was refused, when it was.
    pub problem: Option<String>,
    /// The body's `data`: the event's payload.
    pub data: Value,
    /// The status the forward target answered, or the error reaching it.
    pub forwarded: Option<String>,
    /// The status this receiver answered.
    pub answered: u16,
}

/// What the receiver needs; the secrets are set once the endpoint exists.
#[derive(Clone)]
struct Shared {
    secrets: Arc<RwLock<Vec<EndpointSecret>>>,
    forward_to: Option<String>,
    http: reqwest::Client,
    seen: mpsc::UnboundedSender<Received>,
}

/// A running receiver.
pub struct Receiver {
    pub addr: SocketAddr,
    secrets: Arc<RwLock<Vec<EndpointSecret>>>,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Receiver {
    /// Listens on `addr`; every delivery is sent to the returned channel.
    pub fn start(
        addr: SocketAddr,
        forward_to: Option<String>,
    ) -> anyhow::Result<(Self, mpsc::UnboundedReceiver<Received>)> {
        let (seen, deliveries) = mpsc::unbounded_channel();
        let secrets = Arc::new(RwLock::new(Vec::new()));
        let shared = Shared {
            secrets: secrets.clone(),
            forward_to,
            http: reqwest::Client::builder()
                .timeout(FORWARD_TIMEOUT)
                .build()?,
            seen,
        };
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(web::Data::new(shared.clone()))
                .app_data(web::PayloadConfig::new(MAX_BODY))
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .bind(addr)?;
        let addr = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| anyhow::anyhow!("the receiver has no address"))?;
        let server = server.run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        Ok((
            Self {
                addr,
                secrets,
                handle,
                task,
            },
            deliveries,
        ))
    }

    /// The secrets deliveries are verified with (current and previous).
    pub fn set_secrets(&self, secrets: Vec<EndpointSecret>) {
        if let Ok(mut held) = self.secrets.write() {
            *held = secrets;
        }
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
    }
}

/// The secrets of a `GET /v1/endpoints/{id}/secret` answer.
pub fn secrets_of(answer: &Value) -> anyhow::Result<Vec<EndpointSecret>> {
    ["secret", "previous_secret"]
        .iter()
        .filter_map(|field| answer.get(*field).and_then(Value::as_str))
        .map(|raw| EndpointSecret::parse(raw).map_err(anyhow::Error::from))
        .collect()
}

async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let id = header("webhook-id");
    let problem = check(
        &shared,
        &id,
        &header("webhook-timestamp"),
        &header("webhook-signature"),
        &body,
    );
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut received = Received {
        id,
        event_type: crate::output::cell(parsed.get("type")),
        verified: problem.is_none(),
        problem,
        data: parsed.get("data").cloned().unwrap_or(Value::Null),
        forwarded: None,
        answered: 204,
    };
    if !received.verified {
        received.answered = 401;
    } else if let Some(target) = &shared.forward_to {
        let (answer, status) = forward(&shared.http, target, &request, body).await;
        received.forwarded = Some(answer);
        received.answered = status;
    }
    let answered = received.answered;
    let _ = shared.seen.send(received);
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(answered)
            .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
    )
    .finish()
}

/// None when the delivery is signed by a known secret within the tolerance.
fn check(
    shared: &Shared,
    id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
) -> Option<String> {
    if id.is_empty() || signature.is_empty() {
        return Some("no webhook-id or webhook-signature header".into());
    }
    let Ok(timestamp) = timestamp.parse::<i64>() else {
        return Some("no valid webhook-timestamp header".into());
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if (now - timestamp).abs() > TIMESTAMP_TOLERANCE_SECONDS {
        return Some("webhook-timestamp is more than 5 minutes away".into());
    }
    let secrets = shared.secrets.read().ok()?;
    if secrets.is_empty() {
        return Some("no secret known yet".into());
    }
    let good = secrets
        .iter()
        .any(|secret| verify(secret, id, timestamp, body, signature));
    (!good).then(|| "signature does not match".to_owned())
}

/// Posts the delivery on with its webhook headers; returns what to print and
/// the status to answer (the target's, so its failures are retried).
async fn forward(
    http: &reqwest::Client,
    target: &str,
    request: &HttpRequest,
    body: web::Bytes,
) -> (String, u16) {
    let mut forwarded = http
        .post(target)
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in request.headers() {
        if let (true, Ok(value)) = (name.as_str().starts_with("webhook-"), value.to_str()) {
            forwarded = forwarded.header(name.as_str(), value);
        }
    }
    match forwarded.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status.to_string(), status)
        }
        Err(error) => (format!("error: {error}"), 502),
    }
}
