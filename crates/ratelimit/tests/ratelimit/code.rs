//! The code length limit, counted in characters.

use codemode_ratelimit::{Limit, Limits, Tool, check_code_length};

use crate::{BeginNow, TestClock, afternoon, calls, limiter};

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
        .begin_now("alice", Some("s1"), Tool::Execute, &long)
        .err()
        .expect("long code refused");
    assert_eq!(refused.limit, Limit::CodeLength);
    calls(&limiter, "alice", "s1", Tool::Execute, 1);
}
