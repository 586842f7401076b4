//! Publish rate limits, per client: token buckets refilled at
//! `publish_rate_per_token` per second for a client presenting a token that
//! verifies (counted per authorized uuid, or per token when it names none),
//! and at `publish_rate_per_address` per second for every other client
//! (counted per address: a made-up token buys no bucket of its own). Each
//! bucket holds `publish_burst_secs` seconds' worth. The check runs before
//! a request body is read, so a flood of large bodies costs nothing; a
//! publish past its limit gets 429 with `Retry-After` and is not published.
//! Refusals are counted in `/metrics` as
//! `edgefn_rate_limit_refusals_total{key="user"|"token"|"address"}`.
//! Buckets that are full again are forgotten every second
//! ([`PublishLimits::prune`]), so memory follows the clients of the last
//! few seconds.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::access::{Access, AccessError, Verified};
use crate::config::HttpConfig;
use crate::metrics::RateLabels;

/// How often full buckets are forgotten.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(1);

/// Who a publish counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Client {
    /// A verified token's authorized uuid.
    User(String),
    /// A verified token naming no uuid (by its signature).
    Token(Arc<[u8]>),
    /// Anyone else, by address.
    Address(IpAddr),
}

impl Client {
    /// The client of a request from `address` presenting `token`: the
    /// token's identity when it verifies, the address otherwise (also when
    /// access control is off).
    pub fn of(access: &Access, token: Option<&str>, address: IpAddr) -> Self {
        Self::verified(token.map(|t| access.verify(t)).as_ref(), address)
    }

    /// The client of a request from `address` whose token verified as
    /// `presented` (`None`: it presented none); the request keeps that
    /// for its access check ([`Access::authorize_verified`]), so its token
    /// is verified once.
    pub fn verified(
        presented: Option<&Result<Arc<Verified>, AccessError>>,
        address: IpAddr,
    ) -> Self {
        let Some(Ok(verified)) = presented else {
            return Self::Address(address);
        };
        match &verified.token.authorized_uuid {
            Some(uuid) => Self::User(uuid.clone()),
            None => Self::Token(Arc::clone(&verified.id)),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::Token(_) => "token",
            Self::Address(_) => "address",
        }
    }
}

type Keyed<K, C> =
    RateLimiter<K, DefaultKeyedStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The node's publish limiters.
pub struct PublishLimits<C: Clock = DefaultClock> {
    per_identity: Option<Keyed<Client, C>>,
    per_address: Option<Keyed<IpAddr, C>>,
    /// Made once: making one calibrates it, which costs more than a check.
    clock: C,
    /// Refusals, by [`Client`] kind.
    refusals: Family<RateLabels, Counter>,
}

/// A publish past a limit: retry after this long.
#[derive(Debug, Clone, Copy)]
pub struct Limited {
    /// When to retry.
    pub retry_after: Duration,
    /// Which limit (`user`, `token` or `address`).
    pub by: &'static str,
}

impl PublishLimits {
    /// Limiters for the configured rates (a rate of 0 means no limit),
    /// counting refusals in `refusals`.
    pub fn new(config: &HttpConfig, refusals: Family<RateLabels, Counter>) -> Self {
        Self::with_clock(config, DefaultClock::default(), refusals)
    }
}

impl<C: Clock + Clone> PublishLimits<C> {
    /// Limiters for the configured rates, on `clock`.
    pub fn with_clock(
        config: &HttpConfig,
        clock: C,
        refusals: Family<RateLabels, Counter>,
    ) -> Self {
        let quota = |rate: u32| {
            let rate = NonZeroU32::new(rate)?;
            let burst = rate.saturating_mul(
                NonZeroU32::new(config.publish_burst_secs).unwrap_or(NonZeroU32::MIN),
            );
            Some(Quota::per_second(rate).allow_burst(burst))
        };
        Self {
            per_identity: quota(config.publish_rate_per_token)
                .map(|q| RateLimiter::dashmap_with_clock(q, clock.clone())),
            per_address: quota(config.publish_rate_per_address)
                .map(|q| RateLimiter::dashmap_with_clock(q, clock.clone())),
            clock,
            refusals,
        }
    }

    /// Counts one publish from `client`.
    ///
    /// # Errors
    /// [`Limited`] when its limit is exceeded (counted in the refusals).
    pub fn check(&self, client: &Client) -> Result<(), Limited> {
        let refused = |not_until: governor::NotUntil<C::Instant>| {
            let by = client.kind();
            self.refusals.get_or_create(&RateLabels { key: by }).inc();
            Limited {
                retry_after: not_until.wait_time_from(self.clock.now()),
                by,
            }
        };
        match client {
            Client::Address(address) => match &self.per_address {
                Some(limiter) => limiter.check_key(address).map_err(refused),
                None => Ok(()),
            },
            _ => match &self.per_identity {
                Some(limiter) => limiter.check_key(client).map_err(refused),
                None => Ok(()),
            },
        }
    }

    /// Forgets clients whose buckets are full again (they would start
    /// from a full bucket anyway), and gives their memory back.
    pub fn prune(&self) {
        if let Some(limiter) = &self.per_identity {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.per_address {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// How many clients have buckets.
    pub fn clients(&self) -> usize {
        self.per_identity.as_ref().map_or(0, |l| l.len())
            + self.per_address.as_ref().map_or(0, |l| l.len())
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use governor::clock::FakeRelativeClock;

    use super::*;

    fn config(per_address: u32, per_token: u32) -> HttpConfig {
        HttpConfig {
            publish_rate_per_address: per_address,
            publish_rate_per_token: per_token,
            publish_burst_secs: 2,
            ..HttpConfig::default()
        }
    }

    fn address(n: u32) -> Client {
        Client::Address(IpAddr::V4(Ipv4Addr::from(n)))
    }

    #[test]
    fn buckets_hold_the_burst_and_refill_at_the_rate() {
        let clock = FakeRelativeClock::default();
        let refusals = Family::<RateLabels, Counter>::default();
        let limits = PublishLimits::with_clock(&config(5, 0), clock.clone(), refusals.clone());
        let client = address(1);
        for _ in 0..10 {
            limits.check(&client).expect("within the burst");
        }
        let limited = limits.check(&client).expect_err("past the burst");
        assert_eq!(limited.by, "address");
        assert_eq!(limited.retry_after, Duration::from_millis(200));
        let refused = |key| refusals.get_or_create(&RateLabels { key }).get();
        assert_eq!((refused("address"), refused("user")), (1, 0));
        // Identities are not limited here (rate 0), addresses are apart.
        limits.check(&Client::User("u".into())).unwrap();
        limits.check(&address(2)).unwrap();
        clock.advance(Duration::from_millis(200));
        limits.check(&client).expect("refilled");
    }

    #[test]
    fn full_buckets_are_forgotten() {
        let clock = FakeRelativeClock::default();
        let limits = PublishLimits::with_clock(&config(100, 100), clock.clone(), Family::default());
        for n in 0..1000 {
            limits.check(&address(n)).unwrap();
            limits.check(&Client::User(n.to_string())).unwrap();
        }
        assert_eq!(limits.clients(), 2000);
        limits.prune();
        assert_eq!(limits.clients(), 2000, "none is full yet");
        // One publish refills in 1/100 s: after a tenth, every bucket is
        // full again.
        clock.advance(Duration::from_millis(100));
        limits.check(&address(0)).unwrap();
        limits.prune();
        assert_eq!(limits.clients(), 1, "only the client that just published");
    }
}
