//! `eventflow status`: is each service up and ready, how far behind is the
//! dispatcher (stream length and consumer lag from its metrics), how many
//! deliveries wait or failed, which endpoints fail now. Exits 7 when a
//! service is down or not ready.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::api::{Api, Exit, Failure};
use crate::output::Output;
use crate::profile::Resolved;

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Deliveries counted per status at most (one page).
const COUNT_LIMIT: usize = 500;

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  eventflow status --json")]
pub struct Args {
    /// The dispatcher's HTTP address (health and metrics); default: the query API's host, port 8082.
    #[arg(long, env = "EVENTFLOW_DISPATCHER_URL")]
    dispatcher_url: Option<String>,
}

#[derive(Debug, Serialize)]
struct ServiceHealth {
    name: &'static str,
    url: String,
    /// `ready`, `not ready` or `down`.
    state: String,
}

#[derive(Debug, Serialize)]
struct Status {
    healthy: bool,
    services: Vec<ServiceHealth>,
    /// From the dispatcher's /metrics: entries read but not acknowledged, and not yet read.
    stream_pending: Option<f64>,
    consumer_lag: Option<f64>,
    retries_due: Option<f64>,
    /// Counted up to 500 (`500` means at least that many); null without a key.
    deliveries_pending: Option<usize>,
    deliveries_failed: Option<usize>,
    failing_endpoints: Vec<Value>,
}

pub async fn run(args: Args, resolved: &Resolved, output: &Output) -> anyhow::Result<()> {
    let dispatcher_url = args
        .dispatcher_url
        .clone()
        .unwrap_or_else(|| beside(&resolved.url, DISPATCHER_PORT));
    let http = reqwest::Client::builder().timeout(PROBE_TIMEOUT).build()?;
    let mut services = Vec::new();
    for (name, url) in [
        ("ingest-gateway", resolved.gateway_url.as_str()),
        ("query-api", resolved.url.as_str()),
        ("dispatcher", dispatcher_url.as_str()),
    ] {
        services.push(probe(&http, name, url).await);
    }
    let healthy = services.iter().all(|service| service.state == "ready");
    let metrics = read_metrics(&http, &dispatcher_url).await;
    let metric = |name: &str| metrics.as_deref().and_then(|text| gauge(text, name));
    let mut status = Status {
        healthy,
        services,
        stream_pending: metric("eventflow_stream_pending"),
        consumer_lag: metric("eventflow_stream_lag"),
        retries_due: metric("eventflow_retries_due"),
        deliveries_pending: None,
        deliveries_failed: None,
        failing_endpoints: Vec::new(),
    };
    if let Some(key) = resolved.key.as_deref().filter(|key| !key.is_empty()) {
        let api = Api::new(&resolved.url, key, crate::api::Service::Query)?;
        status.deliveries_pending = count(&api, "pending").await;
        status.deliveries_failed = count(&api, "failed").await;
        if let Ok(endpoints) = api.get("/v1/endpoints", &[]).await {
            status.failing_endpoints = endpoints
                .get("data")
                .and_then(Value::as_array)
                .map(|all| {
                    all.iter()
                        .filter(|endpoint| {
                            !endpoint.get("failing_since").is_none_or(Value::is_null)
                        })
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
        }
    }
    output.print(&status, || status_text(&status))?;
    if !status.healthy {
        return Err(Failure::new(Exit::Unhealthy, "a service is down or not ready").into());
    }
    Ok(())
}

/// The dispatcher's default HTTP port.
const DISPATCHER_PORT: u16 = 8082;

/// `url` with its port replaced: the dispatcher usually runs beside the query API.
fn beside(url: &str, port: u16) -> String {
    let fallback = || format!("http://127.0.0.1:{port}");
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return fallback();
    };
    match parsed.set_port(Some(port)) {
        Ok(()) => parsed.as_str().trim_end_matches('/').to_owned(),
        Err(()) => fallback(),
    }
}

async fn probe(http: &reqwest::Client, name: &'static str, url: &str) -> ServiceHealth {
    let base = url.trim_end_matches('/');
    let state = match http.get(format!("{base}/readyz")).send().await {
        Ok(response) if response.status().is_success() => "ready".to_owned(),
        Ok(response) => format!("not ready ({})", response.status().as_u16()),
        Err(_) => "down".to_owned(),
    };
    ServiceHealth {
        name,
        url: base.to_owned(),
        state,
    }
}

async fn read_metrics(http: &reqwest::Client, url: &str) -> Option<String> {
    let response = http
        .get(format!("{}/metrics", url.trim_end_matches('/')))
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.text().await.ok()
}

/// The value of an unlabelled gauge in Prometheus text.
fn gauge(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (metric, value) = line.split_once(' ')?;
            (metric == name).then(|| value.trim().parse().ok())?
        })
}

async fn count(api: &Api, status: &str) -> Option<usize> {
    let page = api
        .get(
            "/v1/deliveries",
            &[
                ("status", status.to_owned()),
                ("limit", COUNT_LIMIT.to_string()),
            ],
        )
        .await
        .ok()?;
    Some(page.get("data")?.as_array()?.len())
}

fn status_text(status: &Status) -> String {
    let mut lines: Vec<String> = status
        .services
        .iter()
        .map(|service| format!("{:<15} {:<10} {}", service.name, service.state, service.url))
        .collect();
    let shown = |value: Option<f64>| value.map_or("-".to_owned(), |value| value.to_string());
    lines.push(format!(
        "stream pending {}, consumer lag {}, retries due {}",
        shown(status.stream_pending),
        shown(status.consumer_lag),
        shown(status.retries_due)
    ));
    let counted = |value: Option<usize>| match value {
        Some(COUNT_LIMIT) => format!("{COUNT_LIMIT}+"),
        Some(value) => value.to_string(),
        None => "- (no key)".to_owned(),
    };
    lines.push(format!(
        "deliveries pending {}, failed {}",
        counted(status.deliveries_pending),
        counted(status.deliveries_failed)
    ));
    if status.failing_endpoints.is_empty() {
        lines.push("no endpoint is failing".to_owned());
    }
    for endpoint in &status.failing_endpoints {
        lines.push(format!(
            "failing: {} {} since {}",
            crate::output::cell(endpoint.get("id")),
            crate::output::cell(endpoint.get("url")),
            crate::output::cell(endpoint.get("failing_since"))
        ));
    }
    lines.push(
        if status.healthy {
            "healthy"
        } else {
            "UNHEALTHY"
        }
        .to_owned(),
    );
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dispatcher_is_looked_for_beside_the_query_api() {
        assert_eq!(
            beside("http://127.0.0.12:8081", 8082),
            "http://127.0.0.12:8082"
        );
        assert_eq!(beside("not a url", 8082), "http://127.0.0.1:8082");
    }

    #[test]
    fn a_gauge_is_read_from_prometheus_text() {
        let text = "# TYPE eventflow_stream_lag gauge\neventflow_stream_lag 12\neventflow_stream_lag_other 3\n";
        assert_eq!(gauge(text, "eventflow_stream_lag"), Some(12.0));
        assert_eq!(gauge(text, "eventflow_retries_due"), None);
    }
}
