//! Which events an endpoint subscribes to: filters on the event type and on the payload.
//!
//! # Event type filters
//!
//! An [`EventTypeFilter`] is one of:
//!
//! - `*`: every event type;
//! - `<prefix>.*`: every type that starts with `<prefix>.` and has at least one more
//!   character, where `<prefix>` is itself a valid [`EventType`]; `order.*` matches
//!   `order.created` and `order.item.added` but not `order` or `orders.created`;
//! - an exact [`EventType`], compared byte for byte (case matters, as it does for types).
//!
//! `*` is allowed nowhere else (`order*`, `*.created` and `order.*.added` are rejected). An
//! endpoint holds [`EventTypeFilters`], a non-empty list that matches when any entry does.
//!
//! # Payload filters
//!
//! A [`PayloadFilter`] is a JSON predicate evaluated against the event's payload. A filter is
//! a JSON object of one of these shapes:
//!
//! | shape | matches when |
//! |---|---|
//! | `{"and": [f, …]}` | every filter in the non-empty list matches |
//! | `{"or": [f, …]}` | at least one filter in the non-empty list matches |
//! | `{"not": f}` | `f` does not match |
//! | `{"field": "<path>", "<op>": <value>}` | the field at `<path>` satisfies the operator |
//!
//! A condition has exactly one operator:
//!
//! | operator | value | matches when the field … |
//! |---|---|---|
//! | `eq` | any JSON | equals the value |
//! | `ne` | any JSON | exists and does not equal the value |
//! | `in` | non-empty array (at most 256 values) | equals one of the values |
//! | `gt`, `gte`, `lt`, `lte` | number | is a number `>`, `>=`, `<`, `<=` the value |
//! | `exists` | `true` or `false` | is present (even as `null`), or absent |
//!
//! Equality is JSON equality except that numbers compare by value, so `1` equals `1.0`;
//! arrays and objects compare element by element with the same rule. There is no coercion:
//! the string `"5"` is not the number `5`, and an ordering operator on a field that is not a
//! number does not match.
//!
//! A missing field matches no condition except `{"exists": false}`; in particular `ne` on
//! a missing field does not match, so `{"field": "customer.tier", "ne": "free"}` selects
//! events that have a tier other than `free`. Wrap a condition in `not` for the complement.
//!
//! A path is dot-separated object keys, such as `customer.tier`. A segment that is a
//! canonical non-negative integer (`0`, `17`, not `01`) indexes into an array, as in
//! `items.0.sku`; on an object it is an ordinary key. Keys that contain a `.` cannot be
//! reached. Paths are 1 to 256 bytes with at most 32 non-empty segments.
//!
//! Examples:
//!
//! ```json
//! {"field": "customer.tier", "eq": "gold"}
//! {"field": "total", "gte": 100}
//! {"and": [
//!     {"field": "currency", "in": ["EUR", "USD"]},
//!     {"not": {"field": "test", "eq": true}},
//!     {"or": [{"field": "items.0.sku", "exists": true}, {"field": "gift", "eq": true}]}
//! ]}
//! ```
//!
//! A filter nests at most 8 objects deep (the outermost object is level 1) and holds at most
//! 64 conditions, which bounds the work of one evaluation. Errors name the offending part
//! from the root `filter`, for example `filter.and[1]: unknown operator "equals"`. A parsed
//! filter serializes back to the same JSON form. Deciding which endpoints to evaluate, and
//! storing the filters, are left to the dispatcher and the store.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Number, Value};

use crate::error::{DomainError, clip};
use crate::event::EventType;

const MAX_EVENT_TYPE_FILTERS: usize = 256;
const MAX_DEPTH: usize = 8;
const MAX_CONDITIONS: usize = 64;
const MAX_IN_VALUES: usize = 256;
const MAX_PATH_LEN: usize = 256;
const MAX_PATH_SEGMENTS: usize = 32;
const OPERATORS: [&str; 8] = ["eq", "ne", "in", "gt", "gte", "lt", "lte", "exists"];
const OPERATORS_HINT: &str =
    "expected one of \"eq\", \"ne\", \"in\", \"gt\", \"gte\", \"lt\", \"lte\" or \"exists\"";

/// One pattern over event types: `*`, `<prefix>.*` or an exact type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventTypeFilter {
    raw: String,
    pattern: Pattern,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Pattern {
    /// `*`.
    Everything,
    /// `<prefix>.*`; matching compares against `raw` without its final `*`.
    Prefix,
    /// An event type, compared byte for byte.
    Exact,
}

impl EventTypeFilter {
    /// Parses `*`, `<prefix>.*` or an event type, without trimming.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let invalid = |reason: String| DomainError::InvalidEventTypeFilter {
            raw: clip(raw),
            reason,
        };
        if raw == "*" {
            return Ok(Self {
                raw: raw.to_owned(),
                pattern: Pattern::Everything,
            });
        }
        if let Some(prefix) = raw.strip_suffix(".*") {
            if prefix.contains('*') {
                return Err(invalid(wildcard_reason()));
            }
            return match EventType::parse(prefix) {
                Ok(_) => Ok(Self {
                    raw: raw.to_owned(),
                    pattern: Pattern::Prefix,
                }),
                Err(DomainError::InvalidEventType { reason, .. }) => {
                    Err(invalid(format!("the prefix before \".*\" {reason}")))
                }
                Err(other) => Err(other),
            };
        }
        if raw.contains('*') {
            return Err(invalid(wildcard_reason()));
        }
        match EventType::parse(raw) {
            Ok(_) => Ok(Self {
                raw: raw.to_owned(),
                pattern: Pattern::Exact,
            }),
            Err(DomainError::InvalidEventType { reason, .. }) => Err(invalid(reason.to_owned())),
            Err(other) => Err(other),
        }
    }

    /// Returns the filter as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Reports whether events of `event_type` pass this filter.
    pub fn matches(&self, event_type: &EventType) -> bool {
        let candidate = event_type.as_str();
        match self.pattern {
            Pattern::Everything => true,
            Pattern::Prefix => {
                // Keeps the dot so `order.*` does not match `orders.created`, and requires a
                // character after it so it does not match the bare `order.`.
                let prefix = &self.raw[..self.raw.len() - 1];
                candidate.len() > prefix.len() && candidate.starts_with(prefix)
            }
            Pattern::Exact => candidate == self.raw,
        }
    }
}

fn wildcard_reason() -> String {
    "'*' is allowed only as the whole filter or as a final \".*\", as in \"order.*\"".to_owned()
}

impl fmt::Display for EventTypeFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl FromStr for EventTypeFilter {
    type Err = DomainError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl TryFrom<String> for EventTypeFilter {
    type Error = DomainError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<EventTypeFilter> for String {
    fn from(filter: EventTypeFilter) -> Self {
        filter.raw
    }
}

/// The event type filters of one endpoint: 1 to 256 entries, matching when any entry does.
///
/// Entries keep their order and duplicates, so the list reads back as it was written.
/// Serializes as a JSON array of strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct EventTypeFilters(Vec<EventTypeFilter>);

impl EventTypeFilters {
    /// Returns the list `["*"]`, which subscribes to every event type.
    pub fn everything() -> Self {
        Self(vec![EventTypeFilter {
            raw: "*".to_owned(),
            pattern: Pattern::Everything,
        }])
    }

    /// Parses each item as an [`EventTypeFilter`] without trimming; rejects an empty list,
    /// more than 256 items and the first invalid item.
    pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Self, DomainError> {
        if items.is_empty() {
            return Err(DomainError::InvalidEventTypeFilters {
                reason: "must list at least one filter, such as \"*\" for every event type"
                    .to_owned(),
            });
        }
        if items.len() > MAX_EVENT_TYPE_FILTERS {
            return Err(DomainError::InvalidEventTypeFilters {
                reason: format!(
                    "must list at most {MAX_EVENT_TYPE_FILTERS} filters, found {}",
                    items.len()
                ),
            });
        }
        items
            .iter()
            .map(|item| EventTypeFilter::parse(item.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Parses a comma-separated list such as `order.*, invoice.paid`, trimming spaces around
    /// items; an empty item is rejected like any other invalid filter.
    pub fn parse_comma_separated(raw: &str) -> Result<Self, DomainError> {
        if raw.trim().is_empty() {
            return Self::parse_list::<&str>(&[]);
        }
        let items: Vec<&str> = raw.split(',').map(str::trim).collect();
        Self::parse_list(&items)
    }

    /// Reports whether any filter matches `event_type`.
    pub fn matches(&self, event_type: &EventType) -> bool {
        self.0.iter().any(|filter| filter.matches(event_type))
    }

    /// Returns the filters in their written order.
    pub fn as_slice(&self) -> &[EventTypeFilter] {
        &self.0
    }

    /// Returns the filters as text, for a `text[]` column or a JSON body.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|filter| filter.raw.clone()).collect()
    }
}

/// Prints the list as `parse_comma_separated` reads it, e.g. `order.*,invoice.paid`.
impl fmt::Display for EventTypeFilters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, filter) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(&filter.raw)?;
        }
        Ok(())
    }
}

impl TryFrom<Vec<String>> for EventTypeFilters {
    type Error = DomainError;

    fn try_from(items: Vec<String>) -> Result<Self, Self::Error> {
        Self::parse_list(&items)
    }
}

impl From<EventTypeFilters> for Vec<String> {
    fn from(filters: EventTypeFilters) -> Self {
        filters.0.into_iter().map(String::from).collect()
    }
}

/// A predicate over an event payload; the grammar is in the [module docs](self).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct PayloadFilter(Node);

#[derive(Debug, Clone, PartialEq)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Condition { path: String, op: Operator },
}

#[derive(Debug, Clone, PartialEq)]
enum Operator {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    Gt(Number),
    Gte(Number),
    Lt(Number),
    Lte(Number),
    Exists(bool),
}

impl PayloadFilter {
    /// Parses a filter from its JSON form; the error names the offending part.
    pub fn parse(value: &Value) -> Result<Self, DomainError> {
        let mut parser = Parser { conditions: 0 };
        parser.node(value, "filter", 1).map(Self)
    }

    /// Reports whether `payload` satisfies the filter.
    pub fn matches(&self, payload: &Value) -> bool {
        self.0.matches(payload)
    }

    /// Returns the JSON form, which [`PayloadFilter::parse`] reads back to an equal filter.
    pub fn to_value(&self) -> Value {
        self.0.to_value()
    }
}

impl TryFrom<Value> for PayloadFilter {
    type Error = DomainError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PayloadFilter> for Value {
    fn from(filter: PayloadFilter) -> Self {
        filter.to_value()
    }
}

/// Prints the compact JSON form.
impl fmt::Display for PayloadFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_value())
    }
}

/// Counts conditions across the whole tree while it descends.
struct Parser {
    conditions: usize,
}

impl Parser {
    fn node(&mut self, value: &Value, at: &str, depth: usize) -> Result<Node, DomainError> {
        if depth > MAX_DEPTH {
            return Err(invalid(
                at,
                format!("nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        let Value::Object(object) = value else {
            return Err(invalid(
                at,
                format!("expected an object, found {}", kind_of(value)),
            ));
        };
        if let Some(field) = object.get("field") {
            return self.condition(field, object, at);
        }
        for key in object.keys() {
            if OPERATORS.contains(&key.as_str()) {
                return Err(invalid(
                    at,
                    format!("condition with operator {:?} has no \"field\"", key),
                ));
            }
            if !["and", "or", "not"].contains(&key.as_str()) {
                return Err(invalid(
                    at,
                    format!(
                        "unknown operator {:?}: expected \"and\", \"or\", \"not\" or a \"field\" condition",
                        clip(key)
                    ),
                ));
            }
        }
        let mut entries = object.iter();
        let (key, value) = match (entries.next(), entries.next()) {
            (None, _) => {
                return Err(invalid(
                    at,
                    "empty object: expected \"and\", \"or\", \"not\" or a \"field\" condition",
                ));
            }
            (Some((first, _)), Some((second, _))) => {
                return Err(invalid(
                    at,
                    format!(
                        "{first:?} and {second:?} cannot share an object; nest one inside the other"
                    ),
                ));
            }
            (Some((key, value)), None) => (key.as_str(), value),
        };
        let at = format!("{at}.{key}");
        if key == "not" {
            return Ok(Node::Not(Box::new(self.node(value, &at, depth + 1)?)));
        }
        let Value::Array(items) = value else {
            return Err(invalid(
                &at,
                format!("expected an array of filters, found {}", kind_of(value)),
            ));
        };
        if items.is_empty() {
            return Err(invalid(&at, "must list at least one filter"));
        }
        let nodes = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.node(item, &format!("{at}[{i}]"), depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if key == "and" {
            Node::And(nodes)
        } else {
            Node::Or(nodes)
        })
    }

    fn condition(
        &mut self,
        field: &Value,
        object: &Map<String, Value>,
        at: &str,
    ) -> Result<Node, DomainError> {
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(invalid(
                at,
                format!("more than {MAX_CONDITIONS} conditions in one filter"),
            ));
        }
        let field_at = format!("{at}.field");
        let path = match field {
            Value::String(path) => path,
            other => {
                return Err(invalid(
                    &field_at,
                    format!("expected a string, found {}", kind_of(other)),
                ));
            }
        };
        if let Err(reason) = check_path(path) {
            return Err(invalid(&field_at, reason));
        }
        let mut operators = object.iter().filter(|(key, _)| *key != "field");
        for (key, _) in operators.clone() {
            if !OPERATORS.contains(&key.as_str()) {
                return Err(invalid(
                    at,
                    format!("unknown operator {:?}: {OPERATORS_HINT}", clip(key)),
                ));
            }
        }
        let (name, value) = match (operators.next(), operators.next()) {
            (None, _) => {
                return Err(invalid(at, format!("missing operator: {OPERATORS_HINT}")));
            }
            (Some((first, _)), Some((second, _))) => {
                return Err(invalid(
                    at,
                    format!(
                        "more than one operator ({first:?} and {second:?}); combine conditions with \"and\""
                    ),
                ));
            }
            (Some((name, value)), None) => (name.as_str(), value),
        };
        let op_at = format!("{at}.{name}");
        let number = || match value {
            Value::Number(n) => Ok(n.clone()),
            other => Err(invalid(
                &op_at,
                format!("expected a number, found {}", kind_of(other)),
            )),
        };
        let op = match name {
            "eq" => Operator::Eq(value.clone()),
            "ne" => Operator::Ne(value.clone()),
            "in" => match value {
                Value::Array(values) if values.is_empty() => {
                    return Err(invalid(&op_at, "must list at least one value"));
                }
                Value::Array(values) if values.len() > MAX_IN_VALUES => {
                    return Err(invalid(
                        &op_at,
                        format!(
                            "must list at most {MAX_IN_VALUES} values, found {}",
                            values.len()
                        ),
                    ));
                }
                Value::Array(values) => Operator::In(values.clone()),
                other => {
                    return Err(invalid(
                        &op_at,
                        format!("expected an array of values, found {}", kind_of(other)),
                    ));
                }
            },
            "gt" => Operator::Gt(number()?),
            "gte" => Operator::Gte(number()?),
            "lt" => Operator::Lt(number()?),
            "lte" => Operator::Lte(number()?),
            _ => match value {
                Value::Bool(present) => Operator::Exists(*present),
                other => {
                    return Err(invalid(
                        &op_at,
                        format!("expected true or false, found {}", kind_of(other)),
                    ));
                }
            },
        };
        Ok(Node::Condition {
            path: path.clone(),
            op,
        })
    }
}

fn invalid(at: &str, reason: impl Into<String>) -> DomainError {
    DomainError::InvalidPayloadFilter {
        location: at.to_owned(),
        reason: reason.into(),
    }
}

/// Returns why `path` is not a usable field path.
fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("field path must not be empty".to_owned());
    }
    if path.len() > MAX_PATH_LEN {
        return Err(format!("field path must be at most {MAX_PATH_LEN} bytes"));
    }
    if path.split('.').any(str::is_empty) {
        return Err(format!(
            "field path {:?} has an empty segment; write keys separated by single dots, as in \"customer.tier\"",
            clip(path)
        ));
    }
    if path.split('.').count() > MAX_PATH_SEGMENTS {
        return Err(format!(
            "field path must have at most {MAX_PATH_SEGMENTS} segments"
        ));
    }
    Ok(())
}

/// Names a JSON value's type for error messages, without quoting the value.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Node {
    fn matches(&self, payload: &Value) -> bool {
        match self {
            Self::And(nodes) => nodes.iter().all(|node| node.matches(payload)),
            Self::Or(nodes) => nodes.iter().any(|node| node.matches(payload)),
            Self::Not(node) => !node.matches(payload),
            Self::Condition { path, op } => op.matches(lookup(payload, path)),
        }
    }

    fn to_value(&self) -> Value {
        let mut object = Map::new();
        match self {
            Self::And(nodes) => {
                object.insert("and".into(), nodes.iter().map(Self::to_value).collect());
            }
            Self::Or(nodes) => {
                object.insert("or".into(), nodes.iter().map(Self::to_value).collect());
            }
            Self::Not(node) => {
                object.insert("not".into(), node.to_value());
            }
            Self::Condition { path, op } => {
                object.insert("field".into(), Value::String(path.clone()));
                let (name, value) = match op {
                    Operator::Eq(value) => ("eq", value.clone()),
                    Operator::Ne(value) => ("ne", value.clone()),
                    Operator::In(values) => ("in", Value::Array(values.clone())),
                    Operator::Gt(n) => ("gt", Value::Number(n.clone())),
                    Operator::Gte(n) => ("gte", Value::Number(n.clone())),
                    Operator::Lt(n) => ("lt", Value::Number(n.clone())),
                    Operator::Lte(n) => ("lte", Value::Number(n.clone())),
                    Operator::Exists(present) => ("exists", Value::Bool(*present)),
                };
                object.insert(name.into(), value);
            }
        }
        Value::Object(object)
    }
}

impl Operator {
    fn matches(&self, field: Option<&Value>) -> bool {
        let ordered = |bound: &Number, accept: fn(Ordering) -> bool| match field {
            Some(Value::Number(n)) => compare_numbers(n, bound).is_some_and(accept),
            _ => false,
        };
        match self {
            Self::Exists(present) => field.is_some() == *present,
            Self::Eq(value) => field.is_some_and(|f| json_eq(f, value)),
            Self::Ne(value) => field.is_some_and(|f| !json_eq(f, value)),
            Self::In(values) => field.is_some_and(|f| values.iter().any(|v| json_eq(f, v))),
            Self::Gt(bound) => ordered(bound, Ordering::is_gt),
            Self::Gte(bound) => ordered(bound, Ordering::is_ge),
            Self::Lt(bound) => ordered(bound, Ordering::is_lt),
            Self::Lte(bound) => ordered(bound, Ordering::is_le),
        }
    }
}

/// Returns the value at the dot-separated `path`, or `None` when any step is missing.
fn lookup<'a>(payload: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(payload, |value, segment| match value {
            Value::Object(object) => object.get(segment),
            Value::Array(items) => array_index(segment).and_then(|i| items.get(i)),
            _ => None,
        })
}

/// Reads a canonical decimal index; `01` and `+1` are not indexes, so each element has one
/// spelling.
fn array_index(segment: &str) -> Option<usize> {
    let canonical = segment.bytes().all(|b| b.is_ascii_digit())
        && (segment == "0" || !segment.starts_with('0'));
    if canonical {
        segment.parse().ok()
    } else {
        None
    }
}

/// JSON equality in which numbers compare by value, at any depth.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y) == Some(Ordering::Equal),
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(key, x)| ys.get(key).is_some_and(|y| json_eq(x, y)))
        }
        _ => a == b,
    }
}

/// A JSON number widened without loss: integers as `i128`, the rest as finite `f64`.
#[derive(Clone, Copy)]
enum Numeric {
    Int(i128),
    Float(f64),
}

fn numeric(n: &Number) -> Option<Numeric> {
    if let Some(i) = n.as_i64() {
        Some(Numeric::Int(i.into()))
    } else if let Some(u) = n.as_u64() {
        Some(Numeric::Int(u.into()))
    } else {
        n.as_f64().filter(|f| f.is_finite()).map(Numeric::Float)
    }
}

/// Orders two JSON numbers by value, exactly: converting a large integer to `f64` would
/// round it and make `9007199254740993` equal `9007199254740992.0`.
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    match (numeric(a)?, numeric(b)?) {
        (Numeric::Int(x), Numeric::Int(y)) => Some(x.cmp(&y)),
        (Numeric::Float(x), Numeric::Float(y)) => x.partial_cmp(&y),
        (Numeric::Int(x), Numeric::Float(y)) => Some(compare_int_float(x, y)),
        (Numeric::Float(x), Numeric::Int(y)) => Some(compare_int_float(y, x).reverse()),
    }
}

fn compare_int_float(int: i128, float: f64) -> Ordering {
    // Integers here fit in 65 bits; beyond ±1e30 the float is farther away than any of them,
    // and within it `floor` is an integer that `i128` holds exactly.
    const FAR: f64 = 1e30;
    if float >= FAR {
        return Ordering::Less;
    }
    if float <= -FAR {
        return Ordering::Greater;
    }
    let floor = float.floor();
    match int.cmp(&(floor as i128)) {
        Ordering::Equal if float > floor => Ordering::Less,
        ordering => ordering,
    }
}

#[cfg(test)]
mod tests {
    use rand::Rng;
    use serde_json::json;

    use super::*;

    fn event_type(raw: &str) -> EventType {
        EventType::parse(raw).unwrap()
    }

    fn filter(value: Value) -> PayloadFilter {
        PayloadFilter::parse(&value).unwrap_or_else(|e| panic!("{value}: {e}"))
    }

    fn parse_error(value: Value) -> String {
        match PayloadFilter::parse(&value) {
            Err(error) => error.to_string(),
            Ok(parsed) => panic!("{value} parsed as {parsed:?}"),
        }
    }

    #[test]
    fn event_type_filters_match_as_documented() {
        let cases = [
            ("*", "order.created", true),
            ("*", "a", true),
            ("order.*", "order.created", true),
            ("order.*", "order.item.added", true),
            ("order.*", "order", false),
            ("order.*", "order.", false),
            ("order.*", "orders.created", false),
            ("order.*", "orders", false),
            ("order.*", "Order.created", false),
            ("order.*", "my.order.created", false),
            ("order.item.*", "order.item.added", true),
            ("order.item.*", "order.created", false),
            ("billing:invoice.*", "billing:invoice.paid", true),
            ("order.created", "order.created", true),
            ("order.created", "order.created.v2", false),
            ("order.created", "order.create", false),
            ("order.created", "Order.Created", false),
        ];
        for (raw, candidate, expected) in cases {
            let parsed = EventTypeFilter::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(
                parsed.matches(&event_type(candidate)),
                expected,
                "{raw} vs {candidate}"
            );
            assert_eq!(parsed.as_str(), raw);
            assert_eq!(parsed.to_string(), raw);
        }
    }

    #[test]
    fn event_type_filter_rejects_misplaced_wildcards_and_bad_types() {
        let wildcard =
            "'*' is allowed only as the whole filter or as a final \".*\", as in \"order.*\"";
        let cases = [
            ("", "must not be empty"),
            ("**", wildcard),
            ("order*", wildcard),
            ("order.**", wildcard),
            ("*.created", wildcard),
            ("order.*.added", wildcard),
            ("*.*", wildcard),
            (".*", "the prefix before \".*\" must not be empty"),
            (
                "_order.*",
                "the prefix before \".*\" must start with an ASCII letter or digit",
            ),
            (
                "or der.*",
                "the prefix before \".*\" may contain only ASCII letters, digits, '.', '_', '-' and ':'",
            ),
            (
                "order created",
                "may contain only ASCII letters, digits, '.', '_', '-' and ':'",
            ),
            (" *", wildcard),
            (" order", "must start with an ASCII letter or digit"),
        ];
        for (raw, expected) in cases {
            match EventTypeFilter::parse(raw) {
                Err(DomainError::InvalidEventTypeFilter {
                    raw: quoted,
                    reason,
                }) => {
                    assert_eq!(reason, expected, "{raw:?}");
                    assert_eq!(quoted, raw);
                }
                other => panic!("{raw:?}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn event_type_filter_serde_is_a_string() {
        let parsed: EventTypeFilter = serde_json::from_str("\"order.*\"").unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\"order.*\"");
        let error = serde_json::from_str::<EventTypeFilter>("\"order*\"").unwrap_err();
        assert!(
            error.to_string().starts_with("invalid event type filter"),
            "{error}"
        );
    }

    #[test]
    fn event_type_filter_list_matches_when_any_entry_matches() {
        let filters = EventTypeFilters::parse_list(&["invoice.paid", "order.*"]).unwrap();
        assert!(filters.matches(&event_type("invoice.paid")));
        assert!(filters.matches(&event_type("order.created")));
        assert!(!filters.matches(&event_type("invoice.created")));
        assert!(EventTypeFilters::everything().matches(&event_type("anything")));
        assert_eq!(filters.to_string(), "invoice.paid,order.*");
        assert_eq!(
            EventTypeFilters::parse_comma_separated(" invoice.paid , order.* ").unwrap(),
            filters
        );
    }

    #[test]
    fn event_type_filter_list_rejects_empty_long_and_invalid_lists() {
        let empty: [String; 0] = [];
        assert!(matches!(
            EventTypeFilters::parse_list(&empty),
            Err(DomainError::InvalidEventTypeFilters { .. })
        ));
        assert!(matches!(
            EventTypeFilters::parse_comma_separated("  "),
            Err(DomainError::InvalidEventTypeFilters { .. })
        ));
        let long = vec!["*".to_owned(); MAX_EVENT_TYPE_FILTERS + 1];
        assert!(matches!(
            EventTypeFilters::parse_list(&long),
            Err(DomainError::InvalidEventTypeFilters { .. })
        ));
        let error =
            EventTypeFilters::parse_list(&["order.*".to_owned(), "bad*".to_owned()]).unwrap_err();
        assert!(error.to_string().contains("\"bad*\""), "{error}");
        assert!(EventTypeFilters::parse_comma_separated("order.*,,invoice.paid").is_err());
    }

    #[test]
    fn event_type_filter_list_serde_is_an_array_of_strings() {
        let filters: EventTypeFilters = serde_json::from_str(r#"["order.*","*"]"#).unwrap();
        assert_eq!(
            serde_json::to_string(&filters).unwrap(),
            r#"["order.*","*"]"#
        );
        assert!(serde_json::from_str::<EventTypeFilters>("[]").is_err());
        assert!(serde_json::from_str::<EventTypeFilters>(r#"["order*"]"#).is_err());
    }

    #[test]
    fn random_text_never_panics_the_event_type_filter_parser() {
        let mut rng = rand::rng();
        let alphabet = b"ab.*:_- ";
        for _ in 0..5_000 {
            let len = rng.random_range(0..8);
            let raw: String = (0..len)
                .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
                .collect();
            if let Ok(parsed) = EventTypeFilter::parse(&raw) {
                assert_eq!(parsed.as_str(), raw);
                assert_eq!(EventTypeFilter::parse(&parsed.to_string()).unwrap(), parsed);
                if let Ok(exact) = EventType::parse(&raw) {
                    assert!(parsed.matches(&exact), "{raw}");
                }
            }
        }
    }

    #[test]
    fn each_operator_matches_as_documented() {
        let payload = json!({
            "status": "paid",
            "total": 120,
            "discount": 0.5,
            "test": false,
            "note": null,
            "customer": {"tier": "gold", "id": 7},
            "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}],
            "tags": ["vip", "eu"],
        });
        let cases = [
            (json!({"field": "status", "eq": "paid"}), true),
            (json!({"field": "status", "eq": "PAID"}), false),
            (json!({"field": "total", "eq": 120.0}), true),
            (json!({"field": "total", "eq": 120.5}), false),
            (json!({"field": "customer.id", "eq": 7}), true),
            (
                json!({"field": "customer", "eq": {"id": 7.0, "tier": "gold"}}),
                true,
            ),
            (json!({"field": "tags", "eq": ["vip", "eu"]}), true),
            (json!({"field": "tags", "eq": ["eu", "vip"]}), false),
            (json!({"field": "note", "eq": null}), true),
            (json!({"field": "test", "eq": false}), true),
            (json!({"field": "status", "ne": "refunded"}), true),
            (json!({"field": "status", "ne": "paid"}), false),
            (json!({"field": "total", "ne": 120.0}), false),
            (json!({"field": "status", "in": ["paid", "settled"]}), true),
            (json!({"field": "status", "in": ["refunded"]}), false),
            (json!({"field": "customer.id", "in": [1, 7.0]}), true),
            (json!({"field": "total", "gt": 100}), true),
            (json!({"field": "total", "gt": 120}), false),
            (json!({"field": "total", "gte": 120}), true),
            (json!({"field": "total", "gte": 120.5}), false),
            (json!({"field": "total", "lt": 120.5}), true),
            (json!({"field": "total", "lt": 120}), false),
            (json!({"field": "total", "lte": 120}), true),
            (json!({"field": "discount", "lte": 0.25}), false),
            (json!({"field": "discount", "gt": 0}), true),
            (json!({"field": "discount", "lt": 1}), true),
            (json!({"field": "total", "gt": -1}), true),
            (json!({"field": "status", "exists": true}), true),
            (json!({"field": "note", "exists": true}), true),
            (json!({"field": "missing", "exists": true}), false),
            (json!({"field": "missing", "exists": false}), true),
            (json!({"field": "status", "exists": false}), false),
            (json!({"field": "items.0.sku", "eq": "A-1"}), true),
            (json!({"field": "items.1.qty", "gte": 1}), true),
            (json!({"field": "items.2.sku", "exists": true}), false),
            (json!({"field": "items.01.sku", "exists": true}), false),
            (json!({"field": "tags.0", "eq": "vip"}), true),
        ];
        for (raw, expected) in cases {
            assert_eq!(filter(raw.clone()).matches(&payload), expected, "{raw}");
        }
    }

    #[test]
    fn numeric_segments_are_keys_on_objects() {
        let payload = json!({"codes": {"0": "zero", "01": "padded"}});
        assert!(filter(json!({"field": "codes.0", "eq": "zero"})).matches(&payload));
        assert!(filter(json!({"field": "codes.01", "eq": "padded"})).matches(&payload));
    }

    #[test]
    fn missing_fields_match_nothing_but_exists_false() {
        let payload = json!({"customer": {"tier": "gold"}, "items": []});
        for path in [
            "absent",
            "customer.name",
            "customer.tier.x",
            "items.0",
            "items.x",
        ] {
            for (op, value) in [
                ("eq", json!(null)),
                ("ne", json!("free")),
                ("in", json!(["gold", null])),
                ("gt", json!(0)),
                ("gte", json!(0)),
                ("lt", json!(0)),
                ("lte", json!(0)),
                ("exists", json!(true)),
            ] {
                let raw = json!({"field": path, op: value});
                assert!(!filter(raw.clone()).matches(&payload), "{raw}");
            }
            assert!(filter(json!({"field": path, "exists": false})).matches(&payload));
        }
        // Non-object payloads have no fields at all.
        for payload in [json!(null), json!(3), json!("x"), json!([1])] {
            assert!(!filter(json!({"field": "a", "eq": 3})).matches(&payload));
        }
    }

    #[test]
    fn type_mismatches_do_not_match_or_coerce() {
        let payload = json!({"count": "5", "flag": "true", "n": 5, "list": [5], "obj": {"n": 5}});
        let cases = [
            json!({"field": "count", "eq": 5}),
            json!({"field": "count", "gt": 1}),
            json!({"field": "count", "lte": 10}),
            json!({"field": "flag", "eq": true}),
            json!({"field": "n", "eq": "5"}),
            json!({"field": "n", "in": ["5"]}),
            json!({"field": "list", "gt": 1}),
            json!({"field": "list", "eq": 5}),
            json!({"field": "obj", "lt": 10}),
            json!({"field": "obj", "eq": [5]}),
        ];
        for raw in cases {
            assert!(!filter(raw.clone()).matches(&payload), "{raw}");
        }
        // `ne` between different types is true: the values are not equal.
        assert!(filter(json!({"field": "count", "ne": 5})).matches(&payload));
    }

    #[test]
    fn and_or_not_combine_and_nest() {
        let payload = json!({"status": "paid", "total": 50, "currency": "EUR"});
        let cases = [
            (
                json!({"and": [{"field": "status", "eq": "paid"}, {"field": "total", "gt": 10}]}),
                true,
            ),
            (
                json!({"and": [{"field": "status", "eq": "paid"}, {"field": "total", "gt": 100}]}),
                false,
            ),
            (
                json!({"or": [{"field": "status", "eq": "void"}, {"field": "total", "gt": 10}]}),
                true,
            ),
            (
                json!({"or": [{"field": "status", "eq": "void"}, {"field": "total", "gt": 100}]}),
                false,
            ),
            (json!({"not": {"field": "status", "eq": "paid"}}), false),
            (json!({"not": {"field": "missing", "eq": 1}}), true),
            (json!({"not": {"not": {"field": "total", "eq": 50}}}), true),
            (
                json!({"and": [
                    {"field": "currency", "in": ["EUR", "USD"]},
                    {"or": [
                        {"field": "total", "gte": 100},
                        {"not": {"field": "status", "ne": "paid"}}
                    ]}
                ]}),
                true,
            ),
            (
                json!({"and": [
                    {"field": "currency", "in": ["EUR", "USD"]},
                    {"not": {"or": [{"field": "total", "lt": 10}, {"field": "status", "eq": "paid"}]}}
                ]}),
                false,
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(filter(raw.clone()).matches(&payload), expected, "{raw}");
        }
    }

    #[test]
    fn numbers_compare_exactly_across_integer_and_float_forms() {
        let big = json!({"n": 9_007_199_254_740_993_u64, "max": u64::MAX, "neg": i64::MIN});
        assert!(!filter(json!({"field": "n", "eq": 9_007_199_254_740_992.0})).matches(&big));
        assert!(filter(json!({"field": "n", "gt": 9_007_199_254_740_992.0})).matches(&big));
        assert!(filter(json!({"field": "n", "eq": 9_007_199_254_740_993_u64})).matches(&big));
        assert!(filter(json!({"field": "max", "gt": i64::MAX})).matches(&big));
        assert!(filter(json!({"field": "max", "lt": 1e20})).matches(&big));
        assert!(filter(json!({"field": "neg", "lt": -1e18})).matches(&big));
        assert!(filter(json!({"field": "neg", "gt": -1e300})).matches(&big));
        assert!(filter(json!({"field": "n", "lt": 1e300})).matches(&big));
        let small = json!({"x": -2});
        assert!(filter(json!({"field": "x", "lt": -1.5})).matches(&small));
        assert!(filter(json!({"field": "x", "gt": -2.5})).matches(&small));
        assert!(filter(json!({"field": "x", "eq": -2.0})).matches(&small));
    }

    #[test]
    fn parse_errors_name_the_problem_and_its_location() {
        let cases = [
            (
                json!({"and": [{"field": "a", "eq": 1}, {"field": "b", "equals": 2}]}),
                "invalid payload filter: filter.and[1]: unknown operator \"equals\": expected one of \"eq\", \"ne\", \"in\", \"gt\", \"gte\", \"lt\", \"lte\" or \"exists\"",
            ),
            (
                json!({"field": "a", "eq": 1, "gt": 0}),
                "invalid payload filter: filter: more than one operator (\"eq\" and \"gt\"); combine conditions with \"and\"",
            ),
            (
                json!({"field": "a"}),
                "invalid payload filter: filter: missing operator: expected one of \"eq\", \"ne\", \"in\", \"gt\", \"gte\", \"lt\", \"lte\" or \"exists\"",
            ),
            (
                json!({"and": []}),
                "invalid payload filter: filter.and: must list at least one filter",
            ),
            (
                json!({"or": {"field": "a", "eq": 1}}),
                "invalid payload filter: filter.or: expected an array of filters, found an object",
            ),
            (
                json!({"not": [{"field": "a", "eq": 1}]}),
                "invalid payload filter: filter.not: expected an object, found an array",
            ),
            (
                json!({"field": "a..b", "eq": 1}),
                "invalid payload filter: filter.field: field path \"a..b\" has an empty segment; write keys separated by single dots, as in \"customer.tier\"",
            ),
            (
                json!({"or": [{"field": ".a", "eq": 1}]}),
                "invalid payload filter: filter.or[0].field: field path \".a\" has an empty segment; write keys separated by single dots, as in \"customer.tier\"",
            ),
            (
                json!({"field": "", "eq": 1}),
                "invalid payload filter: filter.field: field path must not be empty",
            ),
            (
                json!({"field": 3, "eq": 1}),
                "invalid payload filter: filter.field: expected a string, found a number",
            ),
            (
                json!({"field": "a", "gt": "5"}),
                "invalid payload filter: filter.gt: expected a number, found a string",
            ),
            (
                json!({"not": {"field": "a", "in": "x"}}),
                "invalid payload filter: filter.not.in: expected an array of values, found a string",
            ),
            (
                json!({"field": "a", "in": []}),
                "invalid payload filter: filter.in: must list at least one value",
            ),
            (
                json!({"field": "a", "exists": "yes"}),
                "invalid payload filter: filter.exists: expected true or false, found a string",
            ),
            (
                json!({}),
                "invalid payload filter: filter: empty object: expected \"and\", \"or\", \"not\" or a \"field\" condition",
            ),
            (
                json!("status = paid"),
                "invalid payload filter: filter: expected an object, found a string",
            ),
            (
                json!({"xor": []}),
                "invalid payload filter: filter: unknown operator \"xor\": expected \"and\", \"or\", \"not\" or a \"field\" condition",
            ),
            (
                json!({"eq": 1}),
                "invalid payload filter: filter: condition with operator \"eq\" has no \"field\"",
            ),
            (
                json!({"and": [{"field": "a", "eq": 1}], "or": [{"field": "a", "eq": 1}]}),
                "invalid payload filter: filter: \"and\" and \"or\" cannot share an object; nest one inside the other",
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse_error(raw.clone()), expected, "{raw}");
        }
    }

    #[test]
    fn parse_rejects_long_paths() {
        let long = "a".repeat(MAX_PATH_LEN + 1);
        assert!(parse_error(json!({"field": long, "eq": 1})).contains("at most 256 bytes"));
        let many = vec!["a"; MAX_PATH_SEGMENTS + 1].join(".");
        assert!(parse_error(json!({"field": many, "eq": 1})).contains("at most 32 segments"));
        let most = vec!["a"; MAX_PATH_SEGMENTS].join(".");
        filter(json!({"field": most, "eq": 1}));
    }

    fn nested_nots(levels: usize) -> Value {
        (1..levels).fold(
            json!({"field": "a", "eq": 1}),
            |inner, _| json!({"not": inner}),
        )
    }

    #[test]
    fn parse_allows_eight_levels_and_rejects_nine() {
        filter(nested_nots(MAX_DEPTH));
        let error = parse_error(nested_nots(MAX_DEPTH + 1));
        let location = format!("filter{}", ".not".repeat(MAX_DEPTH));
        assert_eq!(
            error,
            format!("invalid payload filter: {location}: nested deeper than 8 levels")
        );
    }

    #[test]
    fn parse_allows_64_conditions_and_rejects_65() {
        let conditions = |n: usize| {
            let items: Vec<Value> = (0..n).map(|i| json!({"field": "a", "ne": i})).collect();
            json!({"and": items})
        };
        filter(conditions(MAX_CONDITIONS));
        assert_eq!(
            parse_error(conditions(MAX_CONDITIONS + 1)),
            "invalid payload filter: filter.and[64]: more than 64 conditions in one filter"
        );
        let too_many_values: Vec<u32> = (0..=256).collect();
        assert!(
            parse_error(json!({"field": "a", "in": too_many_values}))
                .contains("must list at most 256 values, found 257")
        );
    }

    #[test]
    fn filters_serialize_to_the_json_they_were_parsed_from() {
        let cases = [
            json!({"field": "customer.tier", "eq": "gold"}),
            json!({"field": "total", "gte": 100.5}),
            json!({"field": "n", "lt": -3}),
            json!({"field": "tags", "in": ["a", 1, null, {"x": [1]}]}),
            json!({"field": "items.0.sku", "exists": false}),
            json!({"and": [
                {"field": "currency", "in": ["EUR", "USD"]},
                {"not": {"field": "test", "eq": true}},
                {"or": [{"field": "a", "ne": {"b": 1}}, {"field": "c", "gt": 0}, {"field": "d", "lte": 1e3}]}
            ]}),
        ];
        for raw in cases {
            let parsed = filter(raw.clone());
            assert_eq!(parsed.to_value(), raw);
            let text = serde_json::to_string(&parsed).unwrap();
            let back: PayloadFilter = serde_json::from_str(&text).unwrap();
            assert_eq!(back, parsed);
            assert_eq!(PayloadFilter::parse(&back.to_value()).unwrap(), parsed);
            assert_eq!(parsed.to_string(), raw.to_string());
        }
    }

    #[test]
    fn deserialize_reports_the_parse_error() {
        let error =
            serde_json::from_str::<PayloadFilter>(r#"{"field": "a", "equals": 1}"#).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid payload filter: filter: unknown operator \"equals\""),
            "{error}"
        );
    }

    /// Builds a random JSON value from a small vocabulary.
    fn random_value(rng: &mut impl Rng, depth: usize) -> Value {
        const KEYS: [&str; 12] = [
            "and", "or", "not", "field", "eq", "ne", "in", "gt", "lte", "exists", "a", "a.0",
        ];
        match rng.random_range(0..if depth > 3 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => json!(rng.random_bool(0.5)),
            2 => json!(rng.random_range(-3..3)),
            3 => json!(rng.random_range(-3.0..3.0)),
            4 => json!(KEYS[rng.random_range(0..KEYS.len())]),
            5 => Value::Array(
                (0..rng.random_range(0..3))
                    .map(|_| random_value(rng, depth + 1))
                    .collect(),
            ),
            _ => Value::Object(
                (0..rng.random_range(0..3))
                    .map(|_| {
                        (
                            KEYS[rng.random_range(0..KEYS.len())].to_owned(),
                            random_value(rng, depth + 1),
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// Builds a filter-shaped value in which about one part in twenty is replaced by random
    /// JSON, so both valid filters and near misses are common.
    fn random_filter(rng: &mut impl Rng, depth: usize) -> Value {
        const PATHS: [&str; 6] = ["a", "a.0", "a.1.b", "field", "and", "a..b"];
        if rng.random_bool(0.05) {
            return random_value(rng, depth);
        }
        match rng.random_range(0..if depth > 8 { 1 } else { 4 }) {
            0 => {
                let op = OPERATORS[rng.random_range(0..OPERATORS.len())];
                let path = PATHS[rng.random_range(0..PATHS.len())];
                json!({"field": path, op: random_value(rng, 4)})
            }
            1 => json!({"and": random_children(rng, depth + 1)}),
            2 => json!({"or": random_children(rng, depth + 1)}),
            _ => json!({"not": random_filter(rng, depth + 1)}),
        }
    }

    fn random_children(rng: &mut impl Rng, depth: usize) -> Vec<Value> {
        (0..rng.random_range(1..3))
            .map(|_| random_filter(rng, depth))
            .collect()
    }

    #[test]
    fn random_json_never_panics_the_payload_filter_and_valid_filters_round_trip() {
        let mut rng = rand::rng();
        let payload = json!({"a": [1, {"b": 2}], "field": "x", "and": null});
        let mut valid = 0;
        for i in 0..20_000 {
            let raw = if i % 2 == 0 {
                random_value(&mut rng, 0)
            } else {
                random_filter(&mut rng, 0)
            };
            if let Ok(parsed) = PayloadFilter::parse(&raw) {
                valid += 1;
                assert_eq!(parsed.to_value(), raw);
                assert_eq!(PayloadFilter::parse(&parsed.to_value()).unwrap(), parsed);
                let _ = parsed.matches(&payload);
                let _ = parsed.matches(&raw);
            }
        }
        // Guards the generator: most runs must exercise real filters, not only errors.
        assert!(valid > 1_000, "only {valid} valid filters generated");
    }
}
