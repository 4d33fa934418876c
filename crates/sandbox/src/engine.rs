//! What the pool needs from a JavaScript engine, so another engine can replace QuickJS.

use std::sync::Arc;

use crate::cancel::CancelToken;
use crate::error::SandboxError;
use crate::host::Host;
use crate::limits::Limits;
use crate::outcome::Outcome;

/// One call as an engine receives it.
pub(crate) struct Call<'a> {
    /// The agent's code, as sent.
    pub code: &'a str,
    /// The limits it runs under; its time starts when the engine starts it.
    pub limits: &'a Limits,
    /// Stops the call when cancelled.
    pub cancel: &'a CancelToken,
}

/// A JavaScript engine owned by one worker thread, running one call at a time.
pub(crate) trait Engine {
    /// Runs `search` code in a fresh realm whose only extra global is the frozen `spec`.
    fn search(&mut self, call: &Call<'_>) -> Result<Outcome, SandboxError>;

    /// Runs `execute` code in a fresh runtime whose globals reach out only through `host`.
    fn execute(&mut self, call: &Call<'_>, host: Arc<dyn Host>) -> Result<Outcome, SandboxError>;

    /// Tidies up after a call once its reply is sent: reclaims garbage, and rebuilds
    /// whatever the call may have left in a bad state.
    fn recover(&mut self) -> Result<(), SandboxError>;
}
