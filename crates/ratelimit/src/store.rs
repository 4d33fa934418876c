//! Where counts live: the [`LimitStore`] trait and the in-process [`MemoryStore`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};

use crate::limits::Tool;

/// What a count is kept for, as one string so any store can use it as a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LimitKey(String);

impl LimitKey {
    /// Calls of `tool` in `session`.
    pub fn session_calls(session: &str, tool: Tool) -> LimitKey {
        LimitKey(format!("session:{}:{session}", tool.as_str()))
    }

    /// Calls of `tool` by `subject` in a period.
    pub fn subject_calls(subject: &str, tool: Tool) -> LimitKey {
        LimitKey(format!("subject:{}:{subject}", tool.as_str()))
    }

    /// Calls by `subject` refused in a period.
    pub fn refusals(subject: &str) -> LimitKey {
        LimitKey(format!("refusals:{subject}"))
    }

    /// Calls by `subject` running now.
    pub fn concurrent_calls(subject: &str) -> LimitKey {
        LimitKey(format!("concurrent:{subject}"))
    }

    /// The key as a string; the free-form id (session or subject) always comes last.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How long a count lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Until released or removed.
    Open,
    /// From `start` until `end`; a count made in another period starts again from zero.
    Period {
        /// The period's start.
        start: DateTime<Utc>,
        /// The period's end, when its count resets.
        end: DateTime<Utc>,
    },
}

/// One use counted: the count including it, in the window it was counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acquired {
    /// The count including this use.
    pub count: u64,
    /// The window it was counted in.
    pub window: Window,
}

/// A use refused: the key already counts `count` uses, the limit or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    /// The uses counted.
    pub count: u64,
}

/// The store could not be asked: the call is refused rather than let through uncounted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the rate-limit store is unavailable ({0}); calls are refused until it answers again, so \
     retry shortly"
)]
pub struct StoreUnavailable(pub String);

/// What [`LimitStore::try_acquire`] answers: the use counted, refused as over the limit, or
/// the store unreachable.
pub type AcquireResult = Result<Result<Acquired, Full>, StoreUnavailable>;

/// The future of one [`LimitStore::try_acquire`].
pub type AcquireFuture<'a> = Pin<Box<dyn Future<Output = AcquireResult> + Send + 'a>>;

/// Keeps counts of uses per key, in this process or shared by replicas.
pub trait LimitStore: Send + Sync {
    /// Counts one use of `key` in `window`, unless it already counts `limit` or more; atomic,
    /// so replicas sharing the store never let more than `limit` uses through between them.
    fn try_acquire<'a>(
        &'a self,
        key: &'a LimitKey,
        limit: u64,
        window: Window,
    ) -> AcquireFuture<'a>;

    /// Uncounts the use `acquired`, unless the key's window has moved on since; a remote store
    /// does it in the background, so dropping a permit never waits.
    fn release(&self, key: &LimitKey, acquired: &Acquired);

    /// Forgets every use of `key`, in the background for a remote store.
    fn remove(&self, key: &LimitKey);
}

/// One key's count and the window it is for.
#[derive(Debug, Clone, Copy)]
struct Count {
    window: Window,
    uses: u64,
}

/// Counts in this process's memory; a key's count disappears when it drops to zero.
#[derive(Debug, Default)]
pub struct MemoryStore {
    counts: Mutex<HashMap<LimitKey, Count>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// The counts, usable even if another thread panicked while holding them.
    fn counts(&self) -> MutexGuard<'_, HashMap<LimitKey, Count>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl MemoryStore {
    /// Counts one use of `key` in `window`, unless it already counts `limit` or more.
    fn acquire_now(&self, key: &LimitKey, limit: u64, window: Window) -> Result<Acquired, Full> {
        let mut counts = self.counts();
        let uses = counts
            .get(key)
            .filter(|count| count.window == window)
            .map_or(0, |count| count.uses);
        if uses >= limit {
            return Err(Full { count: uses });
        }
        counts.insert(
            key.clone(),
            Count {
                window,
                uses: uses + 1,
            },
        );
        Ok(Acquired {
            count: uses + 1,
            window,
        })
    }
}

impl LimitStore for MemoryStore {
    fn try_acquire<'a>(
        &'a self,
        key: &'a LimitKey,
        limit: u64,
        window: Window,
    ) -> AcquireFuture<'a> {
        let acquired = self.acquire_now(key, limit, window);
        Box::pin(std::future::ready(Ok(acquired)))
    }

    fn release(&self, key: &LimitKey, acquired: &Acquired) {
        let mut counts = self.counts();
        let Some(count) = counts.get_mut(key) else {
            return;
        };
        if count.window != acquired.window {
            return;
        }
        count.uses = count.uses.saturating_sub(1);
        if count.uses == 0 {
            counts.remove(key);
        }
    }

    fn remove(&self, key: &LimitKey) {
        self.counts().remove(key);
    }
}
