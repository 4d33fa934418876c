//! UTC instants with millisecond precision and one fixed RFC 3339 spelling.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The last representable instant, 9999-12-31T23:59:59.999Z, in Unix milliseconds.
const MAX_MILLIS: i64 = 253_402_300_799_999;

/// A UTC instant in whole milliseconds, from the Unix epoch to the end of year 9999.
///
/// Always written as `YYYY-MM-DDTHH:MM:SS.mmmZ`: fixed width, so text order is time order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Text that is not an RFC 3339 timestamp between 1970 and 9999.
#[derive(Debug, thiserror::Error)]
#[error("not an RFC 3339 timestamp between 1970 and 9999: {0:?}")]
pub struct InvalidTimestamp(String);

impl Timestamp {
    /// The current time, truncated to the millisecond.
    pub fn now() -> Self {
        Self::clamped(Utc::now().timestamp_millis())
    }

    /// The instant `millis` milliseconds after the Unix epoch, if it is in range.
    pub fn from_unix_millis(millis: i64) -> Option<Self> {
        (0..=MAX_MILLIS).contains(&millis).then_some(Self(millis))
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(self) -> i64 {
        self.0
    }

    /// This instant moved `by` later, stopping at the end of the range.
    pub fn saturating_add(self, by: Duration) -> Self {
        Self::clamped(self.0.saturating_add(millis_of(by)))
    }

    /// This instant moved `by` earlier, stopping at the Unix epoch.
    pub fn saturating_sub(self, by: Duration) -> Self {
        Self::clamped(self.0.saturating_sub(millis_of(by)))
    }

    fn clamped(millis: i64) -> Self {
        Self(millis.clamp(0, MAX_MILLIS))
    }
}

fn millis_of(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let instant = DateTime::<Utc>::from_timestamp_millis(self.0).ok_or(fmt::Error)?;
        f.write_str(&instant.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;

    /// Accepts any RFC 3339 timestamp; other offsets are converted to UTC, sub-milliseconds dropped.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .and_then(|instant| Self::from_unix_millis(instant.timestamp_millis()))
            .ok_or_else(|| InvalidTimestamp(text.to_owned()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_with_milliseconds_and_z() {
        let instant = Timestamp::from_unix_millis(1_767_225_600_007).unwrap();
        assert_eq!(instant.to_string(), "2026-01-01T00:00:00.007Z");
    }

    #[test]
    fn parses_offsets_into_utc() {
        let instant: Timestamp = "2026-01-01T02:00:00.5+02:00".parse().unwrap();
        assert_eq!(instant.to_string(), "2026-01-01T00:00:00.500Z");
    }

    #[test]
    fn text_order_is_time_order() {
        let early = Timestamp::from_unix_millis(999).unwrap().to_string();
        let late = Timestamp::from_unix_millis(1_000).unwrap().to_string();
        assert!(early < late, "{early} should sort before {late}");
    }

    #[test]
    fn rejects_out_of_range_and_garbage() {
        assert!("1969-12-31T23:59:59Z".parse::<Timestamp>().is_err());
        assert!("yesterday".parse::<Timestamp>().is_err());
        assert!(Timestamp::from_unix_millis(MAX_MILLIS + 1).is_none());
    }

    #[test]
    fn arithmetic_saturates_at_the_range_ends() {
        let start = Timestamp::from_unix_millis(5).unwrap();
        assert_eq!(
            start.saturating_sub(Duration::from_secs(1)).unix_millis(),
            0
        );
        assert_eq!(
            start.saturating_add(Duration::MAX).unix_millis(),
            MAX_MILLIS
        );
        assert_eq!(
            start
                .saturating_add(Duration::from_millis(10))
                .unix_millis(),
            15
        );
    }
}
