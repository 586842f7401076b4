//! Timetokens: 17-digit message ids in 100 ns units since the Unix epoch, as
//! PubNub defines them.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// A message's position in time: 100 ns units since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timetoken(pub u64);

impl Timetoken {
    /// The current wall-clock time as a timetoken.
    pub fn now() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self((since_epoch.as_nanos() / 100) as u64)
    }

    /// The next timetoken to hand out after `last`: the current time, or
    /// `last + 1` when the clock has not moved past `last` (so timetokens
    /// stay strictly increasing even when the clock stalls or steps back).
    pub fn next_after(last: Timetoken) -> Self {
        Self(Self::now().0.max(last.0 + 1))
    }
}

impl fmt::Display for Timetoken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:017}", self.0)
    }
}

/// A timetoken that is not a decimal number.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a timetoken (expected up to 17 decimal digits)")]
pub struct BadTimetoken(String);

impl FromStr for Timetoken {
    type Err = BadTimetoken;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadTimetoken(s.to_owned()));
        }
        s.parse().map(Self).map_err(|_| BadTimetoken(s.to_owned()))
    }
}

impl serde::Serialize for Timetoken {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timetoken {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seventeen_digits() {
        let now = Timetoken::now();
        assert_eq!(now.to_string().len(), 17);
        assert_eq!(now.to_string().parse::<Timetoken>().unwrap(), now);
    }

    #[test]
    fn strictly_increasing() {
        let future = Timetoken(Timetoken::now().0 + 10_000_000_000);
        assert_eq!(Timetoken::next_after(future), Timetoken(future.0 + 1));
        assert!(Timetoken::next_after(Timetoken(0)) > Timetoken(0));
    }

    #[test]
    fn rejects_garbage() {
        assert!("".parse::<Timetoken>().is_err());
        assert!("12a".parse::<Timetoken>().is_err());
        assert!("-1".parse::<Timetoken>().is_err());
    }
}
