//! The daily `execute` quota per user: reset at UTC midnight, and a refusal uses up nothing else.

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use codemode_ratelimit::{Limit, Limits, Reset, Tool};

use crate::{TestClock, afternoon, calls, limiter, refusal};

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
