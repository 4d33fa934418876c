//! What makes an `execute` call repeatable: the seed of its random numbers, so running its code
//! again sees the same `Math.random`; and the system clock its `Date` reads by default.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// An `execute` call's random seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Determinism {
    /// The seed of `Math.random`.
    pub seed: u64,
}

impl Determinism {
    /// A seed no other call is likely to share.
    pub fn fresh() -> Determinism {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_i64(unix_ms());
        Determinism {
            seed: hasher.finish(),
        }
    }
}

/// The system clock now, in Unix milliseconds (0 before 1970).
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}
