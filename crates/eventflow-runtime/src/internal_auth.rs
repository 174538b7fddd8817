//! Authentication of internal gRPC calls (service to service, e.g. the query
//! API calling the dispatcher's `DispatchControl`): a shared service token,
//! the `internal_token` setting (`EVENTFLOW_INTERNAL_TOKEN`), sent as
//! `authorization: Bearer <token>` metadata and compared in constant time.
//!
//! A server wraps its service with [`RequireInternalToken`]; a client wraps
//! its channel with [`AttachInternalToken`]. A server configured without a
//! token refuses every call (UNAUTHENTICATED): an internal service is never
//! open by omission.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::api_error::{ErrorKind, Problem};

/// The fewest characters a token may have: guessing must be hopeless.
pub const MIN_TOKEN_LENGTH: usize = 16;

/// The metadata key carrying the token.
const AUTHORIZATION: &str = "authorization";

/// The shared secret of internal gRPC calls. Its `Debug` never shows it.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(try_from = "String")]
pub struct InternalToken(Arc<str>);

/// Why a configured token is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("must be at least {MIN_TOKEN_LENGTH} characters")]
    TooShort,
    #[error("must be printable ASCII without spaces")]
    NotPrintable,
}

impl InternalToken {
    /// Checks `token` is long enough and fits in gRPC metadata.
    pub fn new(token: &str) -> Result<Self, TokenError> {
        if !token.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(TokenError::NotPrintable);
        }
        if token.len() < MIN_TOKEN_LENGTH {
            return Err(TokenError::TooShort);
        }
        Ok(Self(token.into()))
    }

    /// A fresh random token (48 hex digits from a CSPRNG), for `eventflow dev`
    /// and tests.
    pub fn generate() -> Self {
        let random: [u8; 24] = rand::random();
        let hex: String = random.iter().map(|byte| format!("{byte:02x}")).collect();
        Self(hex.into())
    }

    /// The token's text; call it only to hand it to another process.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when `presented` is this token, in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        constant_time_eq(presented.as_bytes(), self.0.as_bytes())
    }

    fn bearer_value(&self) -> AsciiMetadataValue {
        // `new` admits only visible ASCII, which is always a valid value.
        AsciiMetadataValue::try_from(format!("Bearer {}", self.0))
            .unwrap_or_else(|_| AsciiMetadataValue::from_static(""))
    }
}

impl TryFrom<String> for InternalToken {
    type Error = TokenError;

    fn try_from(token: String) -> Result<Self, Self::Error> {
        Self::new(&token)
    }
}

impl fmt::Debug for InternalToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Compares two secrets in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Server side: admits a call only with `authorization: Bearer <internal_token>`.
#[derive(Clone, Debug)]
pub struct RequireInternalToken {
    token: Option<InternalToken>,
}

impl RequireInternalToken {
    /// Checks calls against `token`; `None` refuses every call.
    pub fn new(token: Option<InternalToken>) -> Self {
        if token.is_none() {
            tracing::warn!(
                "internal_token (EVENTFLOW_INTERNAL_TOKEN) is not set: every internal gRPC control call is refused"
            );
        }
        Self { token }
    }

    /// Ok when `metadata` carries the configured token.
    pub fn check(&self, metadata: &MetadataMap) -> Result<(), Status> {
        let Some(token) = &self.token else {
            return Err(unauthenticated(
                "internal calls are disabled: the service has no internal_token configured",
            ));
        };
        let presented = metadata
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            });
        match presented {
            None => Err(unauthenticated(
                "missing internal token: send authorization: Bearer <internal_token>",
            )),
            Some(presented) if token.matches(presented.trim()) => Ok(()),
            Some(_) => Err(unauthenticated("invalid internal token")),
        }
    }
}

impl Interceptor for RequireInternalToken {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        self.check(request.metadata())?;
        Ok(request)
    }
}

fn unauthenticated(detail: &str) -> Status {
    Problem::new(ErrorKind::Unauthenticated, "unauthenticated", detail).into()
}

/// Client side: adds `authorization: Bearer <internal_token>` to every call;
/// with no token configured, calls go out bare (and the server refuses them).
#[derive(Clone, Debug, Default)]
pub struct AttachInternalToken {
    value: Option<AsciiMetadataValue>,
}

impl AttachInternalToken {
    pub fn new(token: Option<&InternalToken>) -> Self {
        Self {
            value: token.map(InternalToken::bearer_value),
        }
    }
}

impl Interceptor for AttachInternalToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.value {
            request.metadata_mut().insert(AUTHORIZATION, value.clone());
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef-internal";

    fn token() -> InternalToken {
        InternalToken::new(TOKEN).expect("a valid token")
    }

    fn attached(token: Option<&InternalToken>) -> MetadataMap {
        AttachInternalToken::new(token)
            .call(Request::new(()))
            .expect("attaching never fails")
            .metadata()
            .clone()
    }

    #[test]
    fn the_attached_token_is_admitted() {
        let server = RequireInternalToken::new(Some(token()));
        assert!(server.check(&attached(Some(&token()))).is_ok());
    }

    #[test]
    fn a_missing_or_wrong_token_is_unauthenticated() {
        let server = RequireInternalToken::new(Some(token()));
        let missing = server.check(&attached(None)).unwrap_err();
        assert_eq!(missing.code(), tonic::Code::Unauthenticated);
        let other = InternalToken::new("fedcba9876543210-internal").unwrap();
        let wrong = server.check(&attached(Some(&other))).unwrap_err();
        assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
        assert!(!wrong.message().contains(TOKEN));
    }

    #[test]
    fn without_a_configured_token_every_call_is_refused() {
        let server = RequireInternalToken::new(None);
        let refused = server.check(&attached(Some(&token()))).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unauthenticated);
        assert!(refused.message().contains("internal_token"));
    }

    #[test]
    fn short_or_unprintable_tokens_are_refused_and_debug_is_redacted() {
        assert_eq!(InternalToken::new("short"), Err(TokenError::TooShort));
        assert_eq!(
            InternalToken::new("has a space in it, long enough"),
            Err(TokenError::NotPrintable)
        );
        assert_eq!(format!("{:?}", token()), "[redacted]");
        assert_ne!(InternalToken::generate(), InternalToken::generate());
        assert!(InternalToken::generate().expose().len() >= MIN_TOKEN_LENGTH);
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
