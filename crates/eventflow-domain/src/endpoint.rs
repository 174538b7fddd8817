//! The parts of an endpoint definition a user chooses: its URL, its custom headers and its
//! limits. Each type has one parser, the only place its rule lives: the query API, the CLI
//! and the store all take these types, so a value one of them accepts, every one accepts.
//!
//! URLs are parsed as the dispatcher's HTTP client parses them (WHATWG), so `http://0x7f.1/`
//! is seen here as the 127.0.0.1 it will reach. Host names are not resolved: the dispatcher
//! checks the resolved addresses when it connects; [`EndpointUrl::check_reachable`] refuses
//! IP literals and `localhost` names up front, under the operator's [`AddressPolicy`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use http::{HeaderName, HeaderValue};
use serde_json::Value;
use url::{Host, Url};

use crate::address::AddressPolicy;
use crate::error::DomainError;

fn invalid(field: &'static str, reason: impl Into<String>) -> DomainError {
    DomainError::InvalidEndpoint {
        field,
        reason: reason.into(),
    }
}

/// An endpoint's URL in its normalised (WHATWG-serialised) form: absolute http(s), with a
/// host, without user name or password, at most [`EndpointUrl::MAX_LEN`] characters as sent
/// and once percent-encoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointUrl(String);

impl EndpointUrl {
    /// Longest URL accepted, as sent and as stored.
    pub const MAX_LEN: usize = 2048;

    /// Parses `raw`, trimming surrounding spaces. The error's field is `url`.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let invalid = |reason: String| invalid("url", reason);
        let max = Self::MAX_LEN;
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(invalid("must not be empty".into()));
        }
        if raw.len() > max {
            return Err(invalid(format!("must be at most {max} characters")));
        }
        let url =
            Url::parse(raw).map_err(|error| invalid(format!("is not an absolute URL: {error}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("must use http or https".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("must not contain a user name or password".into()));
        }
        if url.host().is_none() {
            return Err(invalid("must name a host".into()));
        }
        // Percent-encoding and punycode can make the stored form several times longer than
        // what was sent; the limit is on what is stored and sent, so that what is accepted
        // is accepted again unchanged.
        let normalised: String = url.into();
        if normalised.len() > max {
            return Err(invalid(format!(
                "must be at most {max} characters once percent-encoded"
            )));
        }
        Ok(Self(normalised))
    }

    /// Refuses an IP literal or `localhost` name that `policy` does not allow, since a
    /// delivery to it would reach the service's own network. The error's field is `url`.
    pub fn check_reachable(&self, policy: &AddressPolicy) -> Result<(), DomainError> {
        let refused = |reason: String| invalid("url", reason);
        let check = |ip: IpAddr| {
            policy.check(ip).map_err(|address| {
                refused(format!(
                    "{address}; endpoints must be reachable from the internet"
                ))
            })
        };
        match self.parsed().host() {
            Some(Host::Ipv4(ip)) => check(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => check(IpAddr::V6(ip)),
            Some(Host::Domain(name)) => {
                let name = name.trim_end_matches('.');
                let is_localhost = name == "localhost" || name.ends_with(".localhost");
                let loopback_allowed = policy.check(IpAddr::V4(Ipv4Addr::LOCALHOST)).is_ok()
                    || policy.check(IpAddr::V6(Ipv6Addr::LOCALHOST)).is_ok();
                if is_localhost && !loopback_allowed {
                    return Err(refused(format!(
                        "names {name}, a loopback host; endpoints must be reachable from the internet"
                    )));
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Returns the normalised URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parsed(&self) -> Url {
        // Parsing the serialised form of a parsed URL gives it back: WHATWG guarantees it.
        Url::parse(&self.0).unwrap_or_else(|_| unreachable!("an EndpointUrl is a parsed URL"))
    }
}

impl FromStr for EndpointUrl {
    type Err = DomainError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<EndpointUrl> for String {
    fn from(url: EndpointUrl) -> Self {
        url.0
    }
}

/// Headers added to every delivery of an endpoint: names lower-cased, each given once, none
/// that EventFlow or HTTP sets itself, values that HTTP can carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointHeaders(BTreeMap<String, String>);

impl EndpointHeaders {
    /// Most headers one endpoint may add.
    pub const MAX_COUNT: usize = 32;
    /// Longest header value, in bytes.
    pub const MAX_VALUE_LEN: usize = 4096;

    /// Headers EventFlow sets itself (or that only the HTTP layer may set); any `webhook-…`
    /// name is reserved too.
    const RESERVED: [&'static str; 12] = [
        "content-type",
        "content-length",
        "content-encoding",
        "host",
        "traceparent",
        "tracestate",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
    ];

    /// Parses name and value pairs in the order given. The error's field is `headers`.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, DomainError> {
        let invalid = |reason: String| invalid("headers", reason);
        let max_value = Self::MAX_VALUE_LEN;
        let mut checked = BTreeMap::new();
        for (name, value) in pairs {
            if checked.len() == Self::MAX_COUNT {
                return Err(invalid(format!(
                    "must hold at most {} headers",
                    Self::MAX_COUNT
                )));
            }
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("{name:?} is not a valid header name")))?;
            let lower = header.as_str();
            if lower.starts_with("webhook-") || Self::RESERVED.contains(&lower) {
                return Err(invalid(format!(
                    "{name:?} is set by EventFlow or HTTP itself and cannot be overridden"
                )));
            }
            if value.len() > max_value || HeaderValue::from_str(value).is_err() {
                return Err(invalid(format!(
                    "the value of {name:?} must be at most {max_value} printable ASCII characters"
                )));
            }
            if checked.insert(lower.to_owned(), value.to_owned()).is_some() {
                return Err(invalid(format!(
                    "{name:?} is given twice (names ignore case)"
                )));
            }
        }
        Ok(Self(checked))
    }

    /// Parses a JSON object of header names to string values; null means none.
    pub fn from_json(value: &Value) -> Result<Self, DomainError> {
        let object = match value {
            Value::Null => return Ok(Self::default()),
            Value::Object(object) => object,
            _ => {
                return Err(invalid(
                    "headers",
                    "must be an object of header names to string values",
                ));
            }
        };
        if object.len() > Self::MAX_COUNT {
            return Err(invalid(
                "headers",
                format!("must hold at most {} headers", Self::MAX_COUNT),
            ));
        }
        let mut pairs = Vec::with_capacity(object.len());
        for (name, value) in object {
            let Value::String(value) = value else {
                return Err(invalid(
                    "headers",
                    format!("the value of {name:?} must be a string"),
                ));
            };
            pairs.push((name.as_str(), value.as_str()));
        }
        Self::parse(pairs)
    }

    /// Returns the headers as a JSON object, names in order.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(name, value)| (name.clone(), Value::String(value.clone())))
                .collect(),
        )
    }

    /// Returns each header, names lower-cased and in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// Returns whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How hard deliveries may hit one endpoint: an optional rate and a number in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointLimits {
    /// Deliveries per second, if limited; between 1 and [`EndpointLimits::MAX_RATE_PER_SECOND`].
    pub rate_limit_per_second: Option<u32>,
    /// Deliveries in flight at once; between 1 and [`EndpointLimits::MAX_CONCURRENCY`].
    pub max_concurrency: u32,
}

impl EndpointLimits {
    /// Deliveries per second an endpoint may ask for.
    pub const MAX_RATE_PER_SECOND: u32 = 100_000;
    /// Deliveries in flight an endpoint may ask for.
    pub const MAX_CONCURRENCY: u32 = 1000;
    /// Deliveries in flight when the user does not say.
    pub const DEFAULT_CONCURRENCY: u32 = 16;

    /// Parses both limits; the error's field is the first one out of range.
    pub fn parse(
        rate_limit_per_second: Option<i64>,
        max_concurrency: i64,
    ) -> Result<Self, DomainError> {
        Ok(Self {
            rate_limit_per_second: rate_limit_per_second
                .map(Self::parse_rate_limit_per_second)
                .transpose()?,
            max_concurrency: Self::parse_max_concurrency(max_concurrency)?,
        })
    }

    /// Parses a rate limit between 1 and the maximum; the error's field is
    /// `rate_limit_per_second`. Changing one limit alone goes through here.
    pub fn parse_rate_limit_per_second(rate: i64) -> Result<u32, DomainError> {
        in_range("rate_limit_per_second", rate, Self::MAX_RATE_PER_SECOND)
    }

    /// Parses a concurrency between 1 and the maximum; the error's field is
    /// `max_concurrency`. Changing one limit alone goes through here.
    pub fn parse_max_concurrency(limit: i64) -> Result<u32, DomainError> {
        in_range("max_concurrency", limit, Self::MAX_CONCURRENCY)
    }
}

fn in_range(field: &'static str, value: i64, max: u32) -> Result<u32, DomainError> {
    u32::try_from(value)
        .ok()
        .filter(|value| (1..=max).contains(value))
        .ok_or_else(|| invalid(field, format!("must be between 1 and {max}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reason(error: DomainError) -> String {
        match error {
            DomainError::InvalidEndpoint { reason, .. } => reason,
            other => panic!("not an endpoint error: {other}"),
        }
    }

    fn accepted_url(raw: &str, policy: &AddressPolicy) -> Result<String, String> {
        let url = EndpointUrl::parse(raw).map_err(reason)?;
        url.check_reachable(policy).map_err(reason)?;
        Ok(url.into())
    }

    fn no_private() -> AddressPolicy {
        AddressPolicy::default()
    }

    #[test]
    fn public_http_and_https_urls_are_accepted_and_normalised() {
        let cases = [
            ("https://example.com/hooks", "https://example.com/hooks"),
            (
                " http://Example.COM:8080/in?x=1 ",
                "http://example.com:8080/in?x=1",
            ),
            ("https://93.184.216.34/", "https://93.184.216.34/"),
            ("https://[2606:4700::1111]/x", "https://[2606:4700::1111]/x"),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                accepted_url(raw, &no_private()).as_deref(),
                Ok(expected),
                "{raw}"
            );
        }
    }

    #[test]
    fn other_schemes_credentials_and_private_addresses_are_refused() {
        let cases = [
            ("", "must not be empty"),
            ("example.com/hooks", "is not an absolute URL"),
            ("ftp://example.com/x", "http or https"),
            ("file:///etc/passwd", "http or https"),
            ("https://user:pw@example.com/x", "user name or password"),
            ("https://user@example.com/x", "user name or password"),
            ("http://10.0.0.1/", "private network"),
            ("http://169.254.169.254/latest", "cloud metadata"),
            ("http://127.0.0.1:9000/", "loopback"),
            ("http://0x7f.1/", "loopback"),
            ("http://2130706433/", "loopback"),
            ("http://[::1]/", "loopback"),
            ("http://[::ffff:10.0.0.1]/", "private network"),
            ("http://localhost/", "loopback host"),
            ("http://LOCALHOST./", "loopback host"),
            ("http://api.localhost:3000/", "loopback host"),
            ("http://0.0.0.0/", "unspecified"),
        ];
        for (raw, expected) in cases {
            let error = accepted_url(raw, &no_private()).unwrap_err();
            assert!(error.contains(expected), "{raw}: {error}");
        }
        let long = format!("https://example.com/{}", "a".repeat(EndpointUrl::MAX_LEN));
        assert_eq!(
            accepted_url(&long, &no_private()).unwrap_err(),
            "must be at most 2048 characters"
        );
    }

    #[test]
    fn an_endpoint_error_names_its_field() {
        let error = EndpointUrl::parse("ftp://example.com/").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid endpoint url: must use http or https"
        );
    }

    /// Found by the url_validation fuzz target: a URL under the limit as sent
    /// was accepted although its stored, percent-encoded form was over it, so
    /// the same URL sent back (an update) was refused.
    #[test]
    fn a_url_over_the_limit_once_percent_encoded_is_refused() {
        // "ό" is 2 bytes as sent and 6 (%CF%8C) once encoded.
        let raw = format!("https://example.com/?q={}", "ό".repeat(400));
        assert!(raw.len() <= EndpointUrl::MAX_LEN);
        let error = accepted_url(&raw, &no_private()).unwrap_err();
        assert!(error.contains("once percent-encoded"), "{error}");

        let fits = format!("https://example.com/?q={}", "ό".repeat(300));
        let accepted = accepted_url(&fits, &no_private()).unwrap();
        assert_eq!(
            accepted_url(&accepted, &no_private()).as_deref(),
            Ok(accepted.as_str()),
            "what is accepted is accepted again unchanged"
        );
    }

    #[test]
    fn the_allow_list_admits_private_literals_and_localhost() {
        let policy = AddressPolicy::parse_allow_list("127.0.0.0/8").unwrap();
        assert!(accepted_url("http://127.0.0.1:9000/in", &policy).is_ok());
        assert!(accepted_url("http://localhost:9000/in", &policy).is_ok());
        assert!(accepted_url("http://10.0.0.1/", &policy).is_err());
        assert!(accepted_url("http://169.254.169.254/", &policy).is_err());
    }

    #[test]
    fn headers_must_be_strings_with_valid_unreserved_names() {
        let checked =
            EndpointHeaders::from_json(&json!({"X-Tenant": "acme", "Authorization": "Bearer t"}))
                .unwrap();
        assert_eq!(
            checked.to_json(),
            json!({"authorization": "Bearer t", "x-tenant": "acme"})
        );
        assert_eq!(
            EndpointHeaders::from_json(&Value::Null).unwrap().to_json(),
            json!({})
        );

        let refused = [
            json!(["x"]),
            json!({"x-n": 1}),
            json!({"bad name": "x"}),
            json!({"x-a": "line\r\nbreak"}),
            json!({"x-a": "a".repeat(EndpointHeaders::MAX_VALUE_LEN + 1)}),
            json!({"Webhook-Signature": "v1,forged"}),
            json!({"webhook-id": "x"}),
            json!({"Content-Type": "text/plain"}),
            json!({"host": "evil.example"}),
            json!({"X-A": "1", "x-a": "2"}),
        ];
        for value in refused {
            assert!(EndpointHeaders::from_json(&value).is_err(), "{value}");
        }
        let many: serde_json::Map<String, Value> = (0..=EndpointHeaders::MAX_COUNT)
            .map(|i| (format!("x-{i}"), json!("v")))
            .collect();
        assert!(EndpointHeaders::from_json(&Value::Object(many)).is_err());
    }

    #[test]
    fn header_pairs_follow_the_same_rules_as_json() {
        let pairs = [("X-Tenant", "acme"), ("x-tenant", "other")];
        assert_eq!(
            reason(EndpointHeaders::parse(pairs).unwrap_err()),
            "\"x-tenant\" is given twice (names ignore case)"
        );
        let many: Vec<(String, String)> = (0..=EndpointHeaders::MAX_COUNT)
            .map(|i| (format!("x-{i}"), "v".to_owned()))
            .collect();
        let error =
            EndpointHeaders::parse(many.iter().map(|(n, v)| (n.as_str(), v.as_str()))).unwrap_err();
        assert_eq!(reason(error), "must hold at most 32 headers");
    }

    #[test]
    fn limits_must_be_in_range() {
        assert_eq!(EndpointLimits::parse_max_concurrency(1), Ok(1));
        assert_eq!(EndpointLimits::parse_max_concurrency(1000), Ok(1000));
        for bad in [0, -1, 1001, i64::MAX] {
            assert!(EndpointLimits::parse_max_concurrency(bad).is_err(), "{bad}");
        }
        assert_eq!(EndpointLimits::parse_rate_limit_per_second(50), Ok(50));
        assert!(EndpointLimits::parse_rate_limit_per_second(0).is_err());
        assert!(EndpointLimits::parse_rate_limit_per_second(100_001).is_err());
        assert!(EndpointLimits::parse_rate_limit_per_second(i64::from(i32::MAX) + 1).is_err());
        assert_eq!(
            EndpointLimits::parse(Some(0), 5).unwrap_err(),
            DomainError::InvalidEndpoint {
                field: "rate_limit_per_second",
                reason: "must be between 1 and 100000".into()
            }
        );
        assert_eq!(
            EndpointLimits::parse(None, 5),
            Ok(EndpointLimits {
                rate_limit_per_second: None,
                max_concurrency: 5
            })
        );
    }
}
