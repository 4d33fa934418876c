//! Integration tests of the audit crate, one module per theme: `log` (appends, tampering,
//! retention, concurrency, export), `records` (what a record holds, old records included),
//! `approvals` (asking, deciding, consuming), `durability` (SIGKILL mid-append), `writer`
//! (group commit, a held lock, intents), `signing` (the audit key's MACs on the chain's ends).
//! Shared fixtures live in `common`. New tests go in the module of their theme, or a new module declared here.

mod approvals;
mod common;
mod durability;
mod log;
mod records;
mod signing;
mod writer;
