//! `/v1/stats`: a project's throughput, delivery outcomes and attempt latency
//! over time, for the dashboard's charts.
//!
//! The series is read from per-minute counters the gateway and the
//! dispatcher keep (see `eventflow_store::StatsDelta`), rolled up into
//! minute, hour or day buckets: polling it costs the same whatever the
//! traffic. Buckets are UTC-aligned and zero-filled, so a chart needs no gap
//! handling.

use actix_web::{HttpResponse, get, web};
use eventflow_domain::{EndpointId, Scope};
use eventflow_runtime::api_error::FieldError;
use eventflow_store::{StatsBucket, StatsPoint, StatsQuery};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::responses::NeedsRead;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// The most buckets one request may ask for.
const MAX_BUCKETS: i64 = 10_000;
/// The range when `since` is not given: this long before `until` (from
/// [`EARLIEST`] at most).
const DEFAULT_RANGE: time::Duration = time::Duration::hours(24);
/// The earliest and latest instants `since` and `until` may name. Nothing is
/// counted before the Unix epoch, and the latest leaves room to align a range
/// outwards to whole days (and to print it) without leaving the years the
/// API can represent (0000 to 9999).
const EARLIEST: OffsetDateTime = time::macros::datetime!(1970-01-01 00:00:00 UTC);
const LATEST: OffsetDateTime = time::macros::datetime!(9999-12-31 00:00:00 UTC);
const EARLIEST_TEXT: &str = "1970-01-01T00:00:00Z";
const LATEST_TEXT: &str = "9999-12-31T00:00:00Z";

/// A 422 naming `field` unless `at` lies within [`EARLIEST`, `LATEST`].
fn check_bounds(field: &str, at: OffsetDateTime) -> Result<(), ApiError> {
    if (EARLIEST..=LATEST).contains(&at) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("must be between {EARLIEST_TEXT} and {LATEST_TEXT}"),
        ))
    }
}

/// Registers this module's routes.
pub fn register(config: &mut ServiceConfig) {
    config.service(get_stats);
}

/// What a statistics request may ask.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// `minute`, `hour` (default) or `day`; buckets are aligned on UTC.
    pub bucket: Option<String>,
    /// RFC 3339 start of the range (default: 24 h before `until`); widened
    /// to the start of its bucket. Between 1970-01-01T00:00:00Z and
    /// 9999-12-31T00:00:00Z.
    pub since: Option<String>,
    /// RFC 3339 end of the range, exclusive (default: now); widened to the
    /// end of its bucket. Between 1970-01-01T00:00:00Z and
    /// 9999-12-31T00:00:00Z, after `since`.
    pub until: Option<String>,
    /// `ep_…`: only this endpoint's deliveries and attempts.
    pub endpoint_id: Option<String>,
}

/// Attempt latency percentiles, in milliseconds. Each is the upper bound of
/// the histogram bucket (1, 2, 5, 10, 20, 50 … 60,000 ms) that holds it;
/// null when the bucket had no attempts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LatencyOut {
    pub p50: Option<u64>,
    pub p90: Option<u64>,
    pub p99: Option<u64>,
}

/// One bucket of the series.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatsPointOut {
    /// Start of the bucket (UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub start: OffsetDateTime,
    /// Events the project received; project-wide even when `endpoint_id` is given.
    pub events: i64,
    /// Deliveries that ended succeeded in this bucket.
    pub deliveries_succeeded: i64,
    /// Deliveries dead-lettered (failed after the last retry) in this bucket.
    pub deliveries_failed: i64,
    /// Delivery attempts started in this bucket.
    pub attempts: i64,
    pub latency_ms: LatencyOut,
}

impl From<StatsPoint> for StatsPointOut {
    fn from(point: StatsPoint) -> Self {
        Self {
            start: point.start,
            events: point.events,
            deliveries_succeeded: point.succeeded,
            deliveries_failed: point.failed,
            attempts: point.attempts,
            latency_ms: LatencyOut {
                p50: point.latency.percentile(50.0),
                p90: point.latency.percentile(90.0),
                p99: point.latency.percentile(99.0),
            },
        }
    }
}

/// A statistics series.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatsOut {
    /// `minute`, `hour` or `day`.
    pub bucket: String,
    /// Start of the first bucket.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub since: OffsetDateTime,
    /// End of the last bucket (exclusive).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub until: OffsetDateTime,
    /// `ep_…` when the series is one endpoint's.
    pub endpoint_id: Option<String>,
    /// One point per bucket, oldest first, empty buckets included with zeros.
    pub series: Vec<StatsPointOut>,
}

/// A validated statistics request, before the endpoint's ownership is checked.
#[derive(Debug, PartialEq, Eq)]
struct StatsRequest {
    bucket: StatsBucket,
    since: OffsetDateTime,
    until: OffsetDateTime,
    endpoint_id: Option<EndpointId>,
}

impl StatsParams {
    /// Checks every parameter: a malformed one, or a range the series cannot
    /// cover, is a 422 naming the offending parameter.
    fn validate(&self, now: OffsetDateTime) -> Result<StatsRequest, ApiError> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, message: String| {
            errors.push(FieldError {
                field: field.to_owned(),
                message,
            })
        };
        let bucket = self
            .bucket
            .as_deref()
            .map_or(Some(StatsBucket::Hour), |raw| {
                let bucket = StatsBucket::parse(raw);
                if bucket.is_none() {
                    fail("bucket", "must be minute, hour or day".into());
                }
                bucket
            });
        let mut timestamp = |field: &str, raw: Option<&str>| match raw {
            None => Some(None),
            Some(raw) => {
                let parsed = OffsetDateTime::parse(raw, &Rfc3339).ok();
                if parsed.is_none() {
                    fail(field, "must be an RFC 3339 timestamp".into());
                }
                parsed.map(Some)
            }
        };
        let since = timestamp("since", self.since.as_deref());
        let until = timestamp("until", self.until.as_deref());
        let endpoint_id = match self.endpoint_id.as_deref().map(EndpointId::parse) {
            None => Some(None),
            Some(Ok(id)) => Some(Some(id)),
            Some(Err(error)) => {
                fail("endpoint_id", error.to_string());
                None
            }
        };
        let (Some(bucket), Some(since), Some(until), Some(endpoint_id)) =
            (bucket, since, until, endpoint_id)
        else {
            return Err(ApiError::Invalid(errors));
        };
        let until = until.unwrap_or(now);
        check_bounds("until", until)?;
        // The default range never reaches before the earliest instant.
        let since = since.unwrap_or_else(|| {
            until
                .checked_sub(DEFAULT_RANGE)
                .map_or(EARLIEST, |since| since.max(EARLIEST))
        });
        check_bounds("since", since)?;
        if since >= until {
            return Err(ApiError::invalid("since", "must be before until"));
        }
        let buckets = bucket.count(since, until);
        if buckets > MAX_BUCKETS {
            return Err(ApiError::invalid(
                "since",
                format!(
                    "the range spans {buckets} {} buckets; at most {MAX_BUCKETS} are allowed",
                    bucket.as_str()
                ),
            ));
        }
        Ok(StatsRequest {
            bucket,
            since,
            until,
            endpoint_id,
        })
    }
}

/// Returns the project's events, delivery outcomes, attempts and attempt
/// latency per minute, hour or day, for the whole project or one endpoint.
#[utoipa::path(
    params(StatsParams),
    responses(
        (status = 200, description = "the series, zero-filled", body = StatsOut),
        (status = 422, description = "a malformed parameter, or a range out of bounds, reversed or of more than 10,000 buckets"),
        NeedsRead,
        (status = 404, description = "no such endpoint in the project"),
    )
)]
#[get("/v1/stats")]
pub async fn get_stats(
    caller: Caller,
    params: web::Query<StatsParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project_id = caller.project(Scope::Read)?;
    let request = params.validate(OffsetDateTime::now_utc())?;
    if let Some(endpoint_id) = request.endpoint_id {
        // Another project's endpoint is as unknown as a missing one.
        let endpoint = state.store.endpoint(endpoint_id).await?;
        if endpoint.project_id != project_id {
            return Err(ApiError::NotFound("endpoint"));
        }
    }
    let query = StatsQuery {
        project_id,
        endpoint_id: request.endpoint_id,
        bucket: request.bucket,
        since: request.since,
        until: request.until,
    };
    let series = {
        let _turn = state.scans.enter().await?;
        state.store.stats(&query).await?
    };
    Ok(HttpResponse::Ok().json(StatsOut {
        bucket: request.bucket.as_str().to_owned(),
        since: request.bucket.floor(request.since),
        until: request.bucket.ceil(request.until),
        endpoint_id: request.endpoint_id.map(|id| id.to_string()),
        series: series.into_iter().map(StatsPointOut::from).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-11-27 14:37:12 UTC);

    fn params(pairs: &[(&str, &str)]) -> StatsParams {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        };
        StatsParams {
            bucket: get("bucket"),
            since: get("since"),
            until: get("until"),
            endpoint_id: get("endpoint_id"),
        }
    }

    fn fields(error: ApiError) -> Vec<String> {
        match error {
            ApiError::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("not a 422: {other:?}"),
        }
    }

    #[test]
    fn the_default_is_hourly_buckets_over_the_last_24_hours() {
        let request = params(&[]).validate(NOW).unwrap();
        assert_eq!(
            request,
            StatsRequest {
                bucket: StatsBucket::Hour,
                since: NOW - time::Duration::hours(24),
                until: NOW,
                endpoint_id: None,
            }
        );
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let error = params(&[
            ("bucket", "week"),
            ("since", "yesterday"),
            ("until", "2026-11-27"),
            ("endpoint_id", "evt_0192f3a0c0de7abc8def0123456789ab"),
        ])
        .validate(NOW)
        .unwrap_err();
        assert_eq!(fields(error), ["bucket", "since", "until", "endpoint_id"]);
    }

    #[test]
    fn the_range_must_be_ordered_and_at_most_10000_buckets() {
        let backwards = params(&[
            ("since", "2026-11-27T12:00:00Z"),
            ("until", "2026-11-27T11:00:00Z"),
        ]);
        assert_eq!(fields(backwards.validate(NOW).unwrap_err()), ["since"]);
        let too_many = params(&[("bucket", "minute"), ("since", "2026-11-01T00:00:00Z")]);
        assert_eq!(fields(too_many.validate(NOW).unwrap_err()), ["since"]);
        let most = params(&[
            ("bucket", "minute"),
            ("since", "2026-11-20T00:00:00Z"),
            ("until", "2026-11-26T22:40:00Z"),
        ]);
        assert!(most.validate(NOW).is_ok());
    }

    #[test]
    fn times_at_the_ends_of_the_years_0000_to_9999_are_422_naming_the_field() {
        let cases = [
            (
                vec![
                    ("bucket", "day"),
                    ("since", "9999-12-30T00:00:00Z"),
                    ("until", "9999-12-31T12:00:00Z"),
                ],
                "until",
            ),
            (vec![("until", "0000-01-01T00:00:00Z")], "until"),
            (vec![("until", "1970-01-01T00:00:00Z")], "since"),
            (
                vec![("since", "0000-01-01T00:00:00Z"), ("bucket", "day")],
                "since",
            ),
            (
                vec![
                    ("since", "9999-12-31T23:59:59Z"),
                    ("until", "9999-12-31T23:59:59.5Z"),
                ],
                "until",
            ),
        ];
        for (pairs, field) in cases {
            let error = params(&pairs).validate(NOW).unwrap_err();
            assert_eq!(fields(error), [field], "{pairs:?}");
        }
        let last_day = params(&[
            ("bucket", "day"),
            ("since", "9999-12-30T00:00:00Z"),
            ("until", "9999-12-31T00:00:00Z"),
        ])
        .validate(NOW)
        .unwrap();
        assert_eq!(last_day.bucket.ceil(last_day.until), LATEST);
        let first_day = params(&[("bucket", "day"), ("until", "1970-01-02T00:00:00Z")])
            .validate(NOW)
            .unwrap();
        assert_eq!(first_day.since, EARLIEST);
    }
}
