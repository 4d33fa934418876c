//! Calls per session: counted per tool, forgotten when the session ends, and a refusal frees its slot.

use codemode_ratelimit::{Limit, Limits, Reset, Tool};

use crate::{BeginNow, TestClock, afternoon, calls, limiter, refusal};

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
fn a_call_without_a_session_meets_only_the_per_user_limits() {
    let limits = Limits {
        search_per_session: 1,
        execute_per_session: 1,
        execute_per_subject_per_day: 2,
        ..Limits::default()
    };
    let limiter = limiter(limits, TestClock::at(afternoon()));
    for _ in 0..3 {
        limiter
            .begin_now("alice", None, Tool::Search, "async () => 1")
            .expect("no per-session limit without a session");
    }
    for _ in 0..2 {
        limiter
            .begin_now("alice", None, Tool::Execute, "async () => 1")
            .expect("within the daily quota");
    }
    let refused = limiter
        .begin_now("alice", None, Tool::Execute, "async () => 1")
        .err()
        .expect("the daily quota applies");
    assert_eq!(refused.limit, Limit::ExecutePerSubjectPerDay);
}
