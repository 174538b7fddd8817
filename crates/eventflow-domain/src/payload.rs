//! The nesting rule every event payload obeys, whichever edge (HTTP, gRPC) it came through.
//!
//! PostgreSQL parses a `json` value recursively and gives up with "stack depth limit
//! exceeded" somewhere past ten thousand levels; a payload that deep fails its whole
//! group commit. Refusing it at the edge, with the limit named, keeps one producer's
//! pathological payload from ever reaching a shared statement.

use crate::error::DomainError;

/// The nesting limit when no other is configured: far deeper than real documents go,
/// and well inside what `serde_json` (128) and PostgreSQL parse.
pub const DEFAULT_MAX_PAYLOAD_DEPTH: usize = 64;

/// Returns Ok when `json` nests objects and arrays at most `limit` levels deep.
///
/// `json` must already be well-formed JSON; the scan only counts brackets outside
/// strings. It runs in one pass without recursion and stops at the first level past
/// the limit, so a hostile payload costs no more than reading it.
pub fn check_payload_depth(json: &str, limit: usize) -> Result<(), DomainError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for byte in json.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return Err(DomainError::PayloadTooDeep { limit });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!("{}{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn a_payload_at_the_limit_passes_and_one_level_more_fails() {
        assert!(check_payload_depth(&nested(64), 64).is_ok());
        assert_eq!(
            check_payload_depth(&nested(65), 64),
            Err(DomainError::PayloadTooDeep { limit: 64 })
        );
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let payload = format!(r#"{{"a":"{}","b":"\"[[[["}}"#, "[".repeat(500));
        assert!(check_payload_depth(&payload, 1).is_ok());
    }

    #[test]
    fn sibling_containers_do_not_add_up() {
        let payload = format!("{{\"a\":[{}]}}", vec!["{\"b\":[1]}"; 200].join(","));
        assert!(check_payload_depth(&payload, 4).is_ok());
        assert!(check_payload_depth(&payload, 3).is_err());
    }

    #[test]
    fn a_payload_nested_twenty_thousand_levels_is_refused_without_overflowing_the_stack() {
        let deep = format!(
            "{{\"a\":{}{}}}",
            "{\"a\":".repeat(20_000),
            "}".repeat(20_000)
        );
        let error = check_payload_depth(&deep, DEFAULT_MAX_PAYLOAD_DEPTH).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid payload: nests objects and arrays deeper than the limit of 64 levels"
        );
    }
}
