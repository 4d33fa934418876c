//! Points in time given on the command line: an age such as `7d`, or an RFC 3339 instant.

use std::str::FromStr;
use std::time::Duration;

use codemode_audit::Timestamp;

/// The units an age may end with, in seconds.
const UNITS: [(char, u64); 5] = [
    ('s', 1),
    ('m', 60),
    ('h', 3_600),
    ('d', 86_400),
    ('w', 604_800),
];

/// A point in time, absolute or counted back from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cutoff {
    /// An instant given in RFC 3339.
    At(Timestamp),
    /// This long before now.
    Ago(Duration),
}

impl Cutoff {
    /// Before every record: the Unix epoch.
    pub const BEGINNING: Cutoff = Cutoff::Ago(Duration::MAX);

    /// A cut-off `days` days before now.
    pub fn days_ago(days: u32) -> Cutoff {
        Cutoff::Ago(Duration::from_secs(u64::from(days) * 86_400))
    }

    /// The instant meant, when the time now is `now`.
    pub fn instant(self, now: Timestamp) -> Timestamp {
        match self {
            Cutoff::At(instant) => instant,
            Cutoff::Ago(age) => now.saturating_sub(age),
        }
    }
}

impl FromStr for Cutoff {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Ok(instant) = text.parse() {
            return Ok(Cutoff::At(instant));
        }
        parse_age(text).map(Cutoff::Ago).ok_or_else(|| {
            "expected an age such as 30m, 24h, 7d or 2w, \
             or an RFC 3339 time such as 2026-01-31T00:00:00Z"
                .to_string()
        })
    }
}

/// Reads a whole number followed by one of the [`UNITS`].
fn parse_age(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let (_, seconds) = UNITS.iter().find(|(name, _)| *name == unit)?;
    let count = &text[..text.len() - unit.len_utf8()];
    if !count.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    count
        .parse::<u64>()
        .ok()?
        .checked_mul(*seconds)
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_count_back_from_now() {
        let now: Timestamp = "2026-03-10T12:00:00Z".parse().unwrap();
        let cases = [
            ("90s", "2026-03-10T11:58:30.000Z"),
            ("30m", "2026-03-10T11:30:00.000Z"),
            ("24h", "2026-03-09T12:00:00.000Z"),
            ("7d", "2026-03-03T12:00:00.000Z"),
            ("2w", "2026-02-24T12:00:00.000Z"),
        ];
        for (age, expected) in cases {
            let cutoff: Cutoff = age.parse().unwrap();
            assert_eq!(cutoff.instant(now).to_string(), expected, "{age}");
        }
    }

    #[test]
    fn instants_are_taken_as_given() {
        let now = Timestamp::now();
        let cutoff: Cutoff = "2026-01-01T01:00:00+01:00".parse().unwrap();
        assert_eq!(cutoff.instant(now).to_string(), "2026-01-01T00:00:00.000Z");
    }

    #[test]
    fn the_beginning_is_the_epoch() {
        assert_eq!(Cutoff::BEGINNING.instant(Timestamp::now()).unix_millis(), 0);
    }

    #[test]
    fn retention_days_match_the_same_age_in_days() {
        assert_eq!(Cutoff::days_ago(90), "90d".parse().unwrap());
    }

    #[test]
    fn other_text_is_refused_with_examples() {
        for text in [
            "",
            "d",
            "7",
            "7x",
            "-7d",
            "+7d",
            "1.5h",
            "7 d",
            "yesterday",
            "7д",
        ] {
            let error = text.parse::<Cutoff>().expect_err(text);
            assert!(error.contains("24h"), "{error}");
        }
        assert!("99999999999999999w".parse::<Cutoff>().is_err());
    }
}
