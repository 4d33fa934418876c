//! Refused calls per user per hour: past the limit every call is refused until the hour is over.

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use codemode_ratelimit::{Limit, Limits, Reset, Tool};

use crate::{BeginNow, TestClock, afternoon, calls, limiter, refusal};

/// Code one character longer than the default limit allows.
fn too_long() -> String {
    "x".repeat(2_001)
}

#[test]
fn past_the_refusal_limit_every_call_is_refused_until_the_hour_is_over() {
    let limits = Limits {
        refusals_per_subject_per_hour: 3,
        ..Limits::default()
    };
    let clock = TestClock::at(afternoon());
    let limiter = limiter(limits, Arc::clone(&clock));
    for _ in 0..3 {
        let refused = limiter
            .begin_now("alice", Some("s1"), Tool::Search, &too_long())
            .err()
            .expect("too long");
        assert_eq!(refused.limit, Limit::CodeLength);
    }
    let refused = refusal(&limiter, "alice", "s1", Tool::Search);
    assert_eq!(refused.limit, Limit::RefusalsPerSubjectPerHour);
    let next_hour = Utc
        .with_ymd_and_hms(2024, 8, 1, 16, 0, 0)
        .single()
        .expect("valid time");
    assert_eq!(refused.resets, Reset::At(next_hour));
    assert_eq!(
        refused.to_string(),
        "limit reached: 3 refused calls per user per hour (3 refused). Every call is refused \
         until 2024-08-01T16:00:00Z; retry after then, once you have fixed what got the earlier \
         calls refused."
    );
    calls(&limiter, "bob", "b1", Tool::Search, 1);

    clock.advance(TimeDelta::minutes(30));
    calls(&limiter, "alice", "s1", Tool::Search, 1);
}

#[test]
fn calls_let_through_count_no_refusal() {
    let limits = Limits {
        refusals_per_subject_per_hour: 1,
        ..Limits::default()
    };
    let limiter = limiter(limits, TestClock::at(afternoon()));
    calls(&limiter, "alice", "s1", Tool::Search, 5);
    let refused = limiter
        .begin_now("alice", Some("s1"), Tool::Search, &too_long())
        .err()
        .expect("too long");
    assert_eq!(refused.limit, Limit::CodeLength);
    assert_eq!(
        refusal(&limiter, "alice", "s1", Tool::Search).limit,
        Limit::RefusalsPerSubjectPerHour
    );
}

#[test]
fn every_limit_counts_its_refusals() {
    let limits = Limits {
        execute_per_session: 1,
        refusals_per_subject_per_hour: 2,
        ..Limits::default()
    };
    let limiter = limiter(limits, TestClock::at(afternoon()));
    calls(&limiter, "alice", "s1", Tool::Execute, 1);
    for _ in 0..2 {
        assert_eq!(
            refusal(&limiter, "alice", "s1", Tool::Execute).limit,
            Limit::ExecutePerSession
        );
    }
    assert_eq!(
        refusal(&limiter, "alice", "s2", Tool::Execute).limit,
        Limit::RefusalsPerSubjectPerHour
    );
}
