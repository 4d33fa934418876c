//! Stops running JavaScript when its call is past its deadline or cancelled.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rquickjs::Runtime;

use crate::cancel::CancelToken;
use crate::error::SandboxError;
use crate::host::Host;

/// Why a call must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Past the deadline.
    Timeout,
    /// Cancelled by the caller.
    Cancelled,
}

/// The deadline and cancel token of one call.
pub(crate) struct Watch {
    limit: Duration,
    deadline: Cell<Instant>,
    cancel: CancelToken,
    host: Option<Arc<dyn Host>>,
}

impl Watch {
    /// The clock of a call accepted at `accepted` and allowed `limit` from then, plus any
    /// time its host spends waiting for people.
    pub(crate) fn start(
        limit: Duration,
        accepted: Instant,
        cancel: CancelToken,
        host: Option<Arc<dyn Host>>,
    ) -> Rc<Watch> {
        Rc::new(Watch {
            limit,
            deadline: Cell::new(accepted + limit),
            cancel,
            host,
        })
    }

    /// Why the call must stop now, if it must.
    pub(crate) fn stop(&self) -> Option<Stop> {
        if self.cancel.is_cancelled() {
            Some(Stop::Cancelled)
        } else if Instant::now() >= self.deadline() {
            Some(Stop::Timeout)
        } else {
            None
        }
    }

    /// The instant the call must end by.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline.get() + self.waiting_for_people()
    }

    /// Brings the deadline forward to `instant` if that is sooner.
    pub(crate) fn shorten(&self, instant: Instant) {
        let base = instant
            .checked_sub(self.waiting_for_people())
            .unwrap_or(instant);
        self.deadline.set(self.deadline.get().min(base));
    }

    fn waiting_for_people(&self) -> Duration {
        self.host
            .as_ref()
            .map_or(Duration::ZERO, |host| host.waiting_for_people())
    }

    /// The error to report for `stop`.
    pub(crate) fn error(&self, stop: Stop) -> SandboxError {
        match stop {
            Stop::Timeout => SandboxError::Timeout { limit: self.limit },
            Stop::Cancelled => SandboxError::Cancelled,
        }
    }
}

/// The watch of the call a runtime is running, read by the runtime's interrupt handler.
#[derive(Clone, Default)]
pub(crate) struct Watchdog(Rc<RefCell<Option<Rc<Watch>>>>);

impl Watchdog {
    /// Makes `runtime` interrupt its JavaScript whenever the watched call must stop.
    pub(crate) fn install(&self, runtime: &Runtime) {
        let current = self.0.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            current
                .try_borrow()
                .is_ok_and(|watch| watch.as_ref().is_some_and(|watch| watch.stop().is_some()))
        })));
    }

    /// Watches `watch` until the next `watch` or `clear`.
    pub(crate) fn watch(&self, watch: Rc<Watch>) {
        *self.0.borrow_mut() = Some(watch);
    }

    /// Stops watching: nothing is interrupted until the next `watch`.
    pub(crate) fn clear(&self) {
        *self.0.borrow_mut() = None;
    }
}
