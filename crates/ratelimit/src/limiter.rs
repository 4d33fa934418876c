//! Applies every limit to one call and hands back a permit holding its concurrency slot.

use std::sync::Arc;

use chrono::{DurationRound, NaiveTime, TimeDelta};

use crate::clock::{Clock, SystemClock};
use crate::exceeded::{Limit, LimitExceeded, Reset, check_code_length};
use crate::limits::{Limits, Tool};
use crate::store::{Acquired, LimitKey, LimitStore, MemoryStore, StoreUnavailable, Window};

/// Why a call was not let through: a limit, or a store that could not count it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// A limit refused the call.
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
    /// The store could not be asked.
    #[error(transparent)]
    Store(#[from] StoreUnavailable),
}

/// One counted use, uncounted on drop unless kept.
struct Hold {
    store: Arc<dyn LimitStore>,
    key: LimitKey,
    acquired: Acquired,
    release_on_drop: bool,
}

impl Hold {
    /// Keeps the use counted after this is dropped.
    fn keep(mut self) {
        self.release_on_drop = false;
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if self.release_on_drop {
            self.store.release(&self.key, &self.acquired);
        }
    }
}

/// A call let through; dropping it frees the user's concurrency slot.
pub struct CallPermit {
    _slot: Hold,
}

/// Applies [`Limits`] to calls, counting in a [`LimitStore`] by a [`Clock`].
pub struct Limiter {
    limits: Limits,
    store: Arc<dyn LimitStore>,
    clock: Arc<dyn Clock>,
}

impl Limiter {
    /// A limiter counting in this process's memory by the system clock.
    pub fn new(limits: Limits) -> Limiter {
        Limiter::with_store(limits, Arc::new(MemoryStore::new()), Arc::new(SystemClock))
    }

    /// A limiter counting in `store` by `clock`.
    pub fn with_store(
        limits: Limits,
        store: Arc<dyn LimitStore>,
        clock: Arc<dyn Clock>,
    ) -> Limiter {
        Limiter {
            limits,
            store,
            clock,
        }
    }

    /// The limits applied.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Lets a call of `tool` with `code` by `subject` in `session` through, or says which limit
    /// refuses it. A refused call counts against the user's refusals and no other limit; past
    /// that limit every call is refused at once until the hour is over. Without a `session`
    /// (none the server issued), the per-session limits do not apply and the per-user ones do.
    pub async fn begin(
        &self,
        subject: &str,
        session: Option<&str>,
        tool: Tool,
        code: &str,
    ) -> Result<CallPermit, Denied> {
        // Held as if the call were refused; given back when it is let through.
        let refusal = self
            .hold(
                LimitKey::refusals(subject),
                Limit::RefusalsPerSubjectPerHour,
                self.limits.refusals_per_subject_per_hour,
                self.this_hour(),
            )
            .await?;
        let admitted = self.admit(subject, session, tool, code).await;
        if matches!(admitted, Err(Denied::Limit(_))) {
            refusal.keep();
        }
        admitted
    }

    /// Applies every limit but the refusals to one call.
    async fn admit(
        &self,
        subject: &str,
        session: Option<&str>,
        tool: Tool,
        code: &str,
    ) -> Result<CallPermit, Denied> {
        check_code_length(code, self.limits.max_code_chars)?;
        let slot = self
            .hold(
                LimitKey::concurrent_calls(subject),
                Limit::ConcurrentPerSubject,
                self.limits.concurrent_per_subject,
                Window::Open,
            )
            .await?;
        let session_call = match session {
            Some(session) => Some(
                self.hold(
                    LimitKey::session_calls(session, tool),
                    match tool {
                        Tool::Search => Limit::SearchPerSession,
                        Tool::Execute => Limit::ExecutePerSession,
                    },
                    self.limits.per_session(tool),
                    Window::Open,
                )
                .await?,
            ),
            None => None,
        };
        if tool == Tool::Execute {
            self.hold(
                LimitKey::subject_calls(subject, tool),
                Limit::ExecutePerSubjectPerDay,
                self.limits.execute_per_subject_per_day,
                self.today(),
            )
            .await?
            .keep();
        }
        if let Some(session_call) = session_call {
            session_call.keep();
        }
        Ok(CallPermit { _slot: slot })
    }

    /// Forgets the counts of `session`, once it has ended.
    pub fn end_session(&self, session: &str) {
        for tool in [Tool::Search, Tool::Execute] {
            self.store.remove(&LimitKey::session_calls(session, tool));
        }
    }

    /// Counts one use of `key` against `max`, or describes the refusal.
    async fn hold(
        &self,
        key: LimitKey,
        limit: Limit,
        max: u64,
        window: Window,
    ) -> Result<Hold, Denied> {
        match self.store.try_acquire(&key, max, window).await? {
            Ok(acquired) => Ok(Hold {
                store: Arc::clone(&self.store),
                key,
                acquired,
                release_on_drop: true,
            }),
            Err(full) => Err(Denied::Limit(LimitExceeded {
                limit,
                max,
                count: full.count,
                resets: match window {
                    Window::Period { end, .. } => Reset::At(end),
                    Window::Open if limit == Limit::ConcurrentPerSubject => {
                        Reset::WhenACallFinishes
                    }
                    Window::Open => Reset::InANewSession,
                },
            })),
        }
    }

    /// The current UTC day, midnight to midnight.
    fn today(&self) -> Window {
        let start = self
            .clock
            .now()
            .date_naive()
            .and_time(NaiveTime::MIN)
            .and_utc();
        Window::Period {
            start,
            end: start + TimeDelta::days(1),
        }
    }

    /// The current hour, from its first second.
    fn this_hour(&self) -> Window {
        let now = self.clock.now();
        let start = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
        Window::Period {
            start,
            end: start + TimeDelta::hours(1),
        }
    }
}
