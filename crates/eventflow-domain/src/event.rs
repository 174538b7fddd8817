//! What a producer sends about an event, parsed: its type, its idempotency key, its
//! timestamps.
//!
//! Timestamps travel as RFC 3339 text and are kept at microsecond precision, the precision
//! of PostgreSQL's `timestamptz`, so a value read back from the store prints exactly as it
//! was acknowledged.

use std::fmt;

use time::{OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};

use crate::error::{DomainError, clip};

const MAX_EVENT_TYPE_LEN: usize = 128;
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// An event type such as `order.created` or `billing:invoice.paid-v2`.
///
/// It is 1 to 128 bytes of ASCII letters, digits and `.` `_` `-` `:`, starting with a letter
/// or digit. `*` is not allowed because endpoint filters use it as the wildcard. Case is kept
/// and significant.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct EventType(String);

/// The prefix of EventFlow's own event types.
pub const RESERVED_EVENT_TYPE_PREFIX: &str = "eventflow.";

impl EventType {
    /// Returns true for EventFlow's own event types (`eventflow.…`, e.g. an
    /// endpoint's test event): producers may not send them, and they reach
    /// only the endpoints they are addressed to, never subscribers.
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with(RESERVED_EVENT_TYPE_PREFIX)
    }

    /// Parses `raw` without trimming it.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let reason = if raw.is_empty() {
            Some("must not be empty")
        } else if raw.len() > MAX_EVENT_TYPE_LEN {
            Some("must be at most 128 bytes")
        } else if !raw.as_bytes()[0].is_ascii_alphanumeric() {
            Some("must start with an ASCII letter or digit")
        } else if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
        {
            Some("may contain only ASCII letters, digits, '.', '_', '-' and ':'")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(DomainError::InvalidEventType {
                raw: clip(raw),
                reason,
            }),
            None => Ok(Self(raw.to_owned())),
        }
    }

    /// Returns the type as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EventType {
    type Error = DomainError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<EventType> for String {
    fn from(event_type: EventType) -> Self {
        event_type.0
    }
}

/// A producer-chosen key that makes a retried ingest request return the first event
/// instead of creating a second one.
///
/// It is 1 to 255 bytes of printable ASCII without spaces (`!` to `~`), which covers UUIDs,
/// ULIDs and hashes and keeps it safe in an HTTP header. Keys are compared byte for byte.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses `raw` without trimming it.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let reason = if raw.is_empty() {
            Some("must not be empty")
        } else if raw.len() > MAX_IDEMPOTENCY_KEY_LEN {
            Some("must be at most 255 bytes")
        } else if !raw.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            Some("may contain only printable ASCII characters without spaces")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(DomainError::InvalidIdempotencyKey { reason }),
            None => Ok(Self(raw.to_owned())),
        }
    }

    /// Returns the key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = DomainError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<IdempotencyKey> for String {
    fn from(key: IdempotencyKey) -> Self {
        key.0
    }
}

/// Parses an RFC 3339 timestamp (any offset, any fractional precision, `T` or a space between
/// date and time) and returns it in UTC.
///
/// Rejects instants whose UTC year falls outside 0000 to 9999, so every accepted value can
/// be printed back by [`format_rfc3339`]. Sub-microsecond digits are kept here and dropped
/// when formatting or storing.
pub fn parse_rfc3339(raw: &str) -> Result<OffsetDateTime, DomainError> {
    let invalid = || DomainError::InvalidTimestamp { raw: clip(raw) };
    let parsed = OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| invalid())?;
    let utc = parsed
        .checked_to_offset(UtcOffset::UTC)
        .ok_or_else(invalid)?;
    if !(0..=9999).contains(&utc.year()) {
        return Err(invalid());
    }
    Ok(utc)
}

/// Formats `t` in UTC as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, truncated to microseconds.
///
/// The fixed width makes the text sort like the instant. Instants outside the years 0000 to
/// 9999 in UTC have no RFC 3339 form; they are printed with their own offset, or with a
/// signed year, and [`parse_rfc3339`] rejects that text.
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    let (t, offset) = match t.checked_to_offset(UtcOffset::UTC) {
        Some(utc) => (utc, "Z".to_owned()),
        None => {
            let (h, m, _) = t.offset().as_hms();
            let sign = if t.offset().is_negative() { '-' } else { '+' };
            (
                t,
                format!("{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs()),
            )
        }
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{offset}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond(),
    )
}

#[cfg(test)]
mod tests {
    use rand::Rng;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn event_type_accepts_well_formed_names() {
        let long = "a".repeat(128);
        let cases = [
            "order.created",
            "a",
            "7",
            "Invoice.Paid",
            "billing:invoice.paid-v2",
            "user_signed_up",
            "a.b.c.d.e",
            "x-",
            long.as_str(),
        ];
        for raw in cases {
            let parsed = EventType::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(parsed.as_str(), raw);
            assert_eq!(parsed.to_string(), raw);
        }
    }

    #[test]
    fn event_type_rejects_malformed_names_with_a_reason() {
        let too_long = "a".repeat(129);
        let cases = [
            ("", "must not be empty"),
            (too_long.as_str(), "must be at most 128 bytes"),
            (".created", "must start with an ASCII letter or digit"),
            ("_private", "must start with an ASCII letter or digit"),
            (" order", "must start with an ASCII letter or digit"),
            ("érable", "must start with an ASCII letter or digit"),
            (
                "order created",
                "may contain only ASCII letters, digits, '.', '_', '-' and ':'",
            ),
            (
                "order.*",
                "may contain only ASCII letters, digits, '.', '_', '-' and ':'",
            ),
            (
                "order/created",
                "may contain only ASCII letters, digits, '.', '_', '-' and ':'",
            ),
            (
                "order.créé",
                "may contain only ASCII letters, digits, '.', '_', '-' and ':'",
            ),
            (
                "order\n",
                "may contain only ASCII letters, digits, '.', '_', '-' and ':'",
            ),
        ];
        for (raw, expected) in cases {
            match EventType::parse(raw) {
                Err(DomainError::InvalidEventType { reason, .. }) => {
                    assert_eq!(reason, expected, "{raw:?}")
                }
                other => panic!("{raw:?}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn event_type_serde_round_trips_and_rejects_invalid_values() {
        let event_type = EventType::parse("order.created").unwrap();
        let json = serde_json::to_string(&event_type).unwrap();
        assert_eq!(json, "\"order.created\"");
        assert_eq!(
            serde_json::from_str::<EventType>(&json).unwrap(),
            event_type
        );
        let error = serde_json::from_str::<EventType>("\"order.*\"").unwrap_err();
        assert!(
            error.to_string().starts_with("invalid event type"),
            "{error}"
        );
    }

    #[test]
    fn idempotency_key_accepts_printable_ascii() {
        let longest = "k".repeat(255);
        let cases = [
            "a",
            "0192f3a0-c0de-7abc-8def-0123456789ab",
            "order:42:attempt/1",
            "!\"#$%&'()*+,-./~",
            longest.as_str(),
        ];
        for raw in cases {
            let key = IdempotencyKey::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(key.as_str(), raw);
        }
    }

    #[test]
    fn idempotency_key_rejects_empty_long_and_unprintable_keys() {
        let too_long = "k".repeat(256);
        let cases = [
            ("", "must not be empty"),
            (too_long.as_str(), "must be at most 255 bytes"),
            (
                "has space",
                "may contain only printable ASCII characters without spaces",
            ),
            (
                "tab\there",
                "may contain only printable ASCII characters without spaces",
            ),
            (
                "nul\0",
                "may contain only printable ASCII characters without spaces",
            ),
            (
                "del\x7f",
                "may contain only printable ASCII characters without spaces",
            ),
            (
                "clé",
                "may contain only printable ASCII characters without spaces",
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                IdempotencyKey::parse(raw),
                Err(DomainError::InvalidIdempotencyKey { reason: expected }),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn idempotency_key_serde_round_trips() {
        let key = IdempotencyKey::parse("req-1").unwrap();
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(serde_json::from_str::<IdempotencyKey>(&json).unwrap(), key);
        assert!(serde_json::from_str::<IdempotencyKey>("\"\"").is_err());
    }

    #[test]
    fn parse_rfc3339_accepts_offsets_and_precisions_and_returns_utc() {
        let cases = [
            ("2024-05-01T12:00:00Z", datetime!(2024-05-01 12:00:00 UTC)),
            (
                "2024-05-01T12:00:00.5Z",
                datetime!(2024-05-01 12:00:00.5 UTC),
            ),
            ("2024-05-01t12:00:00z", datetime!(2024-05-01 12:00:00 UTC)),
            // RFC 3339 section 5.6 allows a space for readability; PostgreSQL does too.
            ("2024-05-01 12:00:00Z", datetime!(2024-05-01 12:00:00 UTC)),
            (
                "2024-05-01T14:00:00+02:00",
                datetime!(2024-05-01 12:00:00 UTC),
            ),
            (
                "2024-05-01T07:30:00-04:30",
                datetime!(2024-05-01 12:00:00 UTC),
            ),
            (
                "2024-05-01T12:00:00.123456789Z",
                datetime!(2024-05-01 12:00:00.123456789 UTC),
            ),
            ("0000-01-01T00:00:00Z", datetime!(0000-01-01 00:00:00 UTC)),
            (
                "9999-12-31T23:59:59.999999Z",
                datetime!(9999-12-31 23:59:59.999999 UTC),
            ),
        ];
        for (raw, expected) in cases {
            let parsed = parse_rfc3339(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(parsed, expected, "{raw}");
            assert_eq!(parsed.offset(), UtcOffset::UTC, "{raw}");
        }
    }

    #[test]
    fn parse_rfc3339_rejects_other_formats_and_unrepresentable_instants() {
        let cases = [
            "",
            "yesterday",
            "2024-05-01",
            "2024-05-01T12:00:00",
            "2024-05-01T12:00Z",
            "2024-13-01T12:00:00Z",
            "2024-02-30T12:00:00Z",
            "1714564800",
            " 2024-05-01T12:00:00Z",
            "0000-01-01T00:00:00+01:00",
        ];
        for raw in cases {
            assert_eq!(
                parse_rfc3339(raw),
                Err(DomainError::InvalidTimestamp {
                    raw: raw.to_owned()
                }),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn format_rfc3339_prints_utc_with_six_fraction_digits() {
        let cases = [
            (
                datetime!(2024-05-01 12:00:00 UTC),
                "2024-05-01T12:00:00.000000Z",
            ),
            (
                datetime!(2024-05-01 14:00:00.5 +2),
                "2024-05-01T12:00:00.500000Z",
            ),
            (
                datetime!(2024-05-01 12:00:00.123456789 UTC),
                "2024-05-01T12:00:00.123456Z",
            ),
            (
                datetime!(0001-01-01 00:00:00 UTC),
                "0001-01-01T00:00:00.000000Z",
            ),
        ];
        for (t, expected) in cases {
            assert_eq!(format_rfc3339(t), expected);
        }
    }

    #[test]
    fn formatted_timestamps_parse_back_to_the_truncated_instant() {
        let mut rng = rand::rng();
        for _ in 0..2_000 {
            let unix_nanos = rng.random_range(0..253_402_300_799_999_999_999_i128);
            let t = OffsetDateTime::from_unix_timestamp_nanos(unix_nanos).unwrap();
            let text = format_rfc3339(t);
            let back = parse_rfc3339(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(
                back.unix_timestamp_nanos(),
                unix_nanos / 1_000 * 1_000,
                "{text}"
            );
            assert_eq!(format_rfc3339(back), text);
        }
    }

    #[test]
    fn random_text_never_panics_the_parsers() {
        let mut rng = rand::rng();
        let alphabet = b"az09.:_-* \x7f!~T+Z";
        for _ in 0..5_000 {
            let len = rng.random_range(0..12);
            let raw: String = (0..len)
                .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
                .collect();
            if let Ok(event_type) = EventType::parse(&raw) {
                assert_eq!(event_type.as_str(), raw);
            }
            if let Ok(key) = IdempotencyKey::parse(&raw) {
                assert_eq!(key.as_str(), raw);
            }
            let _ = parse_rfc3339(&raw);
        }
    }
}
