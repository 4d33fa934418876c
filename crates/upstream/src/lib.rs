//! The sandbox's only way out: `cloudflare.request(options)` from agent code becomes a checked,
//! credentialed request to the API (or to the in-memory demo), and its response an envelope.
//!
//! [`Gateway`] ties it together: [`RequestOptions`] parsing and the [`GuardedPath`] checks,
//! matching against the spec's operations ([`RouteTable`]), per-call budgets ([`Call`]), retries
//! ([`RetryPolicy`]) and [`envelope`] normalisation, every credential [`scrub`]bed from it, over
//! an [`Upstream`]: [`HttpUpstream`] or [`DemoUpstream`]. [`AccountResolver`] picks the account
//! agent code sees as `accountId`.

pub mod account;
pub mod credential;
pub mod demo;
pub mod envelope;
pub mod gateway;
pub mod http;
pub mod options;
pub mod path_guard;
pub mod retry;
pub mod routes;
pub mod scrub;
pub mod upstream;

pub use account::{AccountError, AccountResolver};
pub use credential::{Credential, CredentialError, CredentialId, sha256_hex};
pub use demo::{DEMO_ACCOUNT_ID, DEMO_ACCOUNT_NAME, DEMO_SPEC_YAML, DemoUpstream};
pub use envelope::envelope;
pub use gateway::{Call, CheckedRequest, Gateway, GatewayConfig, RequestError, RequestRecord};
pub use http::{HttpSettings, HttpSetupError, HttpUpstream};
pub use options::{OptionsError, RequestOptions};
pub use path_guard::{ApiBase, BaseUrlError, GuardedPath, PathError};
pub use retry::{GiveUp, RetryPolicy};
pub use routes::RouteTable;
pub use upstream::{PreparedRequest, RawResponse, RequestBody, Upstream, UpstreamError};
