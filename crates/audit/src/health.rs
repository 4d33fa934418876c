//! Whether an audit store is known to be unavailable, the one rule both writers follow (the
//! SQLite [`AuditWriter`](crate::AuditWriter) and the Postgres writer in `codemode-stores`): a
//! batch that fails because the store is locked, refuses writes or cannot be reached marks the
//! store; while it is marked every entry is refused at once as [`StoreUnavailable::Down`],
//! without an attempt, and the writer probes the store every [`PROBE_EVERY`] when no entry
//! arrives; the first batch or probe that succeeds clears the mark.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::writer::StoreUnavailable;

/// How often a writer probes a store known to be unavailable, when no entry arrives.
pub const PROBE_EVERY: Duration = Duration::from_millis(100);

/// Why the store is known to be unavailable, if it is; cheap to clone, every clone sees the
/// same mark.
#[derive(Debug, Clone, Default)]
pub struct StoreHealth(Arc<Mutex<Option<StoreUnavailable>>>);

impl StoreHealth {
    /// Whether the last batch or probe failed: the writer should probe rather than wait idly.
    pub fn is_down(&self) -> bool {
        self.cause().is_some()
    }

    /// The refusal an entry gets at once while the store is marked: [`StoreUnavailable::Down`]
    /// naming the failure that marked it.
    pub fn unavailable(&self) -> Option<StoreUnavailable> {
        self.cause().map(|cause| StoreUnavailable::Down {
            cause: Box::new(cause),
        })
    }

    /// Records how a batch or probe went: success clears the mark, a failure sets it.
    pub fn record(&self, outcome: Result<(), StoreUnavailable>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = outcome.err();
    }

    fn cause(&self) -> Option<StoreUnavailable> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
