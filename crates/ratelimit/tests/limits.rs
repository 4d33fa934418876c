//! Each limit reached, its message, its reset, and the separation of sessions and users.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use codemode_ratelimit::{
    CallPermit, Clock, Limit, LimitExceeded, Limiter, Limits, MemoryStore, Reset, Tool,
    check_code_length,
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

fn afternoon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 8, 1, 15, 30, 0)
        .single()
        .expect("valid time")
}

fn limiter(limits: Limits, clock: Arc<TestClock>) -> Limiter {
    Limiter::with_store(limits, Arc::new(MemoryStore::new()), clock)
}

/// Makes `n` calls, dropping each permit as it returns.
fn calls(limiter: &Limiter, subject: &str, session: &str, tool: Tool, n: usize) {
    for i in 0..n {
        limiter
            .begin(subject, session, tool, "async () => 1")
            .unwrap_or_else(|e| panic!("call {i} refused: {e}"));
    }
}

fn refusal(limiter: &Limiter, subject: &str, session: &str, tool: Tool) -> LimitExceeded {
    match limiter.begin(subject, session, tool, "async () => 1") {
        Ok(_) => panic!("call let through"),
        Err(e) => e,
    }
}

#[test]
fn the_defaults_are_the_documented_ones() {
    let limits = Limits::default();
    assert_eq!(limits.search_per_session, 20);
    assert_eq!(limits.execute_per_session, 10);
    assert_eq!(limits.execute_per_subject_per_day, 50);
    assert_eq!(limits.concurrent_per_subject, 4);
    assert_eq!(limits.max_code_chars, 2_000);
    let configured: Limits = toml::from_str("execute_per_session = 3").expect("partial config");
    assert_eq!(configured.execute_per_session, 3);
    assert_eq!(configured.search_per_session, 20);
    assert!(toml::from_str::<Limits>("execute_per_sesion = 3").is_err());
}

#[test]
fn execute_calls_per_session() {
    let limiter = limiter(Limits::default(), TestClock::at(afternoon()));
    calls(&limiter, "alice", "s1", Tool::Execute, 10);
    let refused = refusal(&limiter, "alice", "s1", Tool::Execute);
    assert_eq!(refused.limit, Limit::ExecutePerSession);
    assert_eq!((refused.max, refused.count), (10, 10));
    assert_eq!(refused.resets, Reset::InANewSession);
    assert_eq!(refused.name(), "10 execute calls per session");
    assert_eq!(
        refused.to_string(),
        "limit reached: 10 execute calls per session (10 used). It does not reset within this \
         session; work with the results you have, or ask the user to start a new session."
    );
    calls(&limiter, "alice", "s1", Tool::Search, 1);
    calls(&limiter, "alice", "s2", Tool::Execute, 1);
}

#[test]
fn search_calls_per_session() {
    let limiter = limiter(Limits::default(), TestClock::at(afternoon()));
    calls(&limiter, "alice", "s1", Tool::Search, 20);
    let refused = refusal(&limiter, "alice", "s1", Tool::Search);
    assert_eq!(refused.limit, Limit::SearchPerSession);
    assert_eq!(refused.name(), "20 search calls per session");
    calls(&limiter, "alice", "s1", Tool::Execute, 1);
}

#[test]
fn ending_a_session_forgets_its_counts() {
    let limits = Limits {
        execute_per_session: 1,
        ..Limits::default()
    };
    let limiter = limiter(limits, TestClock::at(afternoon()));
    calls(&limiter, "alice", "s1", Tool::Execute, 1);
    assert_eq!(
        refusal(&limiter, "alice", "s1", Tool::Execute).limit,
        Limit::ExecutePerSession
    );
    limiter.end_session("s1");
    calls(&limiter, "alice", "s1", Tool::Execute, 1);
}

#[test]
fn execute_calls_per_user_per_day_reset_at_utc_midnight() {
    let clock = TestClock::at(afternoon());
    let limiter = limiter(Limits::default(), Arc::clone(&clock));
    for session in 0..5 {
        calls(&limiter, "alice", &format!("s{session}"), Tool::Execute, 10);
    }
    let refused = refusal(&limiter, "alice", "s5", Tool::Execute);
    assert_eq!(refused.limit, Limit::ExecutePerSubjectPerDay);
    assert_eq!((refused.max, refused.count), (50, 50));
    let midnight = Utc
        .with_ymd_and_hms(2024, 8, 2, 0, 0, 0)
        .single()
        .expect("valid time");
    assert_eq!(refused.resets, Reset::At(midnight));
    assert_eq!(
        refused.to_string(),
        "limit reached: 50 execute calls per user per UTC day (50 used). \
         It resets at 2024-08-02T00:00:00Z."
    );
    calls(&limiter, "bob", "b1", Tool::Execute, 1);
    calls(&limiter, "alice", "s5", Tool::Search, 1);

    clock.advance(TimeDelta::hours(8) + TimeDelta::minutes(29));
    assert_eq!(
        refusal(&limiter, "alice", "s5", Tool::Execute).limit,
        Limit::ExecutePerSubjectPerDay
    );
    clock.advance(TimeDelta::minutes(1));
    calls(&limiter, "alice", "s5", Tool::Execute, 1);
}

#[test]
fn a_call_refused_by_the_daily_quota_does_not_use_up_the_session() {
    let limits = Limits {
        execute_per_session: 2,
        execute_per_subject_per_day: 1,
        ..Limits::default()
    };
    let clock = TestClock::at(afternoon());
    let limiter = limiter(limits, Arc::clone(&clock));
    calls(&limiter, "alice", "s1", Tool::Execute, 1);
    for _ in 0..3 {
        assert_eq!(
            refusal(&limiter, "alice", "s1", Tool::Execute).limit,
            Limit::ExecutePerSubjectPerDay
        );
    }
    clock.advance(TimeDelta::days(1));
    calls(&limiter, "alice", "s1", Tool::Execute, 1);
    assert_eq!(
        refusal(&limiter, "alice", "s1", Tool::Execute).limit,
        Limit::ExecutePerSession
    );
}

#[test]
fn concurrent_calls_per_user_are_freed_when_permits_drop() {
    let limiter = limiter(Limits::default(), TestClock::at(afternoon()));
    let mut running: Vec<CallPermit> = (0..4)
        .map(|i| {
            limiter
                .begin("alice", &format!("s{i}"), Tool::Search, "async () => 1")
                .expect("slot")
        })
        .collect();
    let refused = refusal(&limiter, "alice", "s9", Tool::Search);
    assert_eq!(refused.limit, Limit::ConcurrentPerSubject);
    assert_eq!((refused.max, refused.count), (4, 4));
    assert_eq!(refused.resets, Reset::WhenACallFinishes);
    assert_eq!(
        refused.to_string(),
        "limit reached: 4 concurrent calls per user (4 running). \
         A slot frees when a running call finishes; retry after one returns."
    );
    let other_user = limiter
        .begin("bob", "b1", Tool::Search, "async () => 1")
        .expect("bob has his own slots");
    drop(other_user);

    running.pop();
    running.push(
        limiter
            .begin("alice", "s9", Tool::Search, "async () => 1")
            .expect("freed slot"),
    );
    assert_eq!(
        refusal(&limiter, "alice", "s9", Tool::Search).limit,
        Limit::ConcurrentPerSubject
    );
    drop(running);
    calls(&limiter, "alice", "s9", Tool::Execute, 4);
}

#[test]
fn a_call_refused_by_the_session_limit_frees_its_slot() {
    let limits = Limits {
        execute_per_session: 1,
        concurrent_per_subject: 1,
        ..Limits::default()
    };
    let limiter = limiter(limits, TestClock::at(afternoon()));
    calls(&limiter, "alice", "s1", Tool::Execute, 1);
    assert_eq!(
        refusal(&limiter, "alice", "s1", Tool::Execute).limit,
        Limit::ExecutePerSession
    );
    calls(&limiter, "alice", "s2", Tool::Execute, 1);
}

#[test]
fn code_length_is_counted_in_characters() {
    let fits = "é".repeat(2_000);
    assert_eq!(check_code_length(&fits, 2_000), Ok(()));
    let refused = check_code_length(&format!("{fits}x"), 2_000).expect_err("too long");
    assert_eq!(refused.limit, Limit::CodeLength);
    assert_eq!((refused.max, refused.count), (2_000, 2_001));
    assert_eq!(
        refused.to_string(),
        "limit reached: code of at most 2000 characters (this code has 2001). \
         Shorten the code: fetch, filter and return only what you need."
    );

    let limiter = limiter(
        Limits {
            execute_per_session: 1,
            ..Limits::default()
        },
        TestClock::at(afternoon()),
    );
    let long = "x".repeat(2_001);
    let refused = limiter
        .begin("alice", "s1", Tool::Execute, &long)
        .err()
        .expect("long code refused");
    assert_eq!(refused.limit, Limit::CodeLength);
    calls(&limiter, "alice", "s1", Tool::Execute, 1);
}
