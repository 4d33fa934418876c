//! What the pool needs from a JavaScript engine, so another engine can replace QuickJS.

use std::sync::Arc;
use std::time::Instant;

use crate::cancel::CancelToken;
use crate::error::SandboxError;
use crate::host::Host;
use crate::limits::Limits;
use crate::outcome::Outcome;

/// One call as an engine receives it.
pub(crate) struct Call<'a> {
    /// The agent's code, as sent.
    pub code: &'a str,
    /// The limits it runs under.
    pub limits: &'a Limits,
    /// When the pool accepted the call; its time limit counts from here.
    pub accepted: Instant,
    /// Stops the call when cancelled.
    pub cancel: &'a CancelToken,
}

/// A JavaScript engine owned by one worker thread, running one piece of JavaScript at a time.
pub(crate) trait Engine {
    /// An `execute` call that has started and may be waiting on its host.
    type Execution: Execution;

    /// Runs `search` code in a fresh realm whose only extra global is the frozen `spec`.
    fn search(&mut self, call: &Call<'_>) -> Result<Outcome, SandboxError>;

    /// Starts `execute` code in a fresh runtime whose globals reach out only through `host`;
    /// `wake` is called whenever the call has something new to run.
    fn execute(
        &mut self,
        call: &Call<'_>,
        host: Arc<dyn Host>,
        wake: Wake,
    ) -> Result<Self::Execution, SandboxError>;

    /// Tidies up after a `search` once its reply is sent: reclaims garbage, and rebuilds
    /// whatever the call may have left in a bad state.
    fn recover(&mut self) -> Result<(), SandboxError>;
}

/// An `execute` call in progress, parked on its worker while it waits on its host.
pub(crate) trait Execution {
    /// Runs whatever became runnable; the outcome once the call is over, None while it
    /// waits (it is resumed when woken or at its deadline).
    fn resume(&mut self) -> Option<Result<Outcome, SandboxError>>;

    /// The latest instant the call must be resumed by, even if nothing wakes it.
    fn deadline(&self) -> Instant;
}

/// Tells a worker that one of its parked calls has something new to run; cheap to clone.
#[derive(Clone)]
pub(crate) struct Wake(Arc<dyn Fn() + Send + Sync>);

impl Wake {
    /// A wake-up that runs `notify`.
    pub(crate) fn new(notify: impl Fn() + Send + Sync + 'static) -> Wake {
        Wake(Arc::new(notify))
    }

    /// Wakes the worker.
    pub(crate) fn wake(&self) {
        (self.0)();
    }
}
