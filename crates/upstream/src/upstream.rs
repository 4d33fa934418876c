//! What an API backend is: something that sends one checked request and returns the raw response.

use std::time::Duration;

use bytes::Bytes;
use codemode_spec::Method;
use futures::future::BoxFuture;

use crate::budget::ResponseBudget;
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
    /// How many bytes the response body may hold, alone and with the call's others.
    pub budget: ResponseBudget,
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
    /// The response body was larger than one response may be.
    #[error(
        "the response is too large: it passed {} MiB, the most one response may hold \
         ([upstream] max_response_mib); ask for less per request (filters, per_page)",
        mib(*limit)
    )]
    ResponseTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The call's responses together were larger than one call may hold at once.
    #[error(
        "the response is too large: with the call's other responses it passed {} MiB, the most \
         one call's responses may hold at once ([upstream] max_call_responses_mib); make fewer \
         requests at once or ask for less per request",
        mib(*limit)
    )]
    CallResponsesTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The URL would have left the API base.
    #[error("refused: the request URL would leave the API base")]
    OutsideBase,
}

/// Bytes as MiB, for a message.
fn mib(bytes: usize) -> String {
    let mib = bytes as f64 / f64::from(1 << 20);
    if mib.fract() == 0.0 {
        format!("{mib}")
    } else {
        format!("{mib:.2}")
    }
}

/// An API backend: the network, or anything that answers like the API (e.g. an in-memory demo).
pub trait Upstream: Send + Sync {
    /// Sends one request, once; retries are the caller's business.
    fn send(
        &self,
        request: PreparedRequest,
    ) -> BoxFuture<'static, Result<RawResponse, UpstreamError>>;
}
