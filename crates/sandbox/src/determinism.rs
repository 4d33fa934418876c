//! What makes an `execute` call repeatable: the instant its clock stands at and the seed of
//! its random numbers, so running its code again sees the same `Date` and `Math.random`.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// An `execute` call's clock and random seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Determinism {
    /// What `Date.now()` reads, in Unix milliseconds; the clock does not move during the call.
    pub clock_ms: i64,
    /// The seed of `Math.random`.
    pub seed: u64,
}

impl Determinism {
    /// The clock at now and a seed no other call is likely to share.
    pub fn fresh() -> Determinism {
        let clock_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
            });
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_i64(clock_ms);
        Determinism {
            clock_ms,
            seed: hasher.finish(),
        }
    }
}
