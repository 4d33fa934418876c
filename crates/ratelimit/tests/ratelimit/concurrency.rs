//! Calls running at once per user, freed when their permits drop.

use codemode_ratelimit::{CallPermit, Limit, Limits, Reset, Tool};

use crate::{BeginNow, TestClock, afternoon, calls, limiter, refusal};

#[test]
fn concurrent_calls_per_user_are_freed_when_permits_drop() {
    let limiter = limiter(Limits::default(), TestClock::at(afternoon()));
    let mut running: Vec<CallPermit> = (0..4)
        .map(|i| {
            limiter
                .begin_now(
                    "alice",
                    Some(&format!("s{i}")),
                    Tool::Search,
                    "async () => 1",
                )
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
        .begin_now("bob", Some("b1"), Tool::Search, "async () => 1")
        .expect("bob has his own slots");
    drop(other_user);

    running.pop();
    running.push(
        limiter
            .begin_now("alice", Some("s9"), Tool::Search, "async () => 1")
            .expect("freed slot"),
    );
    assert_eq!(
        refusal(&limiter, "alice", "s9", Tool::Search).limit,
        Limit::ConcurrentPerSubject
    );
    drop(running);
    calls(&limiter, "alice", "s9", Tool::Execute, 4);
}
