//! The checks on what a client sends to define an endpoint. The URL, headers
//! and limits are domain types (`EndpointUrl`, `EndpointHeaders`,
//! `EndpointLimits`) whose parsers hold their rules; this module collects
//! their errors and checks the filters and description, so one answer names
//! every offending field.

use eventflow_domain::{DomainError, EventTypeFilters, PayloadFilter};
use eventflow_runtime::api_error::FieldError;
use serde_json::Value;

use crate::error::ApiError;

const MAX_DESCRIPTION_LEN: usize = 1000;

/// Collects the field errors of one request.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    /// Returns the checked value, or records the field's error and returns None.
    pub fn check<T>(&mut self, field: &str, outcome: Result<T, String>) -> Option<T> {
        match outcome {
            Ok(value) => Some(value),
            Err(message) => {
                self.errors.push(FieldError {
                    field: field.to_owned(),
                    message,
                });
                None
            }
        }
    }

    /// Returns the parsed value, or records the domain rule's reason under
    /// `field` and returns None.
    pub fn parsed<T>(&mut self, field: &str, outcome: Result<T, DomainError>) -> Option<T> {
        self.check(
            field,
            outcome.map_err(|error| match error {
                DomainError::InvalidEndpoint { reason, .. } => reason,
                other => other.to_string(),
            }),
        )
    }

    /// Ok when every check passed; a 422 naming each failed field otherwise.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(self.errors))
        }
    }
}

/// Returns the filters, each once, in the order given.
pub fn event_types(items: &[String]) -> Result<Vec<String>, String> {
    let filters = EventTypeFilters::parse_list(items).map_err(|error| error.to_string())?;
    let mut unique: Vec<String> = Vec::new();
    for filter in filters.to_strings() {
        if !unique.contains(&filter) {
            unique.push(filter);
        }
    }
    Ok(unique)
}

/// Returns the predicate in its canonical JSON form; null means no filter.
pub fn payload_filter(value: &Value) -> Result<Option<Value>, String> {
    if value.is_null() {
        return Ok(None);
    }
    PayloadFilter::parse(value)
        .map(|filter| Some(filter.to_value()))
        .map_err(|error| error.to_string())
}

/// Returns the trimmed description.
pub fn description(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    // PostgreSQL text cannot hold NUL; line breaks are fine in a description.
    if trimmed.chars().count() > MAX_DESCRIPTION_LEN
        || trimmed
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(format!(
            "must be at most {MAX_DESCRIPTION_LEN} characters, none of them control characters but line breaks and tabs"
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn event_type_filters_are_checked_and_deduplicated() {
        let items = |raw: &[&str]| raw.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            event_types(&items(&["order.*", "invoice.paid", "order.*"])).unwrap(),
            ["order.*", "invoice.paid"]
        );
        assert!(event_types(&items(&[])).is_err());
        assert!(event_types(&items(&["order.*.paid"])).is_err());
        assert!(event_types(&items(&["bad type"])).is_err());
    }

    #[test]
    fn payload_filters_are_parsed_and_null_means_none() {
        let filter = json!({"field": "amount", "gt": 100});
        assert!(payload_filter(&filter).unwrap().is_some());
        assert_eq!(payload_filter(&Value::Null).unwrap(), None);
        assert!(payload_filter(&json!({"field": "a", "like": 1})).is_err());
        assert!(payload_filter(&json!([1])).is_err());
    }
}
