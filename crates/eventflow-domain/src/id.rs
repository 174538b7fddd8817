//! Prefixed, time-ordered identifiers.
//!
//! Every id wraps a UUID v7, so ids sort by creation time (to the millisecond across
//! processes, strictly within one process) and index well in PostgreSQL's `uuid` columns.
//! The text form is `<prefix>_<32 lowercase hex digits>`, for example
//! `evt_0192f3a0c0de7abc8def0123456789ab`; the prefix makes an endpoint id pasted where an
//! event id belongs fail to parse instead of failing to match. Only the canonical lowercase
//! form parses, so one id has exactly one spelling in URLs, logs and headers.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::error::{DomainError, clip};

/// Number of hex digits after the prefix: a UUID's 16 bytes without dashes.
const HEX_LEN: usize = 32;

/// Returns the UUID encoded in `raw` when it reads `<prefix>_<32 lowercase hex digits>`.
fn parse_prefixed(raw: &str, prefix: &str, kind: &'static str) -> Result<Uuid, DomainError> {
    let invalid = || DomainError::InvalidId {
        kind,
        raw: clip(raw),
    };
    let hex_part = raw
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .ok_or_else(invalid)?;
    let canonical = hex_part.len() == HEX_LEN
        && hex_part
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !canonical {
        return Err(invalid());
    }
    let mut bytes = [0u8; 16];
    hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| invalid())?;
    Ok(Uuid::from_bytes(bytes))
}

macro_rules! prefixed_ids {
    ($( $(#[$doc:meta])* $name:ident => $prefix:literal, $kind:literal; )+) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
            #[derive(serde::Serialize, serde::Deserialize)]
            #[serde(try_from = "String", into = "String")]
            pub struct $name(Uuid);

            impl $name {
                /// The text prefix, without the `_` separator.
                pub const PREFIX: &'static str = $prefix;

                /// Returns a fresh id for the current time (UUID v7).
                #[expect(
                    clippy::new_without_default,
                    reason = "a Default that mints a fresh id would surprise in derived structs"
                )]
                pub fn new() -> Self {
                    Self(Uuid::now_v7())
                }

                /// Wraps a UUID read from storage; any UUID version is accepted.
                pub const fn from_uuid(uuid: Uuid) -> Self {
                    Self(uuid)
                }

                /// Returns the UUID stored in PostgreSQL.
                pub const fn uuid(&self) -> Uuid {
                    self.0
                }

                #[doc = concat!(
                    "Parses `", $prefix, "_` followed by 32 lowercase hex digits; rejects ",
                    "other prefixes, other lengths and uppercase hex."
                )]
                pub fn parse(raw: &str) -> Result<Self, DomainError> {
                    parse_prefixed(raw, $prefix, $kind).map(Self)
                }
            }

            impl fmt::Display for $name {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    write!(f, "{}_{}", $prefix, self.0.simple())
                }
            }

            // The text form already names the type through its prefix.
            impl fmt::Debug for $name {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    fmt::Display::fmt(self, f)
                }
            }

            impl FromStr for $name {
                type Err = DomainError;

                fn from_str(raw: &str) -> Result<Self, Self::Err> {
                    Self::parse(raw)
                }
            }

            impl TryFrom<String> for $name {
                type Error = DomainError;

                fn try_from(raw: String) -> Result<Self, Self::Error> {
                    Self::parse(&raw)
                }
            }

            impl TryFrom<&str> for $name {
                type Error = DomainError;

                fn try_from(raw: &str) -> Result<Self, Self::Error> {
                    Self::parse(raw)
                }
            }

            impl From<$name> for String {
                fn from(id: $name) -> Self {
                    id.to_string()
                }
            }
        )+

        /// Returns the text prefix of the id whose `DomainError::InvalidId::kind` is `kind`.
        pub(crate) fn prefix_for_kind(kind: &str) -> &'static str {
            match kind {
                $( $kind => $prefix, )+
                _ => "<prefix>",
            }
        }
    };
}

prefixed_ids! {
    /// Identifies an ingested event; also sent as the `webhook-id` header of every delivery.
    EventId => "evt", "event";
    /// Identifies a project, the tenant boundary.
    ProjectId => "prj", "project";
    /// Identifies an API key record (not the key's secret).
    ApiKeyId => "key", "api key";
    /// Identifies a webhook endpoint.
    EndpointId => "ep", "endpoint";
    /// Identifies the delivery of one event to one endpoint.
    DeliveryId => "dlv", "delivery";
    /// Identifies one HTTP attempt of a delivery.
    AttemptId => "att", "attempt";
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rand::Rng;

    use super::*;

    #[test]
    fn display_is_prefix_and_32_lowercase_hex_digits() {
        let uuid = Uuid::parse_str("0192f3a0-c0de-7abc-8def-0123456789ab").unwrap();
        assert_eq!(
            EventId::from_uuid(uuid).to_string(),
            "evt_0192f3a0c0de7abc8def0123456789ab"
        );
        assert_eq!(
            EndpointId::from_uuid(uuid).to_string(),
            "ep_0192f3a0c0de7abc8def0123456789ab"
        );
        assert_eq!(
            format!("{:?}", AttemptId::from_uuid(uuid)),
            "att_0192f3a0c0de7abc8def0123456789ab"
        );
    }

    #[test]
    fn every_type_round_trips_through_its_text_form() {
        let uuid = Uuid::now_v7();
        assert_eq!(
            EventId::parse(&EventId::from_uuid(uuid).to_string())
                .unwrap()
                .uuid(),
            uuid
        );
        assert_eq!(
            ProjectId::parse(&ProjectId::from_uuid(uuid).to_string())
                .unwrap()
                .uuid(),
            uuid
        );
        assert_eq!(
            ApiKeyId::parse(&ApiKeyId::from_uuid(uuid).to_string())
                .unwrap()
                .uuid(),
            uuid
        );
        assert_eq!(
            EndpointId::parse(&EndpointId::from_uuid(uuid).to_string())
                .unwrap()
                .uuid(),
            uuid
        );
        assert_eq!(
            DeliveryId::parse(&DeliveryId::from_uuid(uuid).to_string())
                .unwrap()
                .uuid(),
            uuid
        );
        assert_eq!(
            AttemptId::parse(&AttemptId::from_uuid(uuid).to_string())
                .unwrap()
                .uuid(),
            uuid
        );
    }

    #[test]
    fn parse_accepts_canonical_ids() {
        let cases = [
            (
                "evt_0192f3a0c0de7abc8def0123456789ab",
                0x0192f3a0c0de7abc8def0123456789ab_u128,
            ),
            ("evt_00000000000000000000000000000000", 0),
            ("evt_ffffffffffffffffffffffffffffffff", u128::MAX),
        ];
        for (raw, expected) in cases {
            let id = EventId::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(id.uuid().as_u128(), expected, "{raw}");
            assert_eq!(id.to_string(), raw);
        }
    }

    #[test]
    fn parse_rejects_malformed_ids() {
        let cases = [
            ("", "empty"),
            ("evt", "prefix only"),
            ("evt_", "no hex"),
            ("evt0192f3a0c0de7abc8def0123456789ab", "missing separator"),
            ("evt-0192f3a0c0de7abc8def0123456789ab", "wrong separator"),
            (
                "ep_0192f3a0c0de7abc8def0123456789ab",
                "another type's prefix",
            ),
            ("EVT_0192f3a0c0de7abc8def0123456789ab", "uppercase prefix"),
            ("evt_0192F3A0C0DE7ABC8DEF0123456789AB", "uppercase hex"),
            ("evt_0192f3a0c0de7abc8def0123456789a", "31 digits"),
            ("evt_0192f3a0c0de7abc8def0123456789abc", "33 digits"),
            ("evt_0192f3a0-c0de-7abc-8def-0123456789ab", "dashed uuid"),
            ("evt_0192f3a0c0de7abc8def0123456789ag", "non-hex digit"),
            (" evt_0192f3a0c0de7abc8def0123456789ab", "leading space"),
            ("evt_0192f3a0c0de7abc8def0123456789ab ", "trailing space"),
            ("evt_0192f3a0c0de7abc8def01234567é", "non-ascii"),
        ];
        for (raw, why) in cases {
            let error = EventId::parse(raw).expect_err(why);
            assert_eq!(
                error,
                DomainError::InvalidId {
                    kind: "event",
                    raw: raw.to_owned()
                },
                "{why}"
            );
        }
    }

    #[test]
    fn prefixes_of_other_types_do_not_cross_parse() {
        let text = DeliveryId::new().to_string();
        assert!(DeliveryId::parse(&text).is_ok());
        assert!(EventId::parse(&text).is_err());
        assert!(AttemptId::parse(&text).is_err());
        assert!(EndpointId::parse(&text).is_err());
    }

    #[test]
    fn ids_generated_in_sequence_sort_in_creation_order() {
        let ids: Vec<EventId> = (0..10_000).map(|_| EventId::new()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let texts: Vec<String> = ids.iter().map(ToString::to_string).collect();
        assert!(texts.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
        assert_eq!(ids[0].uuid().get_version_num(), 7);
    }

    #[test]
    fn serde_uses_the_text_form() {
        let id = EndpointId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<EndpointId>(&json).unwrap(), id);

        let error = serde_json::from_str::<EndpointId>("\"evt_0192f3a0c0de7abc8def0123456789ab\"")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("invalid endpoint id"), "{error}");
    }

    #[test]
    fn error_quotes_long_input_clipped() {
        let raw = format!("evt_{}", "a".repeat(10_000));
        let DomainError::InvalidId { raw: quoted, .. } = EventId::parse(&raw).unwrap_err() else {
            panic!("wrong variant");
        };
        assert!(quoted.len() < 200);
    }

    #[test]
    fn random_uuids_round_trip_and_random_text_never_panics() {
        let mut rng = rand::rng();
        for _ in 0..2_000 {
            let id = ProjectId::from_uuid(Uuid::from_u128(rng.random()));
            assert_eq!(ProjectId::parse(&id.to_string()), Ok(id));

            let len = rng.random_range(0..40);
            let noise: String = (0..len)
                .map(|_| char::from(rng.random_range(b' '..=b'~')))
                .collect();
            let candidate = format!("prj_{noise}");
            if let Ok(parsed) = ProjectId::parse(&candidate) {
                assert_eq!(parsed.to_string(), candidate);
            }
        }
    }
}
