//! Webhook signatures as the Standard Webhooks specification defines them.
//!
//! A delivery carries `webhook-id`, `webhook-timestamp` and `webhook-signature`; the
//! signature is `v1,` followed by the standard base64 of HMAC-SHA256, keyed with the
//! endpoint secret's decoded bytes, over `{webhook-id}.{webhook-timestamp}.{body}`. During a
//! secret rotation the header lists one signature per active secret, separated by spaces,
//! and a receiver accepts the delivery when any of them verifies. Checking that the
//! timestamp is recent is left to the receiver; this module only computes and compares.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha2::Sha256;

use crate::error::DomainError;

type HmacSha256 = Hmac<Sha256>;

const SECRET_MARKER: &str = "whsec_";
const GENERATED_KEY_LEN: usize = 24;
const MIN_KEY_LEN: usize = 24;
const MAX_KEY_LEN: usize = 64;
const SIGNATURE_VERSION: &str = "v1,";

/// The key an endpoint's deliveries are signed with, in its `whsec_<base64>` form.
///
/// `Debug` prints `[redacted]`. It serializes as the full `whsec_…` text because the API
/// returns it once on creation and the store keeps it to sign with; it must never be logged.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EndpointSecret {
    text: String,
    key: Vec<u8>,
}

impl EndpointSecret {
    /// Generates a secret of 24 random bytes from the thread-local CSPRNG.
    pub fn generate() -> Self {
        let mut key = [0u8; GENERATED_KEY_LEN];
        rand::rng().fill(&mut key);
        Self {
            text: format!("{SECRET_MARKER}{}", STANDARD.encode(key)),
            key: key.to_vec(),
        }
    }

    /// Parses `whsec_` followed by standard, padded base64 of 24 to 64 bytes.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let encoded = raw
            .strip_prefix(SECRET_MARKER)
            .ok_or(DomainError::InvalidEndpointSecret)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| DomainError::InvalidEndpointSecret)?;
        if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&key.len()) {
            return Err(DomainError::InvalidEndpointSecret);
        }
        Ok(Self {
            text: raw.to_owned(),
            key,
        })
    }

    /// Returns the full `whsec_…` text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for EndpointSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EndpointSecret([redacted])")
    }
}

impl TryFrom<String> for EndpointSecret {
    type Error = DomainError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<EndpointSecret> for String {
    fn from(secret: EndpointSecret) -> Self {
        secret.text
    }
}

/// Returns the `v1,<base64>` signature of one delivery.
pub fn sign(secret: &EndpointSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = compute_mac(secret, msg_id, timestamp, body);
    format!("{SIGNATURE_VERSION}{}", STANDARD.encode(mac))
}

/// Returns the `webhook-signature` value: one signature per secret, space-separated, so
/// receivers holding either the new or the previous secret accept the delivery.
pub fn signature_header(
    secrets: &[&EndpointSecret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| sign(secret, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reports whether any `v1,` entry of `header` is the signature of this delivery under
/// `secret`; entries of other versions and malformed entries are skipped.
pub fn verify(
    secret: &EndpointSecret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
) -> bool {
    let expected = compute_mac(secret, msg_id, timestamp, body);
    header
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix(SIGNATURE_VERSION))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .filter_map(|decoded| <[u8; 32]>::try_from(decoded.as_slice()).ok())
        .any(|candidate| crate::api_key::hashes_match(&candidate, &expected))
}

fn compute_mac(secret: &EndpointSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(&secret.key).expect("hmac accepts keys of any length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The official Standard Webhooks test vector.
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TIMESTAMP: i64 = 1614265330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn vector_secret() -> EndpointSecret {
        EndpointSecret::parse(VECTOR_SECRET).unwrap()
    }

    #[test]
    fn sign_matches_the_standard_webhooks_test_vector() {
        let signature = sign(
            &vector_secret(),
            VECTOR_MSG_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
        );
        assert_eq!(signature, VECTOR_SIGNATURE);
    }

    #[test]
    fn verify_accepts_the_standard_webhooks_test_vector() {
        assert!(verify(
            &vector_secret(),
            VECTOR_MSG_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
            VECTOR_SIGNATURE
        ));
    }

    #[test]
    fn verify_rejects_any_change_to_the_signed_content() {
        let secret = vector_secret();
        let other_secret = EndpointSecret::generate();
        let (id, ts, body, header) = (
            VECTOR_MSG_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
            VECTOR_SIGNATURE,
        );
        assert!(!verify(&secret, "msg_other", ts, body, header));
        assert!(!verify(&secret, id, ts + 1, body, header));
        assert!(!verify(&secret, id, ts, br#"{"test": 2432232315}"#, header));
        assert!(!verify(&other_secret, id, ts, body, header));
    }

    #[test]
    fn verify_rejects_malformed_headers() {
        let secret = vector_secret();
        let valid_base64 = VECTOR_SIGNATURE.trim_start_matches("v1,");
        let cases = [
            "",
            "   ",
            valid_base64,
            &format!("v2,{valid_base64}"),
            &format!("v1a,{valid_base64}"),
            &format!("v1,{}", &valid_base64[1..]),
            "v1,not-base64!",
            "v1,",
            "v1,AAAA",
        ];
        for header in cases {
            assert!(
                !verify(
                    &secret,
                    VECTOR_MSG_ID,
                    VECTOR_TIMESTAMP,
                    VECTOR_BODY,
                    header
                ),
                "{header:?}"
            );
        }
    }

    #[test]
    fn rotation_header_verifies_with_either_secret() {
        let current = EndpointSecret::generate();
        let previous = EndpointSecret::generate();
        let stranger = EndpointSecret::generate();
        let body = br#"{"type":"order.created","data":{}}"#;
        let header = signature_header(&[&current, &previous], "evt_1", 1_700_000_000, body);

        let entries: Vec<&str> = header.split(' ').collect();
        assert_eq!(entries.len(), 2);
        assert!(entries.iter().all(|entry| entry.starts_with("v1,")));

        assert!(verify(&current, "evt_1", 1_700_000_000, body, &header));
        assert!(verify(&previous, "evt_1", 1_700_000_000, body, &header));
        assert!(!verify(&stranger, "evt_1", 1_700_000_000, body, &header));
    }

    #[test]
    fn verify_skips_unknown_versions_before_a_valid_entry() {
        let header = format!("v1a,AAAA v1,garbage {VECTOR_SIGNATURE}");
        assert!(verify(
            &vector_secret(),
            VECTOR_MSG_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
            &header
        ));
    }

    #[test]
    fn generated_secrets_parse_back_and_are_unique() {
        let a = EndpointSecret::generate();
        let b = EndpointSecret::generate();
        assert_ne!(a.as_str(), b.as_str());
        assert!(a.as_str().starts_with("whsec_"));
        // 24 bytes of standard base64 is 32 characters with no padding.
        assert_eq!(a.as_str().len(), "whsec_".len() + 32);
        let parsed = EndpointSecret::parse(a.as_str()).unwrap();
        assert_eq!(parsed.as_str(), a.as_str());
        assert_eq!(sign(&parsed, "m", 1, b"x"), sign(&a, "m", 1, b"x"));
    }

    #[test]
    fn parse_accepts_24_to_64_byte_keys() {
        for len in [24, 25, 32, 48, 63, 64] {
            let raw = format!("whsec_{}", STANDARD.encode(vec![0xa5; len]));
            let secret = EndpointSecret::parse(&raw).unwrap_or_else(|e| panic!("{len}: {e}"));
            assert_eq!(secret.as_str(), raw);
        }
    }

    #[test]
    fn parse_rejects_malformed_secrets() {
        let key_24 = STANDARD.encode([0xa5; 24]);
        let cases = [
            (String::new(), "empty"),
            ("whsec_".to_owned(), "no key"),
            (key_24.clone(), "no marker"),
            (format!("WHSEC_{key_24}"), "uppercase marker"),
            (format!("whsec-{key_24}"), "wrong separator"),
            (format!("whsec_{}", STANDARD.encode([0xa5; 23])), "23 bytes"),
            (format!("whsec_{}", STANDARD.encode([0xa5; 65])), "65 bytes"),
            (
                format!(
                    "whsec_{}",
                    STANDARD.encode([0xa5; 25]).trim_end_matches('=')
                ),
                "missing padding",
            ),
            (
                format!("whsec_{}", key_24.replace('l', "-")),
                "url-safe alphabet",
            ),
            (format!("whsec_{key_24}!"), "not base64"),
            (format!("whsec_ {key_24}"), "inner space"),
            (format!("whsec_{key_24}\n"), "trailing newline"),
        ];
        for (raw, why) in cases {
            assert!(
                matches!(
                    EndpointSecret::parse(&raw),
                    Err(DomainError::InvalidEndpointSecret)
                ),
                "{why}: {raw:?}"
            );
        }
    }

    #[test]
    fn debug_is_redacted_and_serde_uses_the_text_form() {
        let secret = vector_secret();
        assert_eq!(format!("{secret:?}"), "EndpointSecret([redacted])");

        let json = serde_json::to_string(&secret).unwrap();
        assert_eq!(json, format!("\"{VECTOR_SECRET}\""));
        let back: EndpointSecret = serde_json::from_str(&json).unwrap();
        assert_eq!(back.as_str(), VECTOR_SECRET);
        assert!(serde_json::from_str::<EndpointSecret>("\"whsec_x\"").is_err());
    }
}
