//! The HTTP client used by every workload and the classification of transport failures.

use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Client, RequestBuilder, Url};

use crate::runner::Outcome;
use crate::stats::ErrorKind;

/// Builds an HTTP/1.1 keep-alive client whose pool holds one idle connection per
/// concurrent request. It bypasses any configured proxy, so that the benchmark measures
/// the server and not a proxy.
pub fn build_client(concurrency: usize, timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .timeout(timeout)
        .connect_timeout(timeout)
        .no_proxy()
        .user_agent(concat!("eventflow-bench/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")
}

/// Tells which kind of transport failure a request error is.
pub fn classify_transport_error(error: &reqwest::Error) -> ErrorKind {
    if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_connect() {
        ErrorKind::Connect
    } else {
        ErrorKind::Transport
    }
}

/// Returns a POST of the JSON `body` to `url` with the API key's `authorization`.
pub fn post_json(
    client: &Client,
    url: &Url,
    authorization: &HeaderValue,
    body: String,
) -> RequestBuilder {
    client
        .post(url.clone())
        .header(AUTHORIZATION, authorization.clone())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(body)
}

/// Sends `request`, reads the whole answer and lets `classify` judge its status, the
/// instant its head arrived and its body. A transport failure on the way fails all
/// `events` events the request carried.
pub async fn exchange(
    request: RequestBuilder,
    events: u64,
    classify: impl FnOnce(u16, Instant, &[u8]) -> Outcome,
) -> Outcome {
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Outcome::failed(classify_transport_error(&error), events),
    };
    let answered_at = Instant::now();
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(body) => classify(status, answered_at, &body),
        Err(error) => Outcome::failed(classify_transport_error(&error), events),
    }
}

/// Returns the `Authorization: Bearer <key>` value for an API key, marked sensitive so it
/// is never printed.
pub fn bearer_authorization(key: &str) -> anyhow::Result<HeaderValue> {
    let mut authorization = HeaderValue::try_from(format!("Bearer {key}"))
        .context("the API key contains characters not allowed in a header")?;
    authorization.set_sensitive(true);
    Ok(authorization)
}

/// Joins `path` to the base URL, keeping any path prefix the base already has.
pub fn endpoint_url(base: &Url, path: &str) -> anyhow::Result<Url> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    base.join(path)
        .with_context(|| format!("building the endpoint URL from {base}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_keeps_the_base_path() {
        let root: Url = "http://127.0.0.1:8080".parse().expect("valid URL");
        let prefixed: Url = "http://example.test/gateway".parse().expect("valid URL");
        assert_eq!(
            endpoint_url(&root, "v1/events").expect("joins").as_str(),
            "http://127.0.0.1:8080/v1/events"
        );
        assert_eq!(
            endpoint_url(&prefixed, "v1/events/batch")
                .expect("joins")
                .as_str(),
            "http://example.test/gateway/v1/events/batch"
        );
    }

    #[test]
    fn bearer_authorization_is_sensitive() {
        let value = bearer_authorization("efk_abc").expect("valid header");
        assert_eq!(value.to_str().expect("ascii"), "Bearer efk_abc");
        assert!(value.is_sensitive());
        assert!(bearer_authorization("bad\nkey").is_err());
    }
}
