use eventflow_domain::{EndpointId, ProjectId};

/// Every Redis key name EventFlow uses, under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Builds key names under `prefix` (e.g. `ef:` or `t:<uuid>:` in tests).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// The prefix every key starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The stream of committed events waiting for fan-out.
    pub fn event_stream(&self) -> String {
        format!("{}stream:events", self.prefix)
    }

    /// Which incarnation of the event stream this is (see `Queue::stream_epoch`).
    pub fn stream_epoch(&self) -> String {
        format!("{}stream:events:epoch", self.prefix)
    }

    /// The rate limiter's state for one project (a GCRA theoretical arrival time).
    pub fn project_rate_limit(&self, project_id: ProjectId) -> String {
        format!("{}rl:project:{}", self.prefix, project_id)
    }

    /// The rate limiter's state for one endpoint's deliveries.
    pub fn endpoint_rate_limit(&self, endpoint_id: EndpointId) -> String {
        format!("{}rl:endpoint:{}", self.prefix, endpoint_id)
    }
}
