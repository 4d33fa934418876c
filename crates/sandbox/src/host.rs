//! The boundary between sandboxed code and the outside world.

use std::time::Duration;

use futures::future::BoxFuture;
use thiserror::Error;

use crate::determinism::{self, Determinism};
use crate::outcome::LogLine;

/// What `execute` code can reach outside the sandbox; implemented by the server.
pub trait Host: Send + Sync + 'static {
    /// Carries out the API's `request(options)`: resolves to the API envelope, or rejects
    /// the JavaScript promise.
    fn request(
        &self,
        options: serde_json::Value,
    ) -> BoxFuture<'static, Result<Delivery, Rejection>>;

    /// Carries out `request(options)` of the API reached as the global `api`, when the pool
    /// serves several; the first API's by default, as [`Host::request`].
    fn request_to(
        &self,
        api: &str,
        options: serde_json::Value,
    ) -> BoxFuture<'static, Result<Delivery, Rejection>> {
        let _ = api;
        self.request(options)
    }

    /// The account id `accountId` reads, or why reading it throws.
    fn account_id(&self) -> BoxFuture<'static, Result<String, Rejection>>;

    /// Receives each console line as it is written; must not block.
    fn log(&self, line: &LogLine);

    /// Time spent so far waiting for a person (an approval, say); it extends the call's
    /// timeout, which bounds the code, not the people.
    fn waiting_for_people(&self) -> Duration {
        Duration::ZERO
    }

    /// The random seed the call's `Math.random` draws from; a host that may run the same code
    /// again records it and hands back the same one.
    fn determinism(&self) -> Determinism {
        Determinism::fresh()
    }

    /// The clock in Unix milliseconds, read each time the code reads `Date` (the code never
    /// sees it go backwards); a host that may run the same code again records the readings.
    fn clock_ms(&self) -> i64 {
        determinism::unix_ms()
    }
}

/// An envelope on its way to the code, and what keeps its memory counted until the code has
/// it (it is dropped as the envelope becomes JavaScript values).
pub struct Delivery {
    /// The API envelope the promise resolves to.
    pub envelope: serde_json::Value,
    /// Held until the envelope is delivered, then dropped.
    pub held: Option<Box<dyn Send>>,
}

impl From<serde_json::Value> for Delivery {
    fn from(envelope: serde_json::Value) -> Delivery {
        Delivery {
            envelope,
            held: None,
        }
    }
}

/// Why the host refused or could not carry out what the code asked; the code sees it as a
/// JavaScript `Error` with this message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct Rejection {
    /// The message of the `Error` the code sees.
    pub message: String,
}

impl Rejection {
    /// A rejection the code sees as `Error(message)`.
    pub fn new(message: impl Into<String>) -> Rejection {
        Rejection {
            message: message.into(),
        }
    }
}
