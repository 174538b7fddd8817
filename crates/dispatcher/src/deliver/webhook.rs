//! A webhook request as Standard Webhooks defines it: the body wraps the
//! event, and each attempt is signed afresh with its own timestamp (receivers
//! reject timestamps older than five minutes).

use bytes::Bytes;
use eventflow_domain::{EndpointSecret, format_rfc3339, signature_header};
use eventflow_store::StoredEvent;
use time::OffsetDateTime;

/// Header names receivers must not be able to override through custom headers.
const RESERVED_HEADERS: [&str; 8] = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "content-length",
    "host",
    "traceparent",
    "transfer-encoding",
];

/// Everything one attempt sends.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    pub url: reqwest::Url,
    /// Shared by every attempt of the event, to every endpoint: cloning it
    /// costs a reference count, not a copy.
    pub body: Bytes,
    pub headers: Vec<(String, String)>,
}

/// Returns the body `{"type", "timestamp", "data"}` with the payload's bytes
/// exactly as the producer sent them.
pub fn webhook_body(event: &StoredEvent) -> Bytes {
    let quoted = |text: &str| serde_json::Value::String(text.to_owned()).to_string();
    format!(
        r#"{{"type":{},"timestamp":{},"data":{}}}"#,
        quoted(&event.event_type),
        quoted(&format_rfc3339(event.occurred_at)),
        event.payload
    )
    .into()
}

/// Builds a signed request for one attempt at time `now`.
pub fn signed_request(
    url: &reqwest::Url,
    body: Bytes,
    event: &StoredEvent,
    secrets: &[&EndpointSecret],
    custom_headers: &[(String, String)],
    now: OffsetDateTime,
) -> WebhookRequest {
    let message_id = event.id.to_string();
    let timestamp = now.unix_timestamp();
    let signature = signature_header(secrets, &message_id, timestamp, &body);
    let mut headers: Vec<(String, String)> = custom_headers
        .iter()
        .filter(|(name, _)| !RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()))
        .cloned()
        .collect();
    headers.push(("content-type".into(), "application/json".into()));
    headers.push(("webhook-id".into(), message_id));
    headers.push(("webhook-timestamp".into(), timestamp.to_string()));
    headers.push(("webhook-signature".into(), signature));
    if let Some(traceparent) = &event.traceparent {
        headers.push(("traceparent".into(), traceparent.clone()));
    }
    WebhookRequest {
        url: url.clone(),
        body,
        headers,
    }
}

#[cfg(test)]
mod tests {
    use eventflow_domain::{EventId, ProjectId, verify};

    use super::*;

    fn event() -> StoredEvent {
        StoredEvent {
            id: EventId::new(),
            project_id: ProjectId::new(),
            event_type: "order.created".into(),
            payload: r#"{"b": 1,  "a": [1.50]}"#.into(),
            idempotency_key: None,
            occurred_at: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            received_at: OffsetDateTime::now_utc(),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        }
    }

    #[test]
    fn the_body_wraps_the_payload_bytes_unchanged() {
        let body = webhook_body(&event());
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"type":"order.created","timestamp":"2023-11-14T22:13:20.000000Z","data":{"b": 1,  "a": [1.50]}}"#
        );
        serde_json::from_slice::<serde_json::Value>(&body).unwrap();
    }

    #[test]
    fn the_request_is_signed_with_every_current_secret_and_keeps_reserved_headers() {
        let (old, new) = (EndpointSecret::generate(), EndpointSecret::generate());
        let event = event();
        let custom = vec![
            ("X-Team".to_owned(), "payments".to_owned()),
            ("Webhook-Id".to_owned(), "forged".to_owned()),
        ];
        let now = OffsetDateTime::now_utc();

        let request = signed_request(
            &reqwest::Url::parse("http://x").unwrap(),
            webhook_body(&event),
            &event,
            &[&new, &old],
            &custom,
            now,
        );

        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header("webhook-id").unwrap(), event.id.to_string());
        assert_eq!(
            header("webhook-timestamp").unwrap(),
            now.unix_timestamp().to_string()
        );
        assert_eq!(header("X-Team").unwrap(), "payments");
        assert!(
            header("Webhook-Id").is_none(),
            "custom headers cannot override webhook-id"
        );
        assert_eq!(header("traceparent"), event.traceparent);
        let signature = header("webhook-signature").unwrap();
        for secret in [&old, &new] {
            assert!(verify(
                secret,
                &event.id.to_string(),
                now.unix_timestamp(),
                &request.body,
                &signature
            ));
        }
    }
}
