//! API keys and the scopes they grant.
//!
//! A key reads `efk_<prefix>_<secret>`: `prefix` is 12 random lowercase letters and digits,
//! stored in clear and used to find the key's row; `secret` is 40 random base62 characters.
//! Only the SHA-256 of the whole plaintext is stored, so a leaked table cannot be replayed.
//! A plain hash (not a password hash) is enough because the secret carries about 238 bits of
//! entropy; it also keeps authentication to one indexed lookup and one compare per request.
//! Looking the row up and checking expiry or revocation are left to the store and the edges.

use std::fmt;

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

use crate::error::{DomainError, clip};
use crate::secret::SecretString;

const KEY_MARKER: &str = "efk_";
const LOOKUP_PREFIX_LEN: usize = 12;
const SECRET_LEN: usize = 40;
const LOOKUP_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A permission carried by an API key.
///
/// Scopes are independent: `admin` does not imply `ingest` or `read`, so a key meant to
/// manage projects cannot be used to send or read events unless it is granted those too.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub enum Scope {
    /// Sends events to the ingest gateway.
    Ingest,
    /// Reads events, deliveries, attempts and endpoints through the query API.
    Read,
    /// Manages projects, API keys and endpoints.
    Admin,
}

impl Scope {
    /// Every scope, in canonical order.
    pub const ALL: [Scope; 3] = [Scope::Ingest, Scope::Read, Scope::Admin];

    /// Parses `ingest`, `read` or `admin`; case-sensitive and untrimmed.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw {
            "ingest" => Ok(Self::Ingest),
            "read" => Ok(Self::Read),
            "admin" => Ok(Self::Admin),
            _ => Err(DomainError::InvalidScope { raw: clip(raw) }),
        }
    }

    /// Returns the lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingest => "ingest",
            Self::Read => "read",
            Self::Admin => "admin",
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Self::Ingest => 1,
            Self::Read => 1 << 1,
            Self::Admin => 1 << 2,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Scope {
    type Error = DomainError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Scope> for String {
    fn from(scope: Scope) -> Self {
        scope.as_str().to_owned()
    }
}

/// The non-empty set of scopes granted to one API key.
///
/// Duplicates in the input collapse; iteration and text forms use the canonical order
/// `ingest`, `read`, `admin`. Serializes as a JSON array of names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Scopes(u8);

impl Scopes {
    /// Parses a comma-separated list such as `ingest, read`, trimming spaces around items.
    ///
    /// Rejects an empty list, an empty item (`ingest,,read`) and unknown names.
    pub fn parse_list(raw: &str) -> Result<Self, DomainError> {
        if raw.trim().is_empty() {
            return Err(DomainError::InvalidScope { raw: clip(raw) });
        }
        raw.split(',')
            .try_fold(0, |bits, item| Ok(bits | Scope::parse(item.trim())?.bit()))
            .map(Self)
    }

    /// Builds the set from names as stored in a `text[]` column; rejects an empty slice.
    pub fn from_strings(items: &[String]) -> Result<Self, DomainError> {
        if items.is_empty() {
            return Err(DomainError::InvalidScope { raw: String::new() });
        }
        items
            .iter()
            .try_fold(0, |bits, item| Ok(bits | Scope::parse(item)?.bit()))
            .map(Self)
    }

    /// Returns this set with `scope` added.
    #[must_use]
    pub fn with(self, scope: Scope) -> Self {
        Self(self.0 | scope.bit())
    }

    /// Reports whether `scope` was granted; `admin` grants nothing but `admin`.
    pub fn contains(&self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Iterates over the granted scopes in canonical order.
    pub fn iter(&self) -> impl Iterator<Item = Scope> + use<> {
        let bits = self.0;
        Scope::ALL
            .into_iter()
            .filter(move |scope| bits & scope.bit() != 0)
    }

    /// Returns the names in canonical order, for a `text[]` column or a JSON body.
    pub fn to_strings(&self) -> Vec<String> {
        self.iter().map(String::from).collect()
    }
}

impl From<Scope> for Scopes {
    fn from(scope: Scope) -> Self {
        Self(scope.bit())
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Prints the list as `parse_list` reads it, e.g. `ingest,read`.
impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl TryFrom<Vec<String>> for Scopes {
    type Error = DomainError;

    fn try_from(items: Vec<String>) -> Result<Self, Self::Error> {
        Self::from_strings(&items)
    }
}

impl From<Scopes> for Vec<String> {
    fn from(scopes: Scopes) -> Self {
        scopes.to_strings()
    }
}

/// A freshly generated API key: the plaintext to show once, and what to store.
#[derive(Debug, Clone)]
pub struct GeneratedApiKey {
    /// The full `efk_…` key; shown to the user once and never stored.
    pub plaintext: SecretString,
    /// The 12-character lookup prefix, stored in clear and indexed.
    pub lookup_prefix: String,
    /// SHA-256 of the whole plaintext, stored.
    pub hash: [u8; 32],
}

/// An API key as presented by a client, checked for shape and hashed.
#[derive(Debug, Clone)]
pub struct PresentedApiKey {
    /// The lookup prefix to find the stored key by.
    pub lookup_prefix: String,
    /// SHA-256 of the whole presented plaintext, to compare with [`hashes_match`].
    pub hash: [u8; 32],
}

/// Generates a new API key from the thread-local CSPRNG.
pub fn generate_api_key() -> GeneratedApiKey {
    let mut rng = rand::rng();
    let lookup_prefix: String = (0..LOOKUP_PREFIX_LEN)
        .map(|_| char::from(LOOKUP_ALPHABET[rng.random_range(0..LOOKUP_ALPHABET.len())]))
        .collect();
    let secret: String = (&mut rng)
        .sample_iter(Alphanumeric)
        .take(SECRET_LEN)
        .map(char::from)
        .collect();
    let plaintext = format!("{KEY_MARKER}{lookup_prefix}_{secret}");
    GeneratedApiKey {
        hash: hash_plaintext(&plaintext),
        plaintext: SecretString::new(plaintext),
        lookup_prefix,
    }
}

/// Checks that `raw` has the exact `efk_<12 lowercase alnum>_<40 base62>` shape and hashes it.
///
/// Does not trim: the edge strips `Bearer ` and nothing else should be tolerated.
pub fn parse_presented_key(raw: &str) -> Result<PresentedApiKey, DomainError> {
    let rest = raw
        .strip_prefix(KEY_MARKER)
        .ok_or(DomainError::InvalidApiKey)?
        .as_bytes();
    let well_formed = rest.len() == LOOKUP_PREFIX_LEN + 1 + SECRET_LEN
        && rest[..LOOKUP_PREFIX_LEN]
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && rest[LOOKUP_PREFIX_LEN] == b'_'
        && rest[LOOKUP_PREFIX_LEN + 1..]
            .iter()
            .all(u8::is_ascii_alphanumeric);
    if !well_formed {
        return Err(DomainError::InvalidApiKey);
    }
    // Every byte was checked to be ASCII, so slicing by byte index is on char boundaries.
    let start = KEY_MARKER.len();
    Ok(PresentedApiKey {
        lookup_prefix: raw[start..start + LOOKUP_PREFIX_LEN].to_owned(),
        hash: hash_plaintext(raw),
    })
}

/// Compares two key hashes in time independent of where they differ.
pub fn hashes_match(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

fn hash_plaintext(plaintext: &str) -> [u8; 32] {
    Sha256::digest(plaintext.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn scope_parses_its_three_names_only() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Ok(scope));
            assert_eq!(scope.to_string(), scope.as_str());
        }
        for raw in ["", "Ingest", "READ", " admin", "write", "ingest,read"] {
            assert_eq!(
                Scope::parse(raw),
                Err(DomainError::InvalidScope {
                    raw: raw.to_owned()
                }),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn scope_serde_is_the_lowercase_name() {
        assert_eq!(serde_json::to_string(&Scope::Admin).unwrap(), "\"admin\"");
        assert_eq!(
            serde_json::from_str::<Scope>("\"read\"").unwrap(),
            Scope::Read
        );
        assert!(serde_json::from_str::<Scope>("\"root\"").is_err());
    }

    #[test]
    fn parse_list_accepts_trimmed_and_duplicated_names() {
        let cases = [
            ("ingest", vec![Scope::Ingest]),
            ("ingest,read", vec![Scope::Ingest, Scope::Read]),
            (" read , ingest ", vec![Scope::Ingest, Scope::Read]),
            ("admin,admin", vec![Scope::Admin]),
            (
                "admin,read,ingest",
                vec![Scope::Ingest, Scope::Read, Scope::Admin],
            ),
        ];
        for (raw, expected) in cases {
            let scopes = Scopes::parse_list(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(scopes.iter().collect::<Vec<_>>(), expected, "{raw}");
        }
    }

    #[test]
    fn parse_list_rejects_empty_lists_empty_items_and_unknown_names() {
        let cases = [
            ("", ""),
            ("   ", "   "),
            ("ingest,", ""),
            (",read", ""),
            ("ingest,,read", ""),
            ("ingest,write", "write"),
            ("Ingest", "Ingest"),
            ("ingest;read", "ingest;read"),
        ];
        for (raw, offending) in cases {
            assert_eq!(
                Scopes::parse_list(raw),
                Err(DomainError::InvalidScope {
                    raw: offending.to_owned()
                }),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn admin_does_not_imply_other_scopes() {
        let scopes = Scopes::parse_list("admin").unwrap();
        assert!(scopes.contains(Scope::Admin));
        assert!(!scopes.contains(Scope::Ingest));
        assert!(!scopes.contains(Scope::Read));
    }

    #[test]
    fn scopes_round_trip_through_strings_text_and_json() {
        let scopes = Scopes::from(Scope::Read).with(Scope::Ingest);
        assert_eq!(scopes.to_strings(), ["ingest", "read"]);
        assert_eq!(Scopes::from_strings(&scopes.to_strings()), Ok(scopes));
        assert_eq!(scopes.to_string(), "ingest,read");
        assert_eq!(Scopes::parse_list(&scopes.to_string()), Ok(scopes));
        assert_eq!(format!("{scopes:?}"), "{Ingest, Read}");

        let json = serde_json::to_string(&scopes).unwrap();
        assert_eq!(json, r#"["ingest","read"]"#);
        assert_eq!(serde_json::from_str::<Scopes>(&json).unwrap(), scopes);
        assert!(serde_json::from_str::<Scopes>("[]").is_err());
        assert!(serde_json::from_str::<Scopes>(r#"["root"]"#).is_err());
    }

    #[test]
    fn from_strings_rejects_empty_and_unknown() {
        assert!(Scopes::from_strings(&[]).is_err());
        assert!(Scopes::from_strings(&["read".into(), "owner".into()]).is_err());
        assert!(Scopes::from_strings(&[" read".into()]).is_err());
    }

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let key = generate_api_key();
        let text = key.plaintext.expose();
        assert_eq!(text.len(), 4 + 12 + 1 + 40);
        assert!(text.starts_with("efk_"));
        assert_eq!(&text[4..16], key.lookup_prefix);
        assert!(
            key.lookup_prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(&text[16..17], "_");
        assert!(text[17..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(!format!("{key:?}").contains(text));
    }

    #[test]
    fn a_generated_key_parses_to_its_prefix_and_hash() {
        for _ in 0..200 {
            let generated = generate_api_key();
            let presented = parse_presented_key(generated.plaintext.expose()).unwrap();
            assert_eq!(presented.lookup_prefix, generated.lookup_prefix);
            assert!(hashes_match(&presented.hash, &generated.hash));
        }
    }

    #[test]
    fn generated_keys_are_unique() {
        let keys: HashSet<String> = (0..1_000)
            .map(|_| generate_api_key().plaintext.expose().to_owned())
            .collect();
        assert_eq!(keys.len(), 1_000);
    }

    #[test]
    fn hash_is_sha256_of_the_whole_plaintext() {
        let raw = "efk_abcdefghij12_0123456789abcdefghijABCDEFGHIJ0123456789";
        let presented = parse_presented_key(raw).unwrap();
        assert_eq!(presented.lookup_prefix, "abcdefghij12");
        assert_eq!(
            hex::encode(presented.hash),
            hex::encode(Sha256::digest(raw.as_bytes()))
        );
    }

    #[test]
    fn a_different_secret_with_the_same_prefix_does_not_match() {
        let generated = generate_api_key();
        let mut forged = generated.plaintext.expose().to_owned();
        let last = if forged.ends_with('a') { "b" } else { "a" };
        forged.replace_range(forged.len() - 1.., last);
        let presented = parse_presented_key(&forged).unwrap();
        assert_eq!(presented.lookup_prefix, generated.lookup_prefix);
        assert!(!hashes_match(&presented.hash, &generated.hash));
    }

    #[test]
    fn parse_presented_key_rejects_malformed_keys() {
        let prefix = "abcdefghij12";
        let secret = "0123456789abcdefghijABCDEFGHIJ0123456789";
        let cases = [
            (String::new(), "empty"),
            (format!("efk-{prefix}_{secret}"), "wrong marker"),
            (format!("EFK_{prefix}_{secret}"), "uppercase marker"),
            (format!("{prefix}_{secret}"), "no marker"),
            (
                format!("efk_ABCDEFGHIJ12_{secret}"),
                "uppercase lookup prefix",
            ),
            (format!("efk_abcdefghij1_{secret}A"), "short lookup prefix"),
            (format!("efk_{prefix}-{secret}"), "wrong separator"),
            (format!("efk_{prefix}_{}", &secret[1..]), "short secret"),
            (format!("efk_{prefix}_{secret}x"), "long secret"),
            (
                format!("efk_{prefix}_{}_", &secret[1..]),
                "underscore in secret",
            ),
            (
                format!("efk_{prefix}_{}+", &secret[1..]),
                "symbol in secret",
            ),
            (
                format!("efk_{prefix}_{}é", &secret[2..]),
                "non-ascii in secret",
            ),
            (format!(" efk_{prefix}_{secret}"), "leading space"),
            (format!("efk_{prefix}_{secret}\n"), "trailing newline"),
            (format!("Bearer efk_{prefix}_{secret}"), "scheme left in"),
        ];
        for (raw, why) in cases {
            assert!(
                matches!(parse_presented_key(&raw), Err(DomainError::InvalidApiKey)),
                "{why}: {raw:?}"
            );
        }
    }

    #[test]
    fn hashes_match_compares_every_byte() {
        let a = [7u8; 32];
        assert!(hashes_match(&a, &a));
        for i in 0..32 {
            let mut b = a;
            b[i] ^= 1;
            assert!(!hashes_match(&a, &b), "byte {i}");
        }
    }
}
