//! Parses human-friendly durations such as `20s`, `500ms`, `2m` or `1.5h` given on the
//! command line.

use std::time::Duration;

/// Units accepted after the number, with their length in nanoseconds.
const UNITS: [(&str, f64); 4] = [("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)];

/// Parses a duration made of a non-negative number and a unit (`ms`, `s`, `m`, `h`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let unit_start = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| describe_expected(text))?;
    let (number, unit) = text.split_at(unit_start);
    let value: f64 = number.parse().map_err(|_| describe_expected(text))?;
    let nanos_per_unit = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, nanos)| *nanos)
        .ok_or_else(|| describe_expected(text))?;
    nanos_to_duration(value * nanos_per_unit).ok_or_else(|| format!("`{text}` is too long"))
}

/// Converts a number of nanoseconds to a duration, rounding to the nearest nanosecond.
fn nanos_to_duration(nanos: f64) -> Option<Duration> {
    let rounded = nanos.round();
    (rounded.is_finite() && rounded >= 0.0 && rounded < u64::MAX as f64)
        .then(|| Duration::from_nanos(rounded as u64))
}

/// Builds the error message shown for text that is not a duration.
fn describe_expected(text: &str) -> String {
    format!("`{text}` is not a duration: write a number and a unit, such as 20s, 500ms or 2m")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn parses_fractions_and_zero() {
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0.25m"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration(" 3s "), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn rejects_text_that_is_not_a_duration() {
        for text in [
            "", "20", "s", "-1s", "20 s", "20sec", "1.2.3s", "ms20", "abc",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?} should be rejected");
        }
    }

    #[test]
    fn rejects_overflowing_durations() {
        assert!(parse_duration("99999999999999999999h").is_err());
    }
}
