//! What an API backend is: something that sends one checked request and returns the raw response.

use std::time::Duration;

use bytes::Bytes;
use codemode_spec::Method;
use futures::future::BoxFuture;

use crate::credential::Credential;
use crate::path_guard::GuardedPath;

/// A request body and its media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestBody {
    /// The `Content-Type` to send.
    pub content_type: String,
    /// The exact bytes to send.
    pub bytes: Bytes,
}

/// A request that passed every check, ready for an [`Upstream`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRequest {
    /// The method.
    pub method: Method,
    /// The path under the API base.
    pub path: GuardedPath,
    /// Query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<RequestBody>,
    /// The credential to attach, if any; only the upstream ever reads it.
    pub credential: Option<Credential>,
}

/// The response as it came back, before it is turned into an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// Every header with a text value, names in lower case (`set-cookie` left out), for
    /// envelopes that show them.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

/// Why a request got no response at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// No answer in time.
    #[error("the API did not answer within {0:?}")]
    Timeout(Duration),
    /// The connection could not be made or broke.
    #[error("could not reach the API: {0}")]
    Connection(String),
    /// The response body was larger than allowed.
    #[error("the API's response is larger than {0} bytes, the most one request may return")]
    ResponseTooLarge(usize),
    /// The URL would have left the API base.
    #[error("refused: the request URL would leave the API base")]
    OutsideBase,
}

/// An API backend: the network, or anything that answers like the API (e.g. an in-memory demo).
pub trait Upstream: Send + Sync {
    /// Sends one request, once; retries are the caller's business.
    fn send(
        &self,
        request: PreparedRequest,
    ) -> BoxFuture<'static, Result<RawResponse, UpstreamError>>;
}
