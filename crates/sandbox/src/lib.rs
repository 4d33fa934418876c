//! Runs agent JavaScript for the `search` and `execute` tools.
//!
//! A [`Pool`] of worker threads, each with its own JavaScript engine, runs one call at a
//! time per worker. `search` code sees only the frozen `spec`; `execute` code sees
//! `cloudflare.request`, `accountId` and `console`, all backed by a [`Host`]. Every call
//! starts from a fresh realm, is bounded by [`Limits`], accepts TypeScript and bare function
//! bodies, and returns its value as JSON capped by structural truncation.

mod cancel;
mod engine;
mod error;
mod host;
mod limits;
mod outcome;
mod pool;
mod quickjs;
mod source;
mod typescript;

pub use cancel::CancelToken;
pub use error::SandboxError;
pub use host::Host;
pub use limits::{Limits, PoolConfig};
pub use outcome::{LogLevel, LogLine, Outcome, Truncation};
pub use pool::Pool;

/// The script a [`Pool`] compiles for agent `code`, in the first form `parses` accepts.
pub fn normalise(code: &str, mut parses: impl FnMut(&str) -> bool) -> Result<String, SandboxError> {
    let compile = |script: &str| {
        if parses(script) {
            return Ok(script.to_owned());
        }
        let (line, byte_column) = source::locate(script, script.len());
        let message = "unexpected end of input".to_owned();
        Err(source::CompileError::Syntax(source::ScriptError {
            message,
            line,
            byte_column,
        }))
    };
    source::compile(code, Limits::execute().code_bytes, compile).map(|(script, _)| script)
}
