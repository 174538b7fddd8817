//! A string that must not reach logs.

use std::fmt;

/// Holds a secret such as an API key's plaintext or the admin token.
///
/// `Debug` prints `[redacted]`, and there is no `Display` or `Serialize`, so the value leaves
/// only through an explicit [`SecretString::expose`]. It deserializes from a plain string so
/// config structs can hold it.
#[derive(Clone, serde::Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps `secret`.
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// Returns the secret text; call it only where the value must be sent or shown once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_even_inside_other_structs() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Config {
            admin_token: SecretString,
        }
        let config = Config {
            admin_token: SecretString::new("hunter2".into()),
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"));
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn deserializes_from_a_plain_string_and_exposes_it() {
        let secret: SecretString = serde_json::from_str("\"hunter2\"").unwrap();
        assert_eq!(secret.expose(), "hunter2");
        assert_eq!(secret.clone().expose(), "hunter2");
    }
}
