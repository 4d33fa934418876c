//! The sandbox's only way out: `cloudflare.request(options)` from agent code becomes a checked,
//! credentialed request to the API, and its response an envelope.
//!
//! [`Gateway`] ties it together: [`RequestOptions`] parsing and the [`GuardedPath`] checks,
//! matching against the spec's operations ([`RouteTable`], from `codemode-spec`), per-call budgets and the ledger of
//! every request sent or refused ([`Call`], [`RequestRecord`]), retries ([`RetryPolicy`]) and
//! [`envelope`] normalisation with every credential [`scrub`]bed from it, over an
//! [`Upstream`]: [`HttpUpstream`], or any backend that answers like the API (such as
//! `codemode-demo`). [`resolve_account`] picks the account agent
//! code sees as `accountId`. [`GatewayConfig`] is the `[upstream]` config section.
//!
//! ```
//! use std::sync::Arc;
//!
//! use bytes::Bytes;
//! use codemode_upstream::{
//!     Gateway, GatewayConfig, PreparedRequest, RawResponse, Upstream, UpstreamError,
//! };
//! use futures::future::{self, BoxFuture};
//! use serde_json::json;
//!
//! /// An API that answers every request with the path it was sent.
//! struct Echo;
//!
//! impl Upstream for Echo {
//!     fn send(&self, request: PreparedRequest) -> BoxFuture<'static, Result<RawResponse, UpstreamError>> {
//!         let result = json!({"success": true, "errors": [], "messages": [], "result": request.path.as_str()});
//!         Box::pin(future::ready(Ok(RawResponse {
//!             status: 200,
//!             content_type: Some("application/json".into()),
//!             retry_after: None,
//!             headers: Vec::new(),
//!             body: Bytes::from(result.to_string()),
//!         })))
//!     }
//! }
//!
//! let config = GatewayConfig { enforce_spec: false, ..GatewayConfig::default() };
//! let gateway: Gateway = Gateway::new(Arc::new(Echo), &[], config)?;
//! let call = gateway.call(None);
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! let envelope = runtime.block_on(call.request(&json!({"method": "GET", "path": "/zones"})))?;
//! assert_eq!(envelope["result"], "/zones");
//! // The path guard refuses a path that would leave the API base; nothing is sent.
//! assert!(call.check(&json!({"method": "GET", "path": "/zones/../../admin"})).is_err());
//! let ledger = call.records();
//! assert_eq!((ledger.len(), ledger[0].status, ledger[0].attempts), (1, Some(200), 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod account;
pub mod budget;
pub mod credential;
pub mod envelope;
pub mod gateway;
pub mod http;
pub mod journal;
pub mod options;
pub mod path_guard;
pub mod retry;
pub mod scrub;
pub mod upstream;

pub use account::{AccountError, resolve_account};
pub use budget::{ResponseBudget, Share};
pub use codemode_spec::RouteTable;
pub use credential::{Credential, CredentialError, CredentialId, sha256_hex};
pub use envelope::{EMPTY_NOTE, EnvelopeShape, MalformedBody, envelope, generic_envelope};
pub use gateway::{
    ATTEMPTS_FIELD, AuthFailure, Call, CheckedRequest, DEFAULT_API, Gateway, GatewayConfig,
    GatewayConfigError, Received, RequestChecks, RequestError, RequestRecord, joined,
};
pub use http::{
    DEFAULT_AUTH_HEADER, DEFAULT_AUTH_SCHEME, HttpSettings, HttpSetupError, HttpUpstream,
};
pub use journal::Journal;
pub use options::{OptionsError, RequestOptions};
pub use path_guard::{ApiBase, BaseUrlError, GuardedPath, PathError};
pub use retry::{GiveUp, RetryPolicy};
pub use upstream::{PreparedRequest, RawResponse, RequestBody, Upstream, UpstreamError};
