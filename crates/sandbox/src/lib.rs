//! Runs agent JavaScript for the `search` and `execute` tools.
//!
//! A [`Pool`] of worker threads, each with its own JavaScript engine, runs the calls of a
//! bounded queue. `search` code sees only the frozen `spec`; `execute` code sees the API's
//! `request` (`cloudflare.request` by default), `accountId` and `console`, all backed by a
//! [`Host`], and waits on its host without holding a worker. Every call starts from a fresh
//! realm, is bounded by [`Limits`] from the moment it is accepted, accepts TypeScript and bare
//! function bodies, and returns its value as JSON capped by structural truncation. The
//! settings come from a [`SandboxConfig`].
//!
//! ```
//! use codemode_sandbox::{CancelToken, Pool, SandboxConfig};
//! use codemode_spec::Spec;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = tokio::runtime::Runtime::new()?;
//! let spec = Spec::from_bytes(br#"{"openapi": "3.0.3", "paths": {"/zones": {"get": {}}}}"#)?;
//! let config = SandboxConfig { workers: 1, ..SandboxConfig::default() }.pool_config()?;
//! let pool = Pool::new(spec.view().clone(), config, runtime.handle().clone())?;
//! let outcome = runtime.block_on(pool.search(
//!     "async () => Object.keys(spec.paths)",
//!     CancelToken::new(),
//! ))?;
//! assert_eq!(outcome.result.as_str(), r#"["/zones"]"#);
//! # Ok(())
//! # }
//! ```

mod cancel;
mod config;
mod determinism;
mod engine;
mod error;
mod host;
mod limits;
mod outcome;
mod pool;
mod queue;
mod quickjs;
mod source;
mod typescript;
mod worker;

pub use cancel::{CancelToken, Listening};
pub use config::{ConfigError, DEFAULT_API_GLOBAL, SandboxConfig};
pub use determinism::{Determinism, unix_ms};
pub use error::SandboxError;
pub use host::{Delivery, Host, Rejection};
pub use limits::{Limits, PoolConfig};
pub use outcome::{JsonText, LogLevel, LogLine, Outcome, Truncation};
pub use pool::{Pool, PoolLoad};

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
    source::compile(code, SandboxConfig::default().code_kib << 10, compile)
        .map(|(script, _)| script)
}
