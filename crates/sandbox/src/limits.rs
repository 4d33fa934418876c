//! The hard limits every call runs under, and the pool's shape.

use std::time::Duration;

/// Hard limits for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time for the whole call, from when the pool accepts it: waiting for a
    /// worker, running code and waiting for the host (but not for people).
    pub timeout: Duration,
    /// Memory the call may allocate beyond what the engine holds before it starts.
    pub memory_bytes: usize,
    /// Native stack the JavaScript may use, which bounds recursion depth.
    pub stack_bytes: usize,
    /// Largest accepted source, in bytes.
    pub code_bytes: usize,
    /// Largest returned JSON, in characters; bigger results are cut structurally.
    pub result_chars: usize,
    /// Console output kept per call, in characters; later lines are dropped with a notice.
    pub log_chars: usize,
}

/// How many workers the pool runs, how many calls may wait for one, how many executes may
/// be in progress, the limits of each tool
/// and the name `execute` code reaches the API by. Its defaults are
/// [`SandboxConfig`](crate::SandboxConfig)'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Worker threads, each running one piece of JavaScript at a time; more calls queue.
    pub workers: usize,
    /// Calls that may wait for a worker; past it a call is refused as busy.
    pub queue: usize,
    /// `execute` calls that may be in progress at once (waiting for a worker, running, or
    /// parked on their host); past it an `execute` is refused as busy.
    pub executes: usize,
    /// Limits for `search` calls.
    pub search: Limits,
    /// Limits for `execute` calls.
    pub execute: Limits,
    /// The global holding the API's `request`, e.g. `cloudflare` for `cloudflare.request`.
    pub api_global: String,
}
