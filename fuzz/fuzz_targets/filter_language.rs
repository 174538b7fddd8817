//! The two filter languages of an endpoint. The first line holds an event type
//! filter and an event type separated by a space (and the whole line is read
//! as a comma-separated list); the rest holds a payload filter's JSON and a
//! payload's JSON separated by a NUL byte.
//!
//! Parsing never panics, and a payload filter's JSON form (`to_value`) reads
//! back to an equal filter that decides the same.
#![no_main]

use eventflow_domain::{EventType, EventTypeFilter, EventTypeFilters, PayloadFilter};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (line, rest) = text.split_once('\n').unwrap_or((text, ""));
    let (filter, event_type) = line.split_once(' ').unwrap_or((line, "order.created"));
    if let (Ok(filter), Ok(event_type)) =
        (EventTypeFilter::parse(filter), EventType::parse(event_type))
    {
        let matched = filter.matches(&event_type);
        let listed = EventTypeFilters::parse_list(&[filter.as_str()])
            .expect("a valid filter is a valid list");
        assert_eq!(listed.matches(&event_type), matched);
    }
    let _ = EventTypeFilters::parse_comma_separated(line);

    let (filter_json, payload_json) = rest.split_once('\0').unwrap_or((rest, "{}"));
    let Ok(filter_value) = serde_json::from_str::<Value>(filter_json) else {
        return;
    };
    let Ok(filter) = PayloadFilter::parse(&filter_value) else {
        return;
    };
    let payload = serde_json::from_str::<Value>(payload_json).unwrap_or(Value::Null);
    let verdict = filter.matches(&payload);
    let again = PayloadFilter::parse(&filter.to_value()).expect("the JSON form reads back");
    assert_eq!(again, filter, "the JSON form reads back to an equal filter");
    assert_eq!(again.matches(&payload), verdict);
});
