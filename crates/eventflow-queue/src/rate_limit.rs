//! Enforcement of the domain's [`RateLimit`]s, per project and per endpoint, with GCRA (generic cell rate algorithm) in one
//! Lua script, so a check is one atomic round trip and replicas share limits.
//!
//! The state per project is one number, the theoretical arrival time (TAT), in
//! microseconds of Redis' own clock, so replicas with skewed clocks agree.

use std::time::Duration;

use eventflow_domain::{EndpointId, ProjectId, RateLimit};
use fred::types::scripts::Script;

use crate::{Queue, QueueError};

/// KEYS[1]: state key. ARGV: emission interval (µs per event), burst (events), cost (events).
/// Returns {allowed (0/1), remaining, retry_after_us, reset_us}.
const GCRA: &str = r#"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tolerance = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - tolerance
if allow_at > now then
  local remaining = math.floor((tolerance - (tat - now)) / interval)
  if remaining < 0 then remaining = 0 end
  return {0, remaining, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((tolerance - (new_tat - now)) / interval), 0, new_tat - now}
"#;

pub(crate) fn script() -> Script {
    Script::from_lua(GCRA)
}

/// The limiter's answer, with what the `RateLimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    /// Events that could still be sent right now.
    pub remaining: u64,
    /// When denied: how long until this request would be allowed.
    pub retry_after: Duration,
    /// How long until the limiter is back to a full burst.
    pub reset_after: Duration,
}

impl Queue {
    /// Takes `cost` events from the project's allowance if they fit; atomic
    /// across every replica sharing this Redis.
    #[tracing::instrument(level = "debug", skip_all, fields(project_id = %project_id, cost))]
    pub async fn check_rate(
        &self,
        project_id: ProjectId,
        cost: u32,
        limit: RateLimit,
    ) -> Result<RateDecision, QueueError> {
        self.take_allowance(self.keys().project_rate_limit(project_id), cost, limit)
            .await
    }

    /// Takes one delivery from the endpoint's allowance if it fits, across every dispatcher.
    #[tracing::instrument(level = "debug", skip_all, fields(endpoint_id = %endpoint_id))]
    pub async fn check_endpoint_rate(
        &self,
        endpoint_id: EndpointId,
        limit: RateLimit,
    ) -> Result<RateDecision, QueueError> {
        self.take_allowance(self.keys().endpoint_rate_limit(endpoint_id), 1, limit)
            .await
    }

    async fn take_allowance(
        &self,
        key: String,
        cost: u32,
        limit: RateLimit,
    ) -> Result<RateDecision, QueueError> {
        let interval_us = 1_000_000f64 / f64::from(limit.per_second.max(1));
        let args = vec![
            interval_us.to_string(),
            limit.burst.max(1).to_string(),
            cost.to_string(),
        ];
        let reply: Vec<i64> = self
            .rate_limit_script
            .evalsha_with_reload(self.client(), vec![key], args)
            .await?;
        let [allowed, remaining, retry_after_us, reset_us] = reply[..] else {
            return Err(QueueError::UnexpectedReply(format!(
                "rate limit script returned {reply:?}"
            )));
        };
        Ok(RateDecision {
            allowed: allowed == 1,
            remaining: u64::try_from(remaining).unwrap_or(0),
            retry_after: micros(retry_after_us),
            reset_after: micros(reset_us),
        })
    }
}

fn micros(value: i64) -> Duration {
    Duration::from_micros(u64::try_from(value).unwrap_or(0))
}
