//! Publish rate limits per client address and per access token: token
//! buckets refilled at `publish_rate_per_address` / `publish_rate_per_token`
//! per second (bursts up to one second's worth). A publish past its limit
//! gets 429 with `Retry-After`; nothing is published.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::HttpConfig;

/// The node's publish limiters.
pub struct PublishLimits {
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_token: Option<DefaultKeyedRateLimiter<String>>,
    /// Made once: making one calibrates it, which costs more than a check.
    clock: DefaultClock,
}

/// A publish past a limit: retry after this long.
#[derive(Debug, Clone, Copy)]
pub struct Limited {
    /// When to retry.
    pub retry_after: Duration,
    /// Which limit (`address` or `token`).
    pub by: &'static str,
}

impl PublishLimits {
    /// Limiters for the configured rates (a rate of 0 means no limit).
    pub fn new(config: &HttpConfig) -> Self {
        let quota = |rate: u32| NonZeroU32::new(rate).map(Quota::per_second);
        Self {
            per_address: quota(config.publish_rate_per_address).map(RateLimiter::keyed),
            per_token: quota(config.publish_rate_per_token).map(RateLimiter::keyed),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one publish from `address` with `token`.
    ///
    /// # Errors
    /// [`Limited`] when either limit is exceeded.
    pub fn check(&self, address: IpAddr, token: Option<&str>) -> Result<(), Limited> {
        let refused = |by| {
            let clock = &self.clock;
            move |not_until: governor::NotUntil<_>| Limited {
                retry_after: not_until.wait_time_from(clock.now()),
                by,
            }
        };
        if let Some(limiter) = &self.per_address {
            limiter.check_key(&address).map_err(refused("address"))?;
        }
        if let (Some(limiter), Some(token)) = (&self.per_token, token) {
            limiter
                .check_key(&token.to_owned())
                .map_err(refused("token"))?;
        }
        Ok(())
    }

    /// Forgets clients whose buckets are full again (keeps memory bounded).
    pub fn prune(&self) {
        if let Some(limiter) = &self.per_address {
            limiter.retain_recent();
        }
        if let Some(limiter) = &self.per_token {
            limiter.retain_recent();
        }
    }
}
