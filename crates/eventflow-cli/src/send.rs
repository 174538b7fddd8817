//! `eventflow send`: posts one event to an ingest gateway, as a producer would.

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::output::Output;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Base URL of the ingest gateway.
    #[arg(
        long,
        env = "EVENTFLOW_GATEWAY_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    url: String,
    /// API key with the `ingest` scope (efk_…).
    #[arg(long, env = "EVENTFLOW_API_KEY", hide_env_values = true)]
    key: String,
    /// Event type, e.g. order.created.
    #[arg(long = "type")]
    event_type: String,
    /// The payload as JSON.
    #[arg(long, default_value = "{}")]
    payload: String,
    /// Sending the same key again returns the first event instead of a new one.
    #[arg(long)]
    idempotency_key: Option<String>,
}

/// The gateway's answer to an accepted event.
#[derive(Debug, Deserialize)]
struct Accepted {
    id: String,
    #[serde(default)]
    duplicate: bool,
}

/// The RFC 9457 body of a refusal; every field is optional so any body reads.
#[derive(Debug, Default, Deserialize)]
struct Problem {
    title: Option<String>,
    detail: Option<String>,
    #[serde(default)]
    errors: Vec<FieldError>,
}

#[derive(Debug, Deserialize)]
struct FieldError {
    field: String,
    message: String,
}

pub async fn run(args: Args, output: &Output) -> anyhow::Result<()> {
    let base = Url::parse(&args.url).with_context(|| format!("invalid --url {:?}", args.url))?;
    let endpoint = format!("{}/v1/events", base.as_str().trim_end_matches('/'));
    let payload: Value =
        serde_json::from_str(&args.payload).context("invalid --payload: not JSON")?;
    let mut body = json!({"type": args.event_type, "payload": payload});
    if let Some(key) = args.idempotency_key {
        body["idempotency_key"] = Value::String(key);
    }

    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("cannot build the HTTP client")?;
    let response = client
        .post(&endpoint)
        .bearer_auth(&args.key)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("cannot reach the gateway at {endpoint}"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .context("cannot read the gateway's answer")?;
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));

    if status.is_success() {
        let accepted: Accepted = serde_json::from_value(answer.clone())
            .context("the gateway's answer has no event id")?;
        return output.print(&answer, || {
            if accepted.duplicate {
                format!(
                    "{} (already stored under this idempotency key)",
                    accepted.id
                )
            } else {
                accepted.id.clone()
            }
        });
    }
    if output.is_json() {
        // The problem document itself, for scripts; the one-line error follows on stderr.
        output.print(&answer, String::new)?;
    }
    bail!(
        "the gateway refused the event: {}",
        describe_refusal(status, &answer)
    )
}

/// Returns `422 Unprocessable Content: detail (field: message, …)` from a problem body.
fn describe_refusal(status: reqwest::StatusCode, answer: &Value) -> String {
    let problem: Problem = serde_json::from_value(answer.clone()).unwrap_or_default();
    let title = problem
        .title
        .as_deref()
        .or(status.canonical_reason())
        .unwrap_or("error");
    let mut description = format!("{} {title}", status.as_u16());
    if let Some(detail) = problem.detail {
        description.push_str(&format!(": {detail}"));
    }
    if !problem.errors.is_empty() {
        let fields: Vec<String> = problem
            .errors
            .iter()
            .map(|error| format!("{}: {}", error.field, error.message))
            .collect();
        description.push_str(&format!(" ({})", fields.join("; ")));
    }
    description
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_status_detail_and_fields() {
        let answer = json!({
            "type": "https://eventflow.dev/problems/invalid-event",
            "title": "Unprocessable Content",
            "status": 422,
            "detail": "the event is invalid",
            "errors": [{"field": "type", "message": "must not be empty"}],
        });

        let description = describe_refusal(reqwest::StatusCode::UNPROCESSABLE_ENTITY, &answer);

        assert_eq!(
            description,
            "422 Unprocessable Content: the event is invalid (type: must not be empty)"
        );
    }

    #[test]
    fn a_refusal_without_a_problem_body_still_names_the_status() {
        let description = describe_refusal(
            reqwest::StatusCode::BAD_GATEWAY,
            &Value::String("upstream down".into()),
        );

        assert_eq!(description, "502 Bad Gateway");
    }
}
