//! Rate limits and quotas: whether a call may start, and forgetting an ended session's counts.

use std::sync::Arc;

use codemode_ratelimit::{CallPermit, Denied, LimitStore, Limiter, Limits, SystemClock, Tool};

use crate::call::caller::Caller;
use crate::call::error::CallError;

/// The limits calls run under; none when auth is off (the single local user is not limited).
pub struct Admission {
    limiter: Option<Limiter>,
}

impl Admission {
    /// Limits every call by `limits`, counting in `store`, or none at all.
    pub fn new(limits: Option<Limits>, store: Arc<dyn LimitStore>) -> Admission {
        Admission {
            limiter: limits.map(|limits| Limiter::with_store(limits, store, Arc::new(SystemClock))),
        }
    }

    /// Admits a call of `tool`; the permit holds its concurrency slot until dropped.
    pub async fn admit(
        &self,
        caller: &Caller,
        tool: Tool,
        code: &str,
    ) -> Result<Option<CallPermit>, CallError> {
        let Some(limiter) = &self.limiter else {
            return Ok(None);
        };
        let session = caller
            .session
            .as_deref()
            .map(|session| session_key(caller.subject(), session));
        match limiter
            .begin(caller.subject(), session.as_deref(), tool, code)
            .await
        {
            Ok(permit) => Ok(Some(permit)),
            Err(Denied::Limit(exceeded)) => Err(CallError::RateLimited(exceeded)),
            Err(Denied::Store(unavailable)) => Err(CallError::LimitStore(unavailable)),
        }
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
