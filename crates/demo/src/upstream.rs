//! The demo as an [`Upstream`]: one in-memory state behind a lock, answering at once.

use std::sync::{Mutex, PoisonError};

use codemode_upstream::{PreparedRequest, RawResponse, Upstream, UpstreamError};
use futures::future::{self, BoxFuture};

use crate::state::State;

/// The in-memory API. Each instance starts from the same seed data.
pub struct DemoUpstream {
    state: Mutex<State>,
}

impl DemoUpstream {
    /// A demo API holding one account, two zones with DNS records, and one KV namespace.
    pub fn new() -> DemoUpstream {
        DemoUpstream {
            state: Mutex::new(State::seeded()),
        }
    }
}

impl Default for DemoUpstream {
    fn default() -> Self {
        DemoUpstream::new()
    }
}

impl Upstream for DemoUpstream {
    fn send(
        &self,
        request: PreparedRequest,
    ) -> BoxFuture<'static, Result<RawResponse, UpstreamError>> {
        let response = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .handle(&request);
        Box::pin(future::ready(Ok(response)))
    }
}
