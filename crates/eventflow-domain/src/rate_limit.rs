//! Rate limits: how many events a project may send, or deliveries an endpoint may receive,
//! per second. Enforcing them across replicas is the queue crate's job (in Redis); this
//! module only says what a limit is.

/// A sustained rate with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Events (or deliveries) per second, sustained.
    pub per_second: u32,
    /// How many may go at once after a quiet spell.
    pub burst: u32,
}

impl RateLimit {
    /// A limit of `per_second` whose burst is one second's worth (at least 1).
    pub fn per_second(per_second: u32) -> Self {
        Self {
            per_second,
            burst: per_second.max(1),
        }
    }
}

/// An API key's own limit: each part it leaves unset falls back to the service's default,
/// which only the service that enforces limits (the gateway) knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitOverride {
    /// The key's own sustained rate, if any.
    pub per_second: Option<u32>,
    /// The key's own burst, if any.
    pub burst: Option<u32>,
}

impl RateLimitOverride {
    /// Returns the limit that applies: this override's parts, else `default`'s.
    pub fn or(self, default: RateLimit) -> RateLimit {
        RateLimit {
            per_second: self.per_second.unwrap_or(default.per_second),
            burst: self.burst.unwrap_or(default.burst),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_replaces_only_the_parts_it_sets() {
        let default = RateLimit {
            per_second: 100,
            burst: 200,
        };
        assert_eq!(RateLimitOverride::default().or(default), default);
        let rate_only = RateLimitOverride {
            per_second: Some(5),
            burst: None,
        };
        assert_eq!(
            rate_only.or(default),
            RateLimit {
                per_second: 5,
                burst: 200
            }
        );
    }

    #[test]
    fn a_per_second_limit_bursts_one_second_and_at_least_one() {
        assert_eq!(RateLimit::per_second(50).burst, 50);
        assert_eq!(RateLimit::per_second(0).burst, 1);
    }
}
