//! Runs agent JavaScript for the `search` and `execute` tools.
//!
//! A [`Pool`] of worker threads, each with its own JavaScript engine, runs the calls of a
//! bounded queue. `search` code sees only the frozen `spec`; `execute` code sees
//! `cloudflare.request`, `accountId` and `console`, all backed by a [`Host`], and waits on
//! its host without holding a worker. Every call starts from a fresh realm, is bounded by
//! [`Limits`] from the moment it is accepted, accepts TypeScript and bare function bodies,
//! and returns its value as JSON capped by structural truncation.

mod cancel;
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

pub use cancel::CancelToken;
pub use error::SandboxError;
pub use host::Host;
pub use limits::{Limits, PoolConfig};
pub use outcome::{LogLevel, LogLine, Outcome, Truncation};
pub use pool::Pool;
