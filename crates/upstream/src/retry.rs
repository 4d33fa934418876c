//! When to send a request again: 429 always, 503 for idempotent methods, honouring `Retry-After`
//! within fixed bounds.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use codemode_spec::Method;

/// Bounds on retrying one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Longest single wait; a `Retry-After` asking for more makes the request give up at once.
    pub max_wait: Duration,
    /// Longest total wait across the retries of one request.
    pub max_total_wait: Duration,
    /// First backoff when the response has no `Retry-After`; it doubles per retry, with jitter.
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            max_wait: Duration::from_secs(10),
            max_total_wait: Duration::from_secs(20),
            base_delay: Duration::from_millis(500),
        }
    }
}

/// Why a retryable response was not retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GiveUp {
    /// Every retry was used.
    #[error("gave up after {0} retries")]
    TooManyRetries(u32),
    /// `Retry-After` asked for a longer wait than allowed.
    #[error("the API asked to wait {asked:?} before retrying, more than the {limit:?} allowed")]
    WaitTooLong {
        /// What the API asked for.
        asked: Duration,
        /// The most this server waits at once.
        limit: Duration,
    },
    /// The next wait would pass the total wait allowed.
    #[error("waiting again would pass the {0:?} total retry wait allowed")]
    TotalWaitExceeded(Duration),
}

/// Whether a response status is worth retrying: 429 (the request was not processed) for every
/// method, 503 only for GET, PUT and DELETE, which are safe to repeat.
pub fn is_retryable(status: u16, method: Method) -> bool {
    match status {
        429 => true,
        503 => matches!(method, Method::Get | Method::Put | Method::Delete),
        _ => false,
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (from 1), given the response's `Retry-After` and the
    /// time already spent waiting for this request.
    pub fn wait_before(
        &self,
        retry: u32,
        retry_after: Option<&str>,
        waited: Duration,
        now: SystemTime,
    ) -> Result<Duration, GiveUp> {
        if retry > self.max_retries {
            return Err(GiveUp::TooManyRetries(self.max_retries));
        }
        let wait = match retry_after.and_then(|value| parse_retry_after(value, now)) {
            Some(asked) if asked > self.max_wait => {
                return Err(GiveUp::WaitTooLong {
                    asked,
                    limit: self.max_wait,
                });
            }
            Some(asked) => asked,
            None => self.backoff(retry),
        };
        if waited + wait > self.max_total_wait {
            return Err(GiveUp::TotalWaitExceeded(self.max_total_wait));
        }
        Ok(wait)
    }

    /// Exponential backoff with jitter: between half and all of `base_delay * 2^(retry-1)`.
    fn backoff(&self, retry: u32) -> Duration {
        let doubled = self
            .base_delay
            .saturating_mul(1 << retry.saturating_sub(1).min(16));
        doubled
            .min(self.max_wait)
            .mul_f64(0.5 + 0.5 * random_unit())
    }
}

/// A `Retry-After` value, in seconds or as an HTTP date; `None` when it is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A random number in `[0, 1)`, from the standard library's randomly keyed hasher.
fn random_unit() -> f64 {
    let bits = RandomState::new().build_hasher().finish() >> 11;
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn retry_after_in_seconds_or_http_date() {
        let now = at(1_700_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(at(1_700_000_005));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(5)));
        let earlier = httpdate::fmt_http_date(at(1_699_999_000));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn honours_retry_after_within_bounds() {
        let policy = RetryPolicy::default();
        let now = at(0);
        assert_eq!(
            policy.wait_before(1, Some("2"), Duration::ZERO, now),
            Ok(Duration::from_secs(2))
        );
        assert_eq!(
            policy.wait_before(1, Some("3600"), Duration::ZERO, now),
            Err(GiveUp::WaitTooLong {
                asked: Duration::from_secs(3600),
                limit: Duration::from_secs(10)
            })
        );
        assert_eq!(
            policy.wait_before(2, Some("10"), Duration::from_secs(15), now),
            Err(GiveUp::TotalWaitExceeded(Duration::from_secs(20)))
        );
        assert_eq!(
            policy.wait_before(4, Some("1"), Duration::ZERO, now),
            Err(GiveUp::TooManyRetries(3))
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = RetryPolicy::default();
        for retry in 1..=3 {
            let full = Duration::from_millis(500 * (1 << (retry - 1)));
            for _ in 0..50 {
                let wait = policy
                    .wait_before(retry, None, Duration::ZERO, at(0))
                    .expect("within bounds");
                assert!(wait >= full / 2 && wait <= full, "retry {retry}: {wait:?}");
            }
        }
        let capped = RetryPolicy {
            max_retries: 40,
            max_total_wait: Duration::from_secs(1000),
            ..RetryPolicy::default()
        };
        let wait = capped
            .wait_before(40, Some("not a number"), Duration::ZERO, at(0))
            .expect("within bounds");
        assert!(wait <= capped.max_wait);
    }

    #[test]
    fn only_429_and_idempotent_503_are_retried() {
        for method in Method::ALL {
            assert!(is_retryable(429, method));
            assert!(!is_retryable(500, method));
            assert!(!is_retryable(401, method));
        }
        assert!(is_retryable(503, Method::Get));
        assert!(is_retryable(503, Method::Put));
        assert!(is_retryable(503, Method::Delete));
        assert!(!is_retryable(503, Method::Post));
        assert!(!is_retryable(503, Method::Patch));
    }
}
