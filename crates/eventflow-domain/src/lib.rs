//! The parsed vocabulary of EventFlow: ids, event types, idempotency keys, timestamps, API
//! keys and scopes, endpoint secrets and webhook signatures, retry schedules, endpoint
//! subscription filters, endpoint URLs, headers and limits, rate limits, the address policy
//! of outbound deliveries and deterministic delivery ids.
//!
//! Every type here is built by a `parse` that returns [`DomainError`], so a value that exists
//! is valid; edges parse once and pass these types inward, and no signature past the edge
//! takes a bare `String` or `Uuid` for one of them. Secrets (`SecretString`,
//! `EndpointSecret`) print `[redacted]` under `Debug`. The crate does no I/O and reads no
//! environment: storage, queues, HTTP and configuration loading belong to the crates that
//! use it.

pub mod address;
pub mod api_key;
pub mod delivery;
pub mod endpoint;
pub mod error;
pub mod event;
pub mod filter;
pub mod id;
pub mod payload;
pub mod rate_limit;
pub mod retry;
pub mod sealing;
pub mod secret;
pub mod signing;

pub use address::{AddressPolicy, IpNet, RefusedAddress, forbidden_reason};
pub use api_key::{
    GeneratedApiKey, PresentedApiKey, Scope, Scopes, generate_api_key, hashes_match,
    parse_presented_key,
};
pub use endpoint::{EndpointHeaders, EndpointLimits, EndpointUrl};
pub use error::DomainError;
pub use event::{
    EventType, IdempotencyKey, RESERVED_EVENT_TYPE_PREFIX, format_rfc3339, parse_rfc3339,
};
pub use filter::{EventTypeFilter, EventTypeFilters, PayloadFilter};
pub use id::{ApiKeyId, AttemptId, DeliveryId, EndpointId, EventId, ProjectId};
pub use payload::{DEFAULT_MAX_PAYLOAD_DEPTH, check_payload_depth};
pub use rate_limit::{RateLimit, RateLimitOverride};
pub use retry::{RetrySchedule, format_duration, parse_duration, with_jitter};
pub use sealing::{OpenError, SecretsKeyring};
pub use secret::SecretString;
pub use signing::{EndpointSecret, sign, signature_header, verify};
