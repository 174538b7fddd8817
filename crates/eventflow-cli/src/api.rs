//! Talking to a running EventFlow: the query API for management, the ingest
//! gateway for `send`. Every refusal becomes a [`Failure`] that names the
//! status, echoes the API's `errors[]` and says what to do next; its
//! [`Exit`] code tells scripts what kind of failure it was.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The process exit codes, documented in `eventflow --help` and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Anything else (a bug, a local file that cannot be read, …).
    Failure = 1,
    /// The service refused the input (400, 409, 413, 422): fix the request.
    Invalid = 3,
    /// The key is missing, wrong, expired or lacks a scope (401, 403).
    Auth = 4,
    /// No such resource (404).
    NotFound = 5,
    /// The service cannot be reached, is overloaded (429) or failed (5xx): try again.
    Unavailable = 6,
    /// `status` found something unhealthy.
    Unhealthy = 7,
}

/// A failure to report: one line on stderr and an exit code; with `--json`
/// the service's problem document is printed on stdout as well.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    pub problem: Option<Value>,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
            problem: None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Which service a client talks to, for messages that point at the right one.
#[derive(Debug, Clone, Copy)]
pub enum Service {
    Query,
    Gateway,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Self::Query => "query API",
            Self::Gateway => "ingest gateway",
        }
    }

    /// How the user points the CLI at this service.
    fn setting(self) -> &'static str {
        match self {
            Self::Query => "--api-url or EVENTFLOW_URL (default http://127.0.0.1:8081)",
            Self::Gateway => {
                "--gateway-url or EVENTFLOW_GATEWAY_URL (default http://127.0.0.1:8080)"
            }
        }
    }
}

/// A client of one service with one key.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    key: String,
    service: Service,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str, key: &str, service: Service) -> anyhow::Result<Self> {
        let parsed = reqwest::Url::parse(base).map_err(|error| {
            Failure::new(
                Exit::Invalid,
                format!(
                    "invalid {} address {base:?} ({error}); set {}",
                    service.name(),
                    service.setting()
                ),
            )
        })?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        Ok(Self {
            base: parsed.as_str().trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            service,
            http,
        })
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        self.call(Method::GET, path, query, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(Method::POST, path, &[], Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(Method::PATCH, path, &[], Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::DELETE, path, &[], None).await
    }

    /// Sends one request and returns the JSON answer (null for an empty one),
    /// or a [`Failure`] describing the refusal.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base)).map_err(|error| {
            Failure::new(Exit::Invalid, format!("invalid path {path:?}: {error}"))
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self.http.request(method, url).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| self.unreachable(&error))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|error| self.unreachable(&error))?;
        let answer = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            Ok(answer)
        } else {
            Err(self.refusal(status, answer).into())
        }
    }

    fn unreachable(&self, error: &reqwest::Error) -> Failure {
        let cause = std::error::Error::source(error)
            .map(|source| format!(" ({source})"))
            .unwrap_or_default();
        let what = if error.is_timeout() {
            "did not answer in time"
        } else {
            "cannot be reached"
        };
        Failure::new(
            Exit::Unavailable,
            format!(
                "the {} at {} {what}{cause}: is it running? Start a local stack with scripts/dev.sh, check `eventflow status`, or set {}",
                self.service.name(),
                self.base,
                self.service.setting()
            ),
        )
    }

    fn refusal(&self, status: StatusCode, answer: Value) -> Failure {
        let exit = match status.as_u16() {
            401 | 403 => Exit::Auth,
            // 405: the path exists for another method, so most likely another service's.
            404 | 405 => Exit::NotFound,
            429 | 500..=599 => Exit::Unavailable,
            _ => Exit::Invalid,
        };
        let mut message = format!(
            "the {} refused the request: {}",
            self.service.name(),
            describe_problem(status, &answer)
        );
        if let Some(hint) = self.hint(status, &answer) {
            message.push_str("; ");
            message.push_str(&hint);
        }
        Failure {
            exit,
            message,
            problem: answer.is_object().then_some(answer),
        }
    }

    /// What to do about a refusal, when the status alone tells.
    fn hint(&self, status: StatusCode, answer: &Value) -> Option<String> {
        match status.as_u16() {
            401 => Some(
                "check the key: --key, EVENTFLOW_KEY or the profile's key (an efk_… API key, or the operator token)"
                    .into(),
            ),
            403 => Some(
                "use a key with the scope this needs (ingest, read or admin), or the operator token (the query API's EVENTFLOW_ADMIN_TOKEN) for projects and other projects' keys"
                    .into(),
            ),
            // A bare 404 (no problem document) means the route is not here at all.
            404 | 405 if !answer.is_object() || status == StatusCode::METHOD_NOT_ALLOWED => Some(format!(
                "no such route at {}: is {} the {}?",
                self.base,
                self.service.setting(),
                self.service.name()
            )),
            429 => Some("slow down and try again".into()),
            500..=599 => Some("try again; `eventflow status` shows which service is unhealthy".into()),
            _ => None,
        }
    }
}

/// `422 Unprocessable Content: detail (field: message; …)` from a problem document.
pub fn describe_problem(status: StatusCode, answer: &Value) -> String {
    let title = answer
        .get("title")
        .and_then(Value::as_str)
        .or(status.canonical_reason())
        .unwrap_or("error");
    let mut description = format!("{} {title}", status.as_u16());
    if let Some(detail) = answer.get("detail").and_then(Value::as_str) {
        description.push_str(": ");
        description.push_str(detail);
    }
    let errors = field_errors(answer);
    if !errors.is_empty() {
        description.push_str(&format!(" ({})", errors.join("; ")));
    }
    description
}

/// `field: message` for each entry of a problem's `errors[]` (just the
/// message when the field is empty).
pub fn field_errors(problem: &Value) -> Vec<String> {
    problem
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .map(|error| {
                    let field = error.get("field").and_then(Value::as_str).unwrap_or("");
                    let message = error.get("message").and_then(Value::as_str).unwrap_or("");
                    if field.is_empty() {
                        message.to_owned()
                    } else {
                        format!("{field}: {message}")
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_problem_names_the_status_detail_and_fields() {
        let answer = json!({
            "title": "Unprocessable Content",
            "status": 422,
            "detail": "the event is invalid",
            "errors": [{"field": "type", "message": "must not be empty"}, {"field": "", "message": "body: not JSON"}],
        });

        let description = describe_problem(StatusCode::UNPROCESSABLE_ENTITY, &answer);

        assert_eq!(
            description,
            "422 Unprocessable Content: the event is invalid (type: must not be empty; body: not JSON)"
        );
    }

    #[test]
    fn an_answer_without_a_problem_still_names_the_status() {
        let description = describe_problem(StatusCode::BAD_GATEWAY, &json!("upstream down"));

        assert_eq!(description, "502 Bad Gateway");
    }

    #[test]
    fn a_bare_404_asks_whether_the_address_is_the_right_service() {
        let api = Api::new("http://127.0.0.1:9", "k", Service::Query).unwrap();

        let failure = api.refusal(StatusCode::NOT_FOUND, Value::Null);

        assert_eq!(failure.exit, Exit::NotFound);
        assert!(
            failure.message.contains("EVENTFLOW_URL"),
            "{}",
            failure.message
        );
    }
}
