//! Integration tests of codemode-ratelimit: each limit reached, its message, its reset, and the
//! separation of sessions and users. One module per limit (`sessions`, `daily`, `concurrency`,
//! `code`, `refusals`) plus `defaults`; the hand-moved clock and call helpers live here. New tests go in the
//! module of their limit, or a new module declared here.

mod code;
mod concurrency;
mod daily;
mod defaults;
mod refusals;
mod sessions;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use codemode_ratelimit::{
    CallPermit, Clock, Denied, LimitExceeded, Limiter, Limits, MemoryStore, Tool,
};

/// A clock the test moves by hand.
struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn at(time: DateTime<Utc>) -> Arc<TestClock> {
        Arc::new(TestClock(Mutex::new(time)))
    }

    fn advance(&self, by: TimeDelta) {
        let mut now = self.0.lock().expect("clock lock");
        *now += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

/// A time well inside one UTC day.
fn afternoon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 8, 1, 15, 30, 0)
        .single()
        .expect("valid time")
}

/// [`Limiter::begin`] waited for on this thread, as the memory store never really waits.
trait BeginNow {
    /// Begins a call; every refusal is a limit's, since the memory store is always there.
    fn begin_now(
        &self,
        subject: &str,
        session: Option<&str>,
        tool: Tool,
        code: &str,
    ) -> Result<CallPermit, LimitExceeded>;
}

impl BeginNow for Limiter {
    fn begin_now(
        &self,
        subject: &str,
        session: Option<&str>,
        tool: Tool,
        code: &str,
    ) -> Result<CallPermit, LimitExceeded> {
        futures::executor::block_on(self.begin(subject, session, tool, code)).map_err(|denied| {
            match denied {
                Denied::Limit(exceeded) => exceeded,
                Denied::Store(unavailable) => panic!("the memory store failed: {unavailable}"),
            }
        })
    }
}

/// A limiter with its own memory store and `clock`.
fn limiter(limits: Limits, clock: Arc<TestClock>) -> Limiter {
    Limiter::with_store(limits, Arc::new(MemoryStore::new()), clock)
}

/// Makes `n` calls, dropping each permit as it returns.
fn calls(limiter: &Limiter, subject: &str, session: &str, tool: Tool, n: usize) {
    for i in 0..n {
        limiter
            .begin_now(subject, Some(session), tool, "async () => 1")
            .unwrap_or_else(|e| panic!("call {i} refused: {e}"));
    }
}

/// The refusal of one more call, which must be refused.
fn refusal(limiter: &Limiter, subject: &str, session: &str, tool: Tool) -> LimitExceeded {
    match limiter.begin_now(subject, Some(session), tool, "async () => 1") {
        Ok(_) => panic!("call let through"),
        Err(e) => e,
    }
}
