//! Standard Webhooks signatures: a `webhook-signature` header of any shape is
//! checked without panicking, and a signature we make always verifies, alone
//! or among other entries. The input is up to five parts separated by NUL
//! bytes: secret text, message id, timestamp, received header, body.
#![no_main]

use eventflow_domain::{EndpointSecret, sign, verify};
use libfuzzer_sys::fuzz_target;

/// A valid secret (24 bytes, 0 to 23) for inputs whose secret text is not one.
const FALLBACK_SECRET: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";

fuzz_target!(|data: &[u8]| {
    let parts: Vec<&[u8]> = data.splitn(5, |byte| *byte == 0).collect();
    let text = |index: usize| {
        parts
            .get(index)
            .and_then(|part| std::str::from_utf8(part).ok())
            .unwrap_or("")
    };
    let secret = EndpointSecret::parse(text(0))
        .unwrap_or_else(|_| EndpointSecret::parse(FALLBACK_SECRET).expect("a valid secret"));
    let (msg_id, header) = (text(1), text(3));
    let timestamp = text(2).parse::<i64>().unwrap_or(0);
    let body = parts.get(4).copied().unwrap_or_default();

    let _ = verify(&secret, msg_id, timestamp, body, header);
    let signature = sign(&secret, msg_id, timestamp, body);
    assert!(verify(&secret, msg_id, timestamp, body, &signature));
    let crowded = format!("{header} {signature}");
    assert!(verify(&secret, msg_id, timestamp, body, &crowded));
});
