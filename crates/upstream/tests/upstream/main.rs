//! Integration tests of the gateway against a real HTTP server on loopback (`fake_api`), one
//! module per theme: `guards` (options and paths refused), `routing` (the spec check),
//! `http_gateway` (the HTTP upstream, retries, errors), `limits` (budgets), `ledger` (what a
//! call records), `accounts` (account discovery), `config` (the `[upstream]` section). Shared
//! helpers live here. New tests go in the module of their theme, or a new module declared here.

mod accounts;
mod config;
mod fake_api;
mod guards;
mod http_gateway;
mod ledger;
mod limits;
mod routing;
mod secrets;
mod spellings;

use std::sync::Arc;
use std::time::Duration;

use codemode_spec::Operation;
use codemode_upstream::{
    Call, Credential, Gateway, GatewayConfig, HttpSettings, HttpUpstream, RetryPolicy,
};

/// The token the tests send; no error message may ever contain it.
pub const TOKEN: &str = "test-token-9f8e7d6c5b4a";

/// A gateway and the credential every call through it carries.
pub struct Api {
    gateway: Gateway,
    credential: Option<Credential>,
}

impl Api {
    /// A gateway over `upstream` whose calls carry `token`.
    pub fn new(
        upstream: HttpUpstream,
        token: Option<&str>,
        operations: &[Operation],
        config: GatewayConfig,
    ) -> Api {
        Api {
            gateway: Gateway::new(Arc::new(upstream), operations, config).expect("valid config"),
            credential: token.map(|t| Credential::new(t).expect("valid token")),
        }
    }

    /// A fresh call with the credential.
    pub fn call(&self) -> Call {
        self.gateway.call(self.credential.clone())
    }
}

/// A gateway to `base` over HTTP, with `token` as the credential.
pub fn http_gateway(
    base: &str,
    token: Option<&str>,
    operations: &[Operation],
    config: GatewayConfig,
) -> Api {
    let upstream = HttpUpstream::new(base, HttpSettings::default()).expect("valid base");
    Api::new(upstream, token, operations, config)
}

/// The default config without the spec check and with millisecond backoff.
pub fn open_config() -> GatewayConfig {
    GatewayConfig {
        enforce_spec: false,
        retry: fast_retry(),
        ..GatewayConfig::default()
    }
}

/// The default retry bounds with a 1 ms first backoff.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(1),
        ..RetryPolicy::default()
    }
}

/// Fails when `message` holds the test token.
pub fn assert_no_token(message: &str) {
    assert!(!message.contains(TOKEN), "the token leaked into: {message}");
}
