//! The demo API behind [`DEMO_SPEC_YAML`], served from memory: accounts, zones and cache purges,
//! DNS records, and Workers KV, with Cloudflare envelopes, error codes and pagination. The clock
//! is frozen so responses are reproducible; nothing touches the network. [`DemoUpstream`] is an
//! [`Upstream`](codemode_upstream::Upstream), so a gateway serves it like the real API.
//!
//! ```
//! use std::sync::Arc;
//!
//! use codemode_demo::DemoUpstream;
//! use codemode_upstream::{Gateway, GatewayConfig};
//! use serde_json::json;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let config = GatewayConfig { enforce_spec: false, ..GatewayConfig::default() };
//! let gateway: Gateway = Gateway::new(Arc::new(DemoUpstream::new()), &[], config)?;
//! let zones = gateway
//!     .call(None)
//!     .request(&json!({"method": "GET", "path": "/zones", "query": {"name": "example.com"}}))
//!     .await
//!     .expect("the demo answers");
//! assert_eq!(zones["result"][0]["name"], "example.com");
//! # Ok::<(), codemode_upstream::GatewayConfigError>(())
//! # }).unwrap();
//! ```

mod accounts;
mod dns;
mod fields;
mod kv;
mod query;
mod reply;
mod state;
mod upstream;
mod zones;

pub use upstream::DemoUpstream;

/// The OpenAPI document the demo implements.
pub const DEMO_SPEC_YAML: &str = include_str!("../demo.yaml");

/// The id of the demo's only account.
pub const DEMO_ACCOUNT_ID: &str = "023e105f4ecef8ad9ca31a8372d0c353";

/// The name of the demo's only account.
pub const DEMO_ACCOUNT_NAME: &str = "Demo Account";

/// Every timestamp the demo reports.
const DEMO_TIME: &str = "2024-01-01T00:00:00Z";
