//! The boundary between sandboxed code and the outside world.

use std::time::Duration;

use futures::future::BoxFuture;

use crate::outcome::LogLine;

/// What `execute` code can reach outside the sandbox; implemented by the server.
pub trait Host: Send + Sync + 'static {
    /// Carries out `cloudflare.request(options)`: resolves to the API envelope, or fails
    /// with a message that rejects the JavaScript promise as `Error(message)`.
    fn request(
        &self,
        options: serde_json::Value,
    ) -> BoxFuture<'static, Result<serde_json::Value, String>>;

    /// The account id `accountId` reads, or the reason reading it throws.
    fn account_id(&self) -> BoxFuture<'static, Result<String, String>>;

    /// Receives each console line as it is written; must not block.
    fn log(&self, line: &LogLine);

    /// Time spent so far waiting for a person (an approval, say); it extends the call's
    /// timeout, which bounds the code, not the people.
    fn waiting_for_people(&self) -> Duration {
        Duration::ZERO
    }
}
