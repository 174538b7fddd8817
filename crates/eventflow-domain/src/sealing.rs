//! Encryption at rest of endpoint signing secrets.
//!
//! A [`SecretsKeyring`] is parsed from `EVENTFLOW_SECRETS_KEY`: a comma-separated list of
//! 32-byte keys in standard base64 (`openssl rand -base64 32`). The first key seals; every
//! key opens, so a key is rotated by putting the new one first and keeping the old one
//! listed until every value was sealed again (the services re-seal on start-up).
//!
//! A sealed value reads `efsec1:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>`. The cipher is
//! XChaCha20-Poly1305 (RustCrypto `chacha20poly1305`), whose 192-bit nonces are drawn at
//! random without a counter. The key id is the first 8 hex digits of the SHA-256 of the key,
//! so the order of the list does not matter for opening and no key is stored. The value is
//! bound to a context (the endpoint's id) as associated data: a sealed secret copied to
//! another row does not open there.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::error::DomainError;

/// The marker and format version of a sealed value.
const SEALED_PREFIX: &str = "efsec1:";
const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// Why a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The value is not of the `efsec1:<key id>:<base64>` form.
    #[error("not a sealed secret (expected \"efsec1:<key id>:<base64>\")")]
    Malformed,
    /// The value was sealed with a key the keyring does not hold.
    #[error(
        "sealed with key {key_id}, which EVENTFLOW_SECRETS_KEY does not list (it holds {known})"
    )]
    UnknownKey { key_id: String, known: String },
    /// The key id matched but decryption failed: a wrong key with a colliding id, or a
    /// value altered (or moved to another row) since it was sealed.
    #[error(
        "sealed with key {key_id}, but it does not decrypt: the value was altered or belongs to another row"
    )]
    Tampered { key_id: String },
}

/// One key with its id.
#[derive(Clone)]
struct SealingKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// The keys that seal and open endpoint secrets; the first seals.
#[derive(Clone)]
pub struct SecretsKeyring {
    keys: Vec<SealingKey>,
}

impl SecretsKeyring {
    /// Parses `EVENTFLOW_SECRETS_KEY`: one or more comma-separated base64 keys of 32 bytes.
    /// The error names the position of a bad key, never its value.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let invalid = |reason: String| DomainError::InvalidSecretsKey { reason };
        let mut keys = Vec::new();
        for (index, item) in raw.split(',').map(str::trim).enumerate() {
            if item.is_empty() {
                return Err(invalid(format!(
                    "key {} is empty; expected comma-separated base64 keys of 32 bytes (openssl rand -base64 32)",
                    index + 1
                )));
            }
            let bytes = STANDARD
                .decode(item)
                .map_err(|_| invalid(format!("key {} is not standard base64", index + 1)))?;
            let bytes: [u8; KEY_BYTES] = bytes.try_into().map_err(|bytes: Vec<u8>| {
                invalid(format!(
                    "key {} is {} bytes, not {KEY_BYTES}",
                    index + 1,
                    bytes.len()
                ))
            })?;
            keys.push(SealingKey::new(bytes));
        }
        Ok(Self { keys })
    }

    /// Returns a keyring of one fresh random key, in the form `parse` reads, for
    /// development stacks and tests.
    pub fn generate() -> (Self, String) {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rng().fill(&mut bytes);
        let text = STANDARD.encode(bytes);
        (
            Self {
                keys: vec![SealingKey::new(bytes)],
            },
            text,
        )
    }

    /// The id of the key that seals.
    pub fn sealing_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Returns true when `sealed` was sealed with a key other than the sealing key (or is
    /// not sealed at all): sealing it again moves it to the current key.
    pub fn needs_resealing(&self, sealed: &str) -> bool {
        split_sealed(sealed).is_none_or(|(key_id, _)| key_id != self.sealing_key_id())
    }

    /// Seals `plaintext` with the first key, bound to `context`.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill(&mut nonce);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        let Ok(ciphertext) = key.cipher.encrypt(&XNonce::from(nonce), payload) else {
            // Encryption fails only for messages of about 256 GiB.
            unreachable!("a secret is a few dozen bytes");
        };
        let mut sealed = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        format!("{SEALED_PREFIX}{}:{}", key.id, STANDARD.encode(sealed))
    }

    /// Opens a value `seal` produced for the same `context`, with whichever key sealed it.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String, OpenError> {
        let (key_id, body) = split_sealed(sealed).ok_or(OpenError::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|key| key.id == key_id)
            .ok_or_else(|| OpenError::UnknownKey {
                key_id: key_id.to_owned(),
                known: self.key_ids(),
            })?;
        let bytes = STANDARD.decode(body).map_err(|_| OpenError::Malformed)?;
        if bytes.len() < NONCE_BYTES {
            return Err(OpenError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| OpenError::Malformed)?;
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        let tampered = || OpenError::Tampered {
            key_id: key_id.to_owned(),
        };
        let plaintext = key
            .cipher
            .decrypt(&XNonce::from(nonce), payload)
            .map_err(|_| tampered())?;
        String::from_utf8(plaintext).map_err(|_| tampered())
    }

    fn key_ids(&self) -> String {
        self.keys
            .iter()
            .map(|key| key.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl SealingKey {
    fn new(bytes: [u8; KEY_BYTES]) -> Self {
        let digest = Sha256::digest(bytes);
        Self {
            id: hex::encode(&digest[..4]),
            cipher: XChaCha20Poly1305::new(&Key::from(bytes)),
        }
    }
}

/// Splits `efsec1:<key id>:<body>` into the key id and the body.
fn split_sealed(sealed: &str) -> Option<(&str, &str)> {
    sealed.strip_prefix(SEALED_PREFIX)?.split_once(':')
}

impl fmt::Debug for SecretsKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretsKeyring([redacted], key ids {})", self.key_ids())
    }
}

impl<'de> serde::Deserialize<'de> for SecretsKeyring {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_B: &str = "HxwdHhobGBkWFxQVEhMQEQ4PDA0KCwgJBgcEBQIDAAE=";
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn a_sealed_secret_opens_and_does_not_contain_the_plaintext() {
        let keyring = SecretsKeyring::parse(KEY_A).unwrap();
        let sealed = keyring.seal(SECRET, "ep_1");
        assert!(sealed.starts_with("efsec1:"), "{sealed}");
        assert!(!sealed.contains("MfKQ9r8GKYqrTwjUPD8I"));
        assert_ne!(
            sealed,
            keyring.seal(SECRET, "ep_1"),
            "a fresh nonce each time"
        );
        assert_eq!(keyring.open(&sealed, "ep_1").unwrap(), SECRET);
    }

    #[test]
    fn after_rotation_the_new_key_seals_and_the_old_one_still_opens() {
        let old = SecretsKeyring::parse(KEY_A).unwrap();
        let sealed_before = old.seal(SECRET, "ep_1");
        let rotated = SecretsKeyring::parse(&format!("{KEY_B}, {KEY_A}")).unwrap();

        assert_eq!(rotated.open(&sealed_before, "ep_1").unwrap(), SECRET);
        assert!(rotated.needs_resealing(&sealed_before));
        let sealed_after = rotated.seal(SECRET, "ep_1");
        assert!(!rotated.needs_resealing(&sealed_after));
        assert!(sealed_after.contains(rotated.sealing_key_id()));
        assert!(matches!(
            old.open(&sealed_after, "ep_1"),
            Err(OpenError::UnknownKey { .. })
        ));
    }

    #[test]
    fn a_wrong_key_or_another_rows_context_fails_clearly() {
        let keyring = SecretsKeyring::parse(KEY_A).unwrap();
        let sealed = keyring.seal(SECRET, "ep_1");
        let other = SecretsKeyring::parse(KEY_B).unwrap();
        let error = other.open(&sealed, "ep_1").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("EVENTFLOW_SECRETS_KEY does not list"),
            "{error}"
        );
        assert!(matches!(
            keyring.open(&sealed, "ep_2"),
            Err(OpenError::Tampered { .. })
        ));
        assert_eq!(keyring.open("whsec_x", "ep_1"), Err(OpenError::Malformed));
    }

    #[test]
    fn bad_keys_are_refused_naming_their_position_not_their_value() {
        for (raw, expected) in [
            ("", "key 1 is empty"),
            (&format!("{KEY_A},"), "key 2 is empty"),
            ("not base64!", "key 1 is not standard base64"),
            ("AAEC", "key 1 is 3 bytes, not 32"),
        ] {
            let error = SecretsKeyring::parse(raw).unwrap_err().to_string();
            assert!(error.contains(expected), "{raw:?}: {error}");
            assert!(
                error.starts_with("invalid EVENTFLOW_SECRETS_KEY"),
                "{error}"
            );
        }
        let keyring = SecretsKeyring::parse(KEY_A).unwrap();
        assert!(!format!("{keyring:?}").contains(KEY_A));
    }
}
