//! Rate limits and quotas: whether a call may start, and forgetting an ended session's counts.

use codemode_ratelimit::{CallPermit, LimitExceeded, Limiter, Limits, Tool};

use crate::call::caller::Caller;

/// The limits calls run under; none when auth is off (the single local user is not limited).
pub struct Admission {
    limiter: Option<Limiter>,
}

impl Admission {
    /// Limits every call by `limits`, or none at all.
    pub fn new(limits: Option<Limits>) -> Admission {
        Admission {
            limiter: limits.map(Limiter::new),
        }
    }

    /// Admits a call of `tool`; the permit holds its concurrency slot until dropped.
    pub fn admit(
        &self,
        caller: &Caller,
        tool: Tool,
        code: &str,
    ) -> Result<Option<CallPermit>, LimitExceeded> {
        let Some(limiter) = &self.limiter else {
            return Ok(None);
        };
        let session = caller
            .session
            .as_deref()
            .map(|session| session_key(caller.subject(), session));
        limiter
            .begin(caller.subject(), session.as_deref(), tool, code)
            .map(Some)
    }

    /// Forgets what `subject` counted in a session that has ended.
    pub fn end_session(&self, subject: &str, session: &str) {
        if let Some(limiter) = &self.limiter {
            limiter.end_session(&session_key(subject, session));
        }
    }
}

/// The per-session limit key: the session as one subject uses it, so no caller can use up,
/// or reset, another's counts by naming its session.
fn session_key(subject: &str, session: &str) -> String {
    format!("{subject}\u{0}{session}")
}
