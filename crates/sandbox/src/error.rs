//! Why a call did not produce a result, worded so an agent can act on it.

use std::time::Duration;

use thiserror::Error;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SandboxError {
    /// The code is longer than the limit; nothing ran.
    #[error("code is {bytes} bytes, over the {limit}-byte limit: send less code")]
    CodeTooLarge {
        /// Size of the code sent.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The code does not parse; line and column are 1-based, in the code as sent.
    #[error("SyntaxError at line {line}, column {column}: {message}")]
    Syntax {
        /// The parser's message.
        message: String,
        /// 1-based line in the code as sent.
        line: u32,
        /// 1-based column (in characters) in the code as sent.
        column: u32,
    },
    /// The call ran or waited longer than its time limit.
    #[error(
        "timed out after {limit:?}: the code ran or waited longer than the limit \
         (an endless loop, or a request that never finished)"
    )]
    Timeout {
        /// The time limit.
        limit: Duration,
    },
    /// The code allocated more memory than it may.
    #[error(
        "out of memory: the code needed more than the {} MiB it may allocate; \
         filter early and avoid copying large structures",
        limit_bytes >> 20
    )]
    OutOfMemory {
        /// The memory limit.
        limit_bytes: usize,
    },
    /// Recursion went deeper than the stack allows.
    #[error("stack overflow: recursion went too deep; use a loop or an explicit stack")]
    StackOverflow,
    /// The code threw, or its promise rejected; the message includes the stack if any.
    #[error("{message}")]
    Thrown {
        /// "Uncaught " and the error's name, message and stack, or the thrown value.
        message: String,
    },
    /// The promise the code returned can never settle: no work is queued and no request is
    /// in flight.
    #[error(
        "the returned promise never settled: nothing was left to run and no request was in \
         flight (a promise that is never resolved, or a missing return?)"
    )]
    NeverSettled,
    /// The pool already holds as many calls waiting to start as it may; nothing ran.
    #[error("the sandbox is busy: {queued} calls are already waiting to run; try again shortly")]
    Busy {
        /// How many calls the queue holds.
        queued: usize,
    },
    /// The pool already has as many `execute` calls in progress (most waiting on the API or on
    /// a person) as it may; nothing ran.
    #[error(
        "the sandbox is busy: {executes} executes are already in progress, waiting on the API \
         or on people; try again shortly"
    )]
    TooManyExecutes {
        /// How many executes may be in progress.
        executes: usize,
    },
    /// The call was cancelled before it finished.
    #[error("cancelled before the code finished")]
    Cancelled,
    /// The sandbox cannot run code (a worker failed to start or stopped).
    #[error("sandbox unavailable: {0}")]
    Unavailable(String),
}
