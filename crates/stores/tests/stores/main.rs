//! Integration tests of codemode-stores against a real Redis and a real Postgres, started by
//! `tests/stores/with-servers.sh` (which `tests/run.sh` wraps around `cargo test`): counts
//! shared by two limiters, approvals decided through another store handle, paused-call records
//! taken once, and concurrent appends from two writers forming one verifiable chain. Each test
//! uses its own key prefix or database, so they run in parallel.

mod approvals;
mod audit;
mod limits;
mod paused;

use std::sync::atomic::{AtomicU32, Ordering};

/// The URL the harness exported as `name`.
fn server_url(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run these tests through tests/stores/with-servers.sh, which starts \
             Redis and Postgres on loopback"
        )
    })
}

/// A name no other test in this run uses.
fn unique(what: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{what}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
