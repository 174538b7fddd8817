//! An event's fields as a producer sends them, through the gateway's validation
//! (`validate_event`, shared by HTTP and gRPC): any text is answered with a
//! valid event or field errors, never a panic. The input is up to four fields
//! separated by NUL bytes: type, payload text, idempotency key, occurred_at.
//!
//! Also the payload depth scan, which runs before any JSON parser: on any text
//! it answers without panicking, and JSON it admits at depth 64 never reaches
//! serde_json's recursion limit (128).
#![no_main]

use ingest_gateway::{EventFields, Limits, validate_event};
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits {
    max_event_bytes: 4096,
    max_payload_depth: 64,
    max_batch_bytes: 1 << 20,
    max_batch_events: 100,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let admitted = eventflow_domain::check_payload_depth(text, 64).is_ok();
    if admitted && let Err(error) = serde_json::from_str::<serde_json::Value>(text) {
        assert!(
            !error.to_string().contains("recursion limit"),
            "the depth scan admitted JSON too deep for serde_json: {error}"
        );
    }

    let mut fields = text.split('\0').map(str::to_owned);
    let event = EventFields {
        event_type: fields.next(),
        payload: fields.next(),
        idempotency_key: fields.next(),
        occurred_at: fields.next(),
    };
    let _ = validate_event(event, "", &LIMITS);
});
