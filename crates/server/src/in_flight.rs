//! Tracks MCP POST responses: each counts as in flight until its body ends, and its handler
//! learns when the client goes away.
//!
//! A tool call's response is the body of the POST that carried it (JSON or an SSE stream), so
//! shutdown waits for these bodies, and a body dropped before it ends means the client left.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::Frame;
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

/// The number of MCP POST responses not yet finished.
#[derive(Clone)]
pub struct InFlight(Arc<watch::Sender<usize>>);

/// Fires when the client that sent a request stops listening for its response.
#[derive(Clone)]
pub struct ClientGone(pub CancellationToken);

struct Counted(InFlight);

impl Default for InFlight {
    fn default() -> Self {
        Self::new()
    }
}

impl InFlight {
    /// Nothing in flight.
    pub fn new() -> Self {
        Self(Arc::new(watch::Sender::new(0)))
    }

    /// Resolves once no response is in flight.
    pub async fn idle(&self) {
        let mut count = self.0.subscribe();
        let _ = count.wait_for(|n| *n == 0).await;
    }

    fn enter(&self) -> Counted {
        self.0.send_modify(|n| *n += 1);
        Counted(self.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.0.send_modify(|n| *n -= 1);
    }
}

/// Axum middleware: counts POST responses and hands their handlers a [`ClientGone`] signal.
pub async fn track(
    State(in_flight): State<InFlight>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let gone = CancellationToken::new();
    request.extensions_mut().insert(ClientGone(gone.clone()));
    let counted = in_flight.enter();
    let response = next.run(request).await;
    response.map(|inner| {
        Body::new(TrackedBody {
            inner,
            _counted: counted,
            _gone: gone.drop_guard(),
        })
    })
}

/// A response body that stays counted, and keeps its client "present", until dropped.
struct TrackedBody {
    inner: Body,
    _counted: Counted,
    _gone: DropGuard,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
