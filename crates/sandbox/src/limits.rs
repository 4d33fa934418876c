//! The hard limits every call runs under, and the pool's size.

use std::time::Duration;

/// Hard limits for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time for the whole call: running code and waiting for the host.
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

impl Limits {
    /// The defaults for `search`: 10 s.
    pub fn search() -> Limits {
        Limits {
            timeout: Duration::from_secs(10),
            ..Limits::execute()
        }
    }

    /// The defaults for `execute`: 30 s, 64 MiB, 1 MiB of stack, 64 KiB of code,
    /// 24,000 result characters and 64,000 console characters.
    pub fn execute() -> Limits {
        Limits {
            timeout: Duration::from_secs(30),
            memory_bytes: 64 << 20,
            stack_bytes: 1 << 20,
            code_bytes: 64 << 10,
            result_chars: 24_000,
            log_chars: 64_000,
        }
    }
}

/// How many workers the pool runs, how many calls may wait for one, and the limits of each
/// tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Worker threads, each running one piece of JavaScript at a time; more calls queue.
    pub workers: usize,
    /// Calls that may wait for a worker; past it a call is refused as busy.
    pub queue: usize,
    /// Limits for `search` calls.
    pub search: Limits,
    /// Limits for `execute` calls.
    pub execute: Limits,
}

impl Default for PoolConfig {
    fn default() -> PoolConfig {
        PoolConfig {
            workers: std::thread::available_parallelism().map_or(1, |count| count.get()),
            queue: 512,
            search: Limits::search(),
            execute: Limits::execute(),
        }
    }
}
