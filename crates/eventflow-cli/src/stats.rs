//! `eventflow stats`: the project's series as a compact table with a
//! sparkline per measure.

use serde_json::Value;

use crate::api::Api;
use crate::output::{Output, sparkline};
use crate::paging::push_opt;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  eventflow stats\n  eventflow stats --bucket minute --since 2026-12-07T12:00:00Z --json"
)]
pub struct Args {
    /// minute, hour (default) or day.
    #[arg(long)]
    bucket: Option<String>,
    /// RFC 3339 start (default: a day before --until).
    #[arg(long)]
    since: Option<String>,
    /// RFC 3339 end (default: now).
    #[arg(long)]
    until: Option<String>,
    /// ep_…: one endpoint's deliveries.
    #[arg(long)]
    endpoint: Option<String>,
}

/// The measures shown, as (label, field of a point).
const MEASURES: [(&str, &str); 4] = [
    ("events", "events"),
    ("succeeded", "deliveries_succeeded"),
    ("failed", "deliveries_failed"),
    ("attempts", "attempts"),
];

pub async fn run(args: Args, api: &Api, output: &Output) -> anyhow::Result<()> {
    let mut query = Vec::new();
    push_opt(&mut query, "bucket", &args.bucket);
    push_opt(&mut query, "since", &args.since);
    push_opt(&mut query, "until", &args.until);
    push_opt(&mut query, "endpoint_id", &args.endpoint);
    let stats = api.get("/v1/stats", &query).await?;
    output.print(&stats, || stats_text(&stats))
}

fn stats_text(stats: &Value) -> String {
    let series = stats
        .get("series")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let field = |name: &str| crate::output::cell(stats.get(name));
    let mut lines = vec![format!(
        "{} to {} by {}",
        field("since"),
        field("until"),
        field("bucket")
    )];
    let values = |pick: &dyn Fn(&Value) -> Option<f64>| -> Vec<f64> {
        series
            .iter()
            .map(|point| pick(point).unwrap_or(0.0))
            .collect()
    };
    for (label, name) in MEASURES {
        let points = values(&|point| point.get(name).and_then(Value::as_f64));
        let total: f64 = points.iter().sum();
        let line = sparkline(&squeeze(&points, |chunk| chunk.iter().sum()));
        lines.push(format!("{label:<10} {total:>9}  {line}"));
    }
    let p99 = values(&|point| point.pointer("/latency_ms/p99").and_then(Value::as_f64));
    let worst = p99.iter().copied().fold(0.0_f64, f64::max);
    let line = sparkline(&squeeze(&p99, |chunk| {
        chunk.iter().copied().fold(0.0, f64::max)
    }));
    lines.push(format!(
        "{:<10} {:>9}  {line}",
        "p99 ms",
        format!("≤{worst}")
    ));
    lines.join("\n")
}

/// At most this many characters of sparkline, so a day by minute fits a terminal.
const SPARK_WIDTH: usize = 60;

/// `points` folded into at most [`SPARK_WIDTH`] chunks by `fold` (a sum for
/// counts, the maximum for latencies), oldest first.
fn squeeze(points: &[f64], fold: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    if points.len() <= SPARK_WIDTH {
        return points.to_vec();
    }
    let per_chunk = points.len().div_ceil(SPARK_WIDTH);
    points.chunks(per_chunk).map(fold).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_series_is_folded_to_the_sparkline_width() {
        let day_by_minute = vec![1.0; 1440];

        let squeezed = squeeze(&day_by_minute, |chunk| chunk.iter().sum());

        assert!(squeezed.len() <= SPARK_WIDTH, "{}", squeezed.len());
        assert_eq!(squeezed.iter().sum::<f64>(), 1440.0);
        assert_eq!(squeeze(&[1.0, 2.0], |chunk| chunk.iter().sum()), [1.0, 2.0]);
    }
}
