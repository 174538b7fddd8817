//! The HTTP client deliveries go through. Every address it connects to is
//! checked against the SSRF policy after DNS resolution, inside the resolver
//! reqwest connects with, so a name that resolves to a private address (or
//! starts to, as in DNS rebinding) is refused at connect time. Literal IP
//! hosts are checked before the request. Redirects are never followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventflow_domain::{AddressPolicy, RefusedAddress};
use eventflow_runtime::api_error::ErrorChain;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use time::OffsetDateTime;

use super::webhook::WebhookRequest;

/// Timeouts and limits of delivery requests.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    /// Bytes of the response body kept with the attempt.
    pub max_response_bytes: usize,
    pub policy: AddressPolicy,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx answer within the timeout.
    Succeeded,
    /// Any other answer; `retry_after` when the receiver sent one with 429/503.
    Rejected {
        retry_after: Option<Duration>,
    },
    Timeout,
    /// No connection (refused, reset, DNS failure).
    ConnectFailed,
    /// The destination is not allowed; retrying will not help.
    Refused,
    Failed,
}

impl AttemptOutcome {
    /// The `error_kind` recorded with the attempt.
    pub fn error_kind(&self) -> Option<&'static str> {
        match self {
            Self::Succeeded => None,
            Self::Rejected { .. } => Some("http_status"),
            Self::Timeout => Some("timeout"),
            Self::ConnectFailed => Some("connect"),
            Self::Refused => Some("refused_address"),
            Self::Failed => Some("request"),
        }
    }
}

/// What one attempt observed.
#[derive(Debug, Clone)]
pub struct AttemptReport {
    pub outcome: AttemptOutcome,
    pub started_at: OffsetDateTime,
    pub duration: Duration,
    pub status_code: Option<u16>,
    pub response_body: Option<String>,
    /// A short description of the failure, for people.
    pub error: Option<String>,
}

/// Sends webhook requests over pooled keep-alive connections.
#[derive(Clone)]
pub struct DeliveryClient {
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
    max_response_bytes: usize,
}

impl DeliveryClient {
    pub fn new(settings: ClientSettings) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(settings.policy);
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.total_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("EventFlow/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(PolicyResolver {
                policy: policy.clone(),
            }))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()?;
        Ok(Self {
            client,
            policy,
            max_response_bytes: settings.max_response_bytes,
        })
    }

    /// Sends one attempt and reports how it went; never fails itself.
    pub async fn send(&self, request: &WebhookRequest) -> AttemptReport {
        let started_at = OffsetDateTime::now_utc();
        let clock = Instant::now();
        let report = |outcome, status_code, response_body, error: Option<String>| AttemptReport {
            outcome,
            started_at,
            duration: clock.elapsed(),
            status_code,
            response_body,
            error,
        };
        if let Err(refused) = self.check_literal_host(&request.url) {
            return report(
                AttemptOutcome::Refused,
                None,
                None,
                Some(refusal_text(&refused)),
            );
        }
        let mut builder = self
            .client
            .post(request.url.clone())
            .body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        match builder.send().await {
            Ok(response) => {
                let status = response.status();
                let retry_after = retry_after(&response);
                let body = self.read_capped_body(response).await;
                let outcome = if status.is_success() {
                    AttemptOutcome::Succeeded
                } else {
                    AttemptOutcome::Rejected { retry_after }
                };
                let error = (!status.is_success()).then(|| format!("receiver answered {status}"));
                report(outcome, Some(status.as_u16()), body, error)
            }
            Err(error) => {
                let (outcome, description) = classify(&error);
                report(outcome, None, None, Some(description))
            }
        }
    }

    fn check_literal_host(&self, url: &reqwest::Url) -> Result<(), RefusedAddress> {
        // Literal addresses never reach the resolver; IPv6 ones come bracketed.
        let ip: Option<IpAddr> = url.host_str().and_then(|host| {
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .ok()
        });
        ip.map_or(Ok(()), |ip| self.policy.check(ip))
    }

    /// Reads at most `max_response_bytes` of the body, then stops reading.
    async fn read_capped_body(&self, mut response: reqwest::Response) -> Option<String> {
        let mut body = Vec::new();
        while body.len() < self.max_response_bytes {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        body.truncate(self.max_response_bytes);
        if body.is_empty() {
            None
        } else {
            Some(String::from_utf8_lossy(&body).into_owned())
        }
    }
}

/// `Retry-After` in seconds on 429 and 503 answers.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let status = response.status().as_u16();
    if status != 429 && status != 503 {
        return None;
    }
    let seconds: u64 = response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

fn classify(error: &reqwest::Error) -> (AttemptOutcome, String) {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<RefusedAddress>() {
            return (AttemptOutcome::Refused, refusal_text(refused));
        }
        source = cause.source();
    }
    let description = ErrorChain(error).to_string();
    if error.is_timeout() {
        (AttemptOutcome::Timeout, description)
    } else if error.is_connect() {
        (AttemptOutcome::ConnectFailed, description)
    } else {
        (AttemptOutcome::Failed, description)
    }
}

/// What a refused delivery records, and so what its tenant reads.
const REFUSED_TEXT: &str = "refused: not a public address";

/// Logs which address was refused and why (for the operator), and returns
/// [`REFUSED_TEXT`]: the tenant never learns what a host name resolved to
/// inside the deployment's network.
fn refusal_text(refused: &RefusedAddress) -> String {
    tracing::info!(address = %refused.ip, reason = refused.reason, "delivery refused: not a public address");
    REFUSED_TEXT.to_owned()
}

/// Resolves names with the system resolver and keeps only allowed addresses.
struct PolicyResolver {
    policy: Arc<AddressPolicy>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match policy.check(addr.ip()) {
                    Ok(()) => true,
                    Err(refused) => {
                        refusal = Some(refused);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refusal) {
                (true, Some(refused)) => {
                    Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>)
                }
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}
