//! Where a call writes each request down before sending it: the seam an audit log plugs into.

use futures::future::BoxFuture;

use crate::gateway::CheckedRequest;

/// Records requests durably before they are sent, e.g. in an audit log.
pub trait Journal: Send + Sync {
    /// Writes `request` down; resolves once it is durable to the journal's id for it, or to
    /// why it could not be written, which refuses the request unsent.
    fn before_send(&self, request: &CheckedRequest) -> BoxFuture<'static, Result<u64, String>>;
}
