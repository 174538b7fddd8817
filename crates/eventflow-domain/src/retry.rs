//! When a failed delivery is tried again.
//!
//! A [`RetrySchedule`] lists the delay before each attempt; its length is the number of
//! attempts, after which a delivery is dead-lettered. Durations are written as a number
//! and one unit (`250ms`, `5s`, `1.5s`, `5m`, `2h`, `1d`), the grammar shared by every
//! duration setting and command-line flag (`EVENTFLOW_RETRY_SCHEDULE=0s,1s,2s`). Storing when the next attempt is
//! due, and acting on it, is the dispatcher's job.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;

use crate::error::{DomainError, clip};

const UNITS_HINT: &str = "expected ms, s, m, h or d";

/// The delays between the attempts of one delivery.
///
/// Entry `n` is the delay before attempt `n`, counting from 0: entry 0 is the delay before
/// the first attempt (usually zero), entry 1 the delay after the first failure. The list is
/// never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl RetrySchedule {
    /// Builds a schedule from `delays`; rejects an empty list.
    pub fn new(delays: Vec<Duration>) -> Result<Self, DomainError> {
        if delays.is_empty() {
            return Err(DomainError::InvalidRetrySchedule {
                raw: String::new(),
                reason: "must list at least one delay".to_owned(),
            });
        }
        Ok(Self { delays })
    }

    /// Parses comma-separated durations such as `0s, 5s, 5m`, trimming spaces around items.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let invalid = |reason: String| DomainError::InvalidRetrySchedule {
            raw: clip(raw),
            reason,
        };
        if raw.trim().is_empty() {
            return Err(invalid("must list at least one delay".to_owned()));
        }
        let delays = raw
            .split(',')
            .enumerate()
            .map(|(i, item)| {
                duration_or_reason(item).map_err(|reason| {
                    invalid(format!("item {} {:?}: {reason}", i + 1, item.trim()))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { delays })
    }

    /// Returns every delay in order.
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// Returns how many attempts a delivery gets before it is dead-lettered.
    pub fn attempts(&self) -> usize {
        self.delays.len()
    }

    /// Returns the delay before attempt `attempt` (counting from 0), or `None` when the
    /// schedule is exhausted.
    ///
    /// After `k` failed attempts, `delay_for_attempt(k)` is the wait before the next one.
    pub fn delay_for_attempt(&self, attempt: usize) -> Option<Duration> {
        self.delays.get(attempt).copied()
    }
}

/// Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts over about 27.6
/// hours, the schedule DESIGN.md promises.
impl Default for RetrySchedule {
    fn default() -> Self {
        const MINUTE: u64 = 60;
        const HOUR: u64 = 60 * MINUTE;
        let seconds = [
            0,
            5,
            5 * MINUTE,
            30 * MINUTE,
            2 * HOUR,
            5 * HOUR,
            10 * HOUR,
            10 * HOUR,
        ];
        Self {
            delays: seconds.into_iter().map(Duration::from_secs).collect(),
        }
    }
}

/// Prints the schedule as [`RetrySchedule::parse`] reads it, e.g. `0s,5s,5m`.
impl fmt::Display for RetrySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, delay) in self.delays.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(&format_duration(*delay))?;
        }
        Ok(())
    }
}

impl FromStr for RetrySchedule {
    type Err = DomainError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl TryFrom<String> for RetrySchedule {
    type Error = DomainError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<RetrySchedule> for String {
    fn from(schedule: RetrySchedule) -> Self {
        schedule.to_string()
    }
}

/// Parses a number followed by `ms`, `s`, `m`, `h` or `d`, trimming surrounding spaces.
///
/// The number is whole (`15s`) or decimal (`1.5s`, `0.25m`, rounded to the nanosecond).
/// Compound forms (`1h30m`), signs, exponents, a bare `0` and a leading or trailing decimal
/// point (`.5s`, `5.s`) are rejected. This is the one duration grammar of the workspace:
/// service settings, retry schedules and every command-line flag read durations through it.
pub fn parse_duration(raw: &str) -> Result<Duration, DomainError> {
    duration_or_reason(raw).map_err(|reason| DomainError::InvalidDuration {
        raw: clip(raw),
        reason,
    })
}

/// Formats `d` in the largest unit that divides it exactly (`0s`, `250ms`, `90s`, `5m`,
/// `10h`, `1d`); sub-millisecond parts are dropped, since the grammar has no smaller unit.
pub fn format_duration(d: Duration) -> String {
    const UNITS: [(u128, &str); 5] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
        (1, "ms"),
    ];
    let millis = d.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    UNITS
        .iter()
        .find(|(factor, _)| millis.is_multiple_of(*factor))
        .map_or_else(
            || format!("{millis}ms"),
            |(factor, unit)| format!("{}{unit}", millis / factor),
        )
}

/// Returns `delay` scaled by a random factor in `1 ± fraction`, spreading retries of many
/// deliveries that failed together.
///
/// `fraction` is clamped to `0.0..=1.0` (NaN counts as 0), so the result is never negative
/// and at most twice `delay`; a zero delay stays zero.
pub fn with_jitter(delay: Duration, fraction: f64) -> Duration {
    let fraction = if fraction.is_nan() {
        0.0
    } else {
        fraction.clamp(0.0, 1.0)
    };
    if fraction <= 0.0 || delay.is_zero() {
        return delay;
    }
    let factor = 1.0 + rand::rng().random_range(-fraction..=fraction);
    // Overflow is only possible near Duration::MAX, where jitter no longer matters.
    Duration::try_from_secs_f64(delay.as_secs_f64() * factor).unwrap_or(delay)
}

/// Parses one duration, returning the reason for the error message on failure.
fn duration_or_reason(raw: &str) -> Result<Duration, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("must not be empty".to_owned());
    }
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() {
        return Err("must start with a number, such as \"5s\" or \"1.5s\"".to_owned());
    }
    if number.contains('.') && (fraction.is_empty() || fraction.contains('.')) {
        return Err(format!(
            "{number:?} is not a number, write digits with at most one decimal point followed by digits"
        ));
    }
    let nanos_per_unit: u128 = match unit {
        "ms" => NANOS_PER_MILLI,
        "s" => NANOS_PER_SECOND,
        "m" => 60 * NANOS_PER_SECOND,
        "h" => 3_600 * NANOS_PER_SECOND,
        "d" => 86_400 * NANOS_PER_SECOND,
        "" => return Err(format!("missing unit, {UNITS_HINT}")),
        _ => return Err(format!("unknown unit {unit:?}, {UNITS_HINT}")),
    };
    let too_large = || "is too large".to_owned();
    let whole: u64 = whole.parse().map_err(|_| too_large())?;
    let nanos = u128::from(whole) * nanos_per_unit + fraction_nanos(fraction, nanos_per_unit);
    let seconds = u64::try_from(nanos / NANOS_PER_SECOND).map_err(|_| too_large())?;
    let subsec_nanos = u32::try_from(nanos % NANOS_PER_SECOND).map_err(|_| too_large())?;
    Ok(Duration::new(seconds, subsec_nanos))
}

const NANOS_PER_MILLI: u128 = 1_000_000;
const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Returns `0.<digits>` of a unit in nanoseconds, rounded to the nearest nanosecond.
///
/// Digits past the 18th are ignored: they weigh less than a nanosecond even for days, and
/// dropping them keeps the arithmetic inside `u128`.
fn fraction_nanos(digits: &str, nanos_per_unit: u128) -> u128 {
    let digits = &digits[..digits.len().min(18)];
    let Ok(numerator) = digits.parse::<u128>() else {
        return 0;
    };
    let denominator = 10_u128.pow(digits.len() as u32);
    (numerator * nanos_per_unit + denominator / 2) / denominator
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;
    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn parse_duration_accepts_every_unit() {
        let cases = [
            ("0s", S(0)),
            ("0ms", S(0)),
            ("250ms", MS(250)),
            ("1500ms", MS(1500)),
            ("5s", S(5)),
            ("5m", S(300)),
            ("2h", S(7_200)),
            ("1d", S(86_400)),
            ("  10h ", S(36_000)),
            ("007s", S(7)),
            ("1.5ms", Duration::from_nanos(1_500_000)),
            ("1.5s", MS(1_500)),
            ("0.25m", S(15)),
            ("1.5h", S(5_400)),
            ("0.5d", S(43_200)),
            ("2.000s", S(2)),
            ("0.0000000004s", S(0)),
            ("0.0000000005s", Duration::from_nanos(1)),
            ("1.0000000000000000000009s", S(1)),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse_duration(raw), Ok(expected), "{raw:?}");
        }
    }

    #[test]
    fn parse_duration_rejects_malformed_text_with_a_reason() {
        let cases = [
            ("", "must not be empty"),
            ("   ", "must not be empty"),
            ("s", "must start with a number, such as \"5s\" or \"1.5s\""),
            (
                "-1s",
                "must start with a number, such as \"5s\" or \"1.5s\"",
            ),
            (
                "+1s",
                "must start with a number, such as \"5s\" or \"1.5s\"",
            ),
            (
                ".5s",
                "must start with a number, such as \"5s\" or \"1.5s\"",
            ),
            (
                "5.s",
                "\"5.\" is not a number, write digits with at most one decimal point followed by digits",
            ),
            (
                "1.2.3s",
                "\"1.2.3\" is not a number, write digits with at most one decimal point followed by digits",
            ),
            ("1e3s", "unknown unit \"e3s\", expected ms, s, m, h or d"),
            ("5", "missing unit, expected ms, s, m, h or d"),
            ("5x", "unknown unit \"x\", expected ms, s, m, h or d"),
            ("5S", "unknown unit \"S\", expected ms, s, m, h or d"),
            ("5M", "unknown unit \"M\", expected ms, s, m, h or d"),
            ("1w", "unknown unit \"w\", expected ms, s, m, h or d"),
            (
                "abc",
                "must start with a number, such as \"5s\" or \"1.5s\"",
            ),
            ("5 s", "unknown unit \" s\", expected ms, s, m, h or d"),
            ("5sec", "unknown unit \"sec\", expected ms, s, m, h or d"),
            ("1h30m", "unknown unit \"h30m\", expected ms, s, m, h or d"),
            ("1.5", "missing unit, expected ms, s, m, h or d"),
            (
                "ms20",
                "must start with a number, such as \"5s\" or \"1.5s\"",
            ),
            ("99999999999999999999s", "is too large"),
            ("999999999999999999d", "is too large"),
            ("213503982334601.5d", "is too large"),
        ];
        for (raw, reason) in cases {
            assert_eq!(
                parse_duration(raw),
                Err(DomainError::InvalidDuration {
                    raw: raw.to_owned(),
                    reason: reason.to_owned()
                }),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn format_duration_picks_the_largest_exact_unit() {
        let cases = [
            (S(0), "0s"),
            (MS(250), "250ms"),
            (MS(1500), "1500ms"),
            (S(90), "90s"),
            (S(300), "5m"),
            (S(5_400), "90m"),
            (S(36_000), "10h"),
            (S(172_800), "2d"),
            (Duration::from_nanos(1_500_000), "1ms"),
            (Duration::from_nanos(999), "0s"),
        ];
        for (duration, expected) in cases {
            assert_eq!(format_duration(duration), expected, "{duration:?}");
        }
    }

    #[test]
    fn formatted_durations_parse_back() {
        let mut rng = rand::rng();
        for _ in 0..5_000 {
            let millis = match rng.random_range(0..3) {
                0 => rng.random_range(0..10_000),
                1 => rng.random_range(0..1_000) * 60_000,
                _ => rng.random_range(0..u64::MAX / 1_000_000),
            };
            let duration = MS(millis);
            let text = format_duration(duration);
            assert_eq!(parse_duration(&text), Ok(duration), "{text}");
        }
    }

    #[test]
    fn default_schedule_is_the_documented_one() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.attempts(), 8);
        assert_eq!(schedule.to_string(), "0s,5s,5m,30m,2h,5h,10h,10h");
        assert_eq!(
            RetrySchedule::parse("0s,5s,5m,30m,2h,5h,10h,10h"),
            Ok(schedule)
        );
    }

    #[test]
    fn schedule_parse_accepts_lists() {
        let cases = [
            ("0s", vec![S(0)]),
            ("0s,1s,2s", vec![S(0), S(1), S(2)]),
            (" 0s , 250ms,5m ", vec![S(0), MS(250), S(300)]),
            ("1d", vec![S(86_400)]),
        ];
        for (raw, expected) in cases {
            let schedule = RetrySchedule::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(schedule.delays(), expected.as_slice(), "{raw:?}");
        }
    }

    #[test]
    fn schedule_parse_rejects_empty_lists_and_bad_items() {
        let cases = [
            ("", "must list at least one delay"),
            (" ", "must list at least one delay"),
            (",", "item 1 \"\": must not be empty"),
            ("0s,", "item 2 \"\": must not be empty"),
            ("0s,,1s", "item 2 \"\": must not be empty"),
            (
                "0s,5x",
                "item 2 \"5x\": unknown unit \"x\", expected ms, s, m, h or d",
            ),
            (
                "0s;1s",
                "item 1 \"0s;1s\": unknown unit \"s;1s\", expected ms, s, m, h or d",
            ),
            ("5", "item 1 \"5\": missing unit, expected ms, s, m, h or d"),
        ];
        for (raw, reason) in cases {
            assert_eq!(
                RetrySchedule::parse(raw),
                Err(DomainError::InvalidRetrySchedule {
                    raw: raw.to_owned(),
                    reason: reason.to_owned()
                }),
                "{raw:?}"
            );
        }
        assert!(RetrySchedule::new(Vec::new()).is_err());
    }

    #[test]
    fn delay_for_attempt_counts_from_zero_and_ends_after_the_last() {
        let schedule = RetrySchedule::parse("0s,1s,2s").unwrap();
        assert_eq!(schedule.attempts(), 3);
        assert_eq!(schedule.delay_for_attempt(0), Some(S(0)));
        assert_eq!(schedule.delay_for_attempt(1), Some(S(1)));
        assert_eq!(schedule.delay_for_attempt(2), Some(S(2)));
        assert_eq!(schedule.delay_for_attempt(3), None);
        assert_eq!(schedule.delay_for_attempt(usize::MAX), None);
    }

    #[test]
    fn schedule_round_trips_through_text_and_serde() {
        let schedule = RetrySchedule::new(vec![S(0), MS(250), S(90), S(3_600)]).unwrap();
        assert_eq!(schedule.to_string(), "0s,250ms,90s,1h");
        assert_eq!(
            schedule.to_string().parse::<RetrySchedule>(),
            Ok(schedule.clone())
        );

        let json = serde_json::to_string(&schedule).unwrap();
        assert_eq!(json, "\"0s,250ms,90s,1h\"");
        assert_eq!(
            serde_json::from_str::<RetrySchedule>(&json).unwrap(),
            schedule
        );
        let error = serde_json::from_str::<RetrySchedule>("\"\"").unwrap_err();
        assert!(
            error.to_string().starts_with("invalid retry schedule"),
            "{error}"
        );
    }

    #[test]
    fn jitter_stays_within_the_fraction() {
        let delay = S(100);
        let (mut below, mut above) = (false, false);
        for _ in 0..2_000 {
            let jittered = with_jitter(delay, 0.2);
            assert!(
                jittered >= MS(79_999) && jittered <= MS(120_001),
                "{jittered:?}"
            );
            below |= jittered < delay;
            above |= jittered > delay;
        }
        assert!(below && above, "jitter should spread both ways");
    }

    #[test]
    fn jitter_never_goes_negative_or_panics_on_odd_input() {
        for _ in 0..1_000 {
            assert!(with_jitter(S(10), 5.0) <= S(20));
        }
        assert_eq!(with_jitter(S(10), 0.0), S(10));
        assert_eq!(with_jitter(S(10), -0.5), S(10));
        assert_eq!(with_jitter(S(10), f64::NAN), S(10));
        assert_eq!(with_jitter(Duration::ZERO, 0.5), Duration::ZERO);
        let _ = with_jitter(Duration::MAX, 1.0);
        let _ = with_jitter(S(10), f64::INFINITY);
    }
}
