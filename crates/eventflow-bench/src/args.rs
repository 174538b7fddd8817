//! Command-line options shared by every workload subcommand.

use std::time::Duration;

use clap::Args;

use crate::runner::LoadPlan;
use eventflow_domain::parse_duration;

/// How hard, how long and how to report a run.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Closed-loop workers, or the most requests in flight in open loop.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,

    /// Length of the measured window (after the warm-up), e.g. 20s, 500ms, 2m.
    #[arg(long, default_value = "20s", value_parser = parse_positive_duration)]
    pub duration: Duration,

    /// Time spent sending before measuring; its requests are not recorded.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,

    /// Open loop: start this many requests (batches with --batch) per second in total, at
    /// fixed intervals, and measure latency from each intended send time. Closed loop
    /// when absent.
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Give up on a request after this long (counted as a timeout error).
    #[arg(long, default_value = "30s", value_parser = parse_positive_duration)]
    pub timeout: Duration,

    /// Print the report as one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

impl RunArgs {
    /// Returns the load plan these options describe.
    pub fn load_plan(&self) -> LoadPlan {
        LoadPlan {
            concurrency: self.concurrency as usize,
            warmup: self.warmup,
            duration: self.duration,
            rate: self.rate,
        }
    }
}

/// Parses a duration that must be longer than zero.
fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text).map_err(|error| error.to_string())?;
    if duration.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(duration)
}

/// Parses a request rate: a finite number of requests per second above zero.
fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of requests per second"))?;
    if !(rate.is_finite() && rate > 0.0) {
        return Err("must be a number of requests per second above zero".to_owned());
    }
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_must_be_positive_and_finite() {
        assert_eq!(parse_rate("1500"), Ok(1500.0));
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        for text in ["0", "-3", "inf", "NaN", "fast"] {
            assert!(parse_rate(text).is_err(), "{text:?} should be rejected");
        }
    }

    #[test]
    fn duration_and_timeout_must_be_positive() {
        assert_eq!(parse_positive_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_positive_duration("0s").is_err());
    }
}
