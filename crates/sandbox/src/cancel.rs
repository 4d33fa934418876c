//! Cancelling a call from outside: a shared flag plus wake-ups for whoever is waiting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

/// Cancels the calls it is passed to; clones share one flag. Cancelling stops running code
/// at its next interrupt check and wakes a call waiting on the host, so the worker is freed
/// promptly.
#[derive(Clone, Default)]
pub struct CancelToken(Arc<Shared>);

#[derive(Default)]
struct Shared {
    cancelled: AtomicBool,
    listeners: Mutex<Listeners>,
    parent: Mutex<Option<Listening>>,
}

#[derive(Default)]
struct Listeners {
    next_id: u64,
    waiting: Vec<(u64, Box<dyn FnOnce() + Send>)>,
}

/// Keeps a listener registered; dropping it unregisters the listener.
pub struct Listening {
    token: Weak<Shared>,
    id: u64,
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels every call using this token (or a clone of it).
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        let waiting = std::mem::take(&mut self.0.listeners().waiting);
        for (_, listener) in waiting {
            listener();
        }
    }

    /// Whether `cancel` has been called.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Runs `listener` once when the token is cancelled (at once if it already is), unless
    /// the returned guard is dropped first.
    pub fn on_cancel(&self, listener: impl FnOnce() + Send + 'static) -> Listening {
        let mut listeners = self.0.listeners();
        let id = listeners.next_id;
        listeners.next_id += 1;
        if self.is_cancelled() {
            drop(listeners);
            listener();
        } else {
            listeners.waiting.push((id, Box::new(listener)));
        }
        Listening {
            token: Arc::downgrade(&self.0),
            id,
        }
    }

    /// A new token that is cancelled when this one is, and can also be cancelled alone.
    pub(crate) fn child(&self) -> CancelToken {
        let child = CancelToken::new();
        let weak = Arc::downgrade(&child.0);
        let link = self.on_cancel(move || {
            if let Some(shared) = weak.upgrade() {
                CancelToken(shared).cancel();
            }
        });
        *child
            .0
            .parent
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(link);
        child
    }
}

impl Shared {
    fn listeners(&self) -> MutexGuard<'_, Listeners> {
        self.listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        if let Some(shared) = self.token.upgrade() {
            shared.listeners().waiting.retain(|(id, _)| *id != self.id);
        }
    }
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn listeners_run_once_on_cancel_unless_dropped() {
        let token = CancelToken::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let _kept = token.on_cancel(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        let counted = calls.clone();
        drop(token.on_cancel(move || {
            counted.fetch_add(10, Ordering::SeqCst);
        }));
        token.cancel();
        token.cancel();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(token.clone().is_cancelled());
    }

    #[test]
    fn a_listener_added_after_cancel_runs_at_once() {
        let token = CancelToken::new();
        token.cancel();
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let _listening = token.on_cancel(move || flag.store(true, Ordering::SeqCst));
        assert!(ran.load(Ordering::SeqCst));
    }

    #[test]
    fn a_child_follows_its_parent_but_not_the_other_way() {
        let parent = CancelToken::new();
        let child = parent.child();
        child.cancel();
        assert!(!parent.is_cancelled());
        let second = parent.child();
        parent.cancel();
        assert!(second.is_cancelled());
    }

    #[test]
    fn dropped_children_unregister_from_the_parent() {
        let parent = CancelToken::new();
        for _ in 0..100 {
            drop(parent.child());
        }
        assert!(parent.0.listeners().waiting.is_empty());
    }
}
