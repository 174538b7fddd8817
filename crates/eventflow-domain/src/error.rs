//! The one error type of the domain crate.
//!
//! Every message is written for the API user who sent the value: it names the field kind,
//! quotes the offending input (clipped, never a secret) and says what was expected. Edges
//! map any `DomainError` to a 4xx response and may show `to_string()` as is.

/// Longest input, in characters, quoted back in an error message; longer input is clipped so
/// a hostile value cannot blow up a response or a log line.
const MAX_QUOTED_CHARS: usize = 128;

/// Describes why a raw value could not become a domain type.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum DomainError {
    /// A prefixed id (`evt_…`, `ep_…`) was malformed or had another type's prefix.
    #[error(
        "invalid {kind} id {raw:?}: expected \"{prefix}_\" followed by 32 lowercase hex digits",
        prefix = crate::id::prefix_for_kind(kind)
    )]
    InvalidId {
        /// The id's noun, such as `event` or `endpoint`.
        kind: &'static str,
        /// The rejected input, clipped.
        raw: String,
    },

    /// An event type broke the naming rules of [`crate::EventType`].
    #[error("invalid event type {raw:?}: {reason}")]
    InvalidEventType { raw: String, reason: &'static str },

    /// An idempotency key was empty, too long or had characters outside `!`..=`~`; the key
    /// itself is not quoted because producers sometimes derive it from private data.
    #[error("invalid idempotency key: {reason}")]
    InvalidIdempotencyKey { reason: &'static str },

    /// A scope list was empty or named an unknown scope.
    #[error(
        "invalid scope {raw:?}: expected a comma-separated list of \"ingest\", \"read\" and \"admin\""
    )]
    InvalidScope { raw: String },

    /// A presented API key did not have the `efk_<prefix>_<secret>` shape; carries nothing
    /// because the value may be a real key with a typo.
    #[error(
        "invalid api key: expected \"efk_\" followed by a 12-character prefix, \"_\" and a 40-character secret"
    )]
    InvalidApiKey,

    /// An endpoint secret was not `whsec_<base64>` of an accepted length; carries nothing
    /// because the value is a signing secret.
    #[error(
        "invalid endpoint secret: expected \"whsec_\" followed by standard base64 of 24 to 64 bytes"
    )]
    InvalidEndpointSecret,

    /// A retry schedule was empty or had an item that is not a duration.
    #[error("invalid retry schedule {raw:?}: {reason}")]
    InvalidRetrySchedule { raw: String, reason: String },

    /// A duration was not a number followed by `ms`, `s`, `m`, `h` or `d`.
    #[error("invalid duration {raw:?}: {reason}")]
    InvalidDuration { raw: String, reason: String },

    /// A timestamp was not RFC 3339 or fell outside the years 0000 to 9999 in UTC.
    #[error("invalid timestamp {raw:?}: expected RFC 3339 such as \"2024-05-01T12:00:00Z\"")]
    InvalidTimestamp { raw: String },

    /// An endpoint's event type filter was not `*`, `<prefix>.*` or an event type.
    #[error("invalid event type filter {raw:?}: {reason}")]
    InvalidEventTypeFilter { raw: String, reason: String },

    /// A list of event type filters was empty or too long.
    #[error("invalid event type filters: {reason}")]
    InvalidEventTypeFilters { reason: String },

    /// A payload filter broke the grammar of [`crate::PayloadFilter`]; `location` names the
    /// offending part, such as `filter.and[1]`.
    #[error("invalid payload filter: {location}: {reason}")]
    InvalidPayloadFilter { location: String, reason: String },

    /// The secrets keyring (`EVENTFLOW_SECRETS_KEY`) did not parse; never quotes a key.
    #[error("invalid EVENTFLOW_SECRETS_KEY: {reason}")]
    InvalidSecretsKey { reason: String },

    /// A payload nested objects and arrays deeper than the configured limit.
    #[error("invalid payload: nests objects and arrays deeper than the limit of {limit} levels")]
    PayloadTooDeep { limit: usize },

    /// An entry of a delivery allow-list was neither a CIDR nor an IP address.
    #[error(
        "invalid delivery allow-list entry {raw:?}: {reason}; expected a CIDR such as \"127.0.0.0/8\" or an IP address"
    )]
    InvalidAllowListEntry { raw: String, reason: String },

    /// A part of an endpoint definition (URL, headers, limits) broke its rule.
    #[error("invalid endpoint {field}: {reason}")]
    InvalidEndpoint {
        /// The part's field name in the API, e.g. `url` or `max_concurrency`.
        field: &'static str,
        /// Why, written to stand under that field's name.
        reason: String,
    },
}

/// Returns `raw` cut to [`MAX_QUOTED_CHARS`] characters, marking the cut with `…`.
pub(crate) fn clip(raw: &str) -> String {
    match raw.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", &raw[..cut]),
        None => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_input_and_cuts_long_input_on_a_char_boundary() {
        assert_eq!(clip("order.created"), "order.created");
        let long = "é".repeat(MAX_QUOTED_CHARS + 10);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), MAX_QUOTED_CHARS + 1);
        assert!(clipped.ends_with('…'));
    }

    #[test]
    fn messages_are_lowercase_without_a_trailing_period() {
        let errors = [
            DomainError::InvalidId {
                kind: "event",
                raw: "evt_x".into(),
            },
            DomainError::InvalidEventType {
                raw: "".into(),
                reason: "must not be empty",
            },
            DomainError::InvalidIdempotencyKey {
                reason: "must not be empty",
            },
            DomainError::InvalidScope { raw: "root".into() },
            DomainError::InvalidApiKey,
            DomainError::InvalidEndpointSecret,
            DomainError::InvalidRetrySchedule {
                raw: "".into(),
                reason: "must list at least one delay".into(),
            },
            DomainError::InvalidDuration {
                raw: "5x".into(),
                reason: "unknown unit".into(),
            },
            DomainError::InvalidTimestamp {
                raw: "yesterday".into(),
            },
            DomainError::InvalidEventTypeFilter {
                raw: "order*".into(),
                reason: "'*' must stand alone".into(),
            },
            DomainError::InvalidEventTypeFilters {
                reason: "must list at least one filter".into(),
            },
            DomainError::InvalidPayloadFilter {
                location: "filter.and[1]".into(),
                reason: "unknown operator \"equals\"".into(),
            },
            DomainError::InvalidEndpoint {
                field: "url",
                reason: "must use http or https".into(),
            },
            DomainError::InvalidAllowListEntry {
                raw: "10.0.0.0/33".into(),
                reason: "prefix length too long".into(),
            },
            DomainError::PayloadTooDeep { limit: 64 },
        ];
        for error in errors {
            let message = error.to_string();
            assert!(message.starts_with("invalid "), "{message}");
            assert!(!message.ends_with('.'), "{message}");
        }
    }

    #[test]
    fn invalid_id_message_names_the_expected_prefix() {
        let error = DomainError::InvalidId {
            kind: "endpoint",
            raw: "evt_1".into(),
        };
        assert_eq!(
            error.to_string(),
            "invalid endpoint id \"evt_1\": expected \"ep_\" followed by 32 lowercase hex digits"
        );
    }
}
