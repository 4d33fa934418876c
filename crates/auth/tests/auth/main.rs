//! Integration tests of codemode-auth, one module per theme: `config` (the `[auth]` section and
//! its checks), `keys` (API keys and none mode), `oauth` (JWT access tokens against a JWKS
//! served on loopback). Shared helpers live here. New tests go in the module of their theme, or
//! a new module declared here.

mod config;
mod keys;
mod oauth;

use codemode_auth::AuthConfig;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use serde::Deserialize;

/// The `[auth]` section of a config file.
fn auth_config(toml_text: &str) -> AuthConfig {
    #[derive(Deserialize)]
    struct File {
        auth: AuthConfig,
    }
    toml::from_str::<File>(toml_text).expect("config").auth
}

/// Headers holding `Authorization: Bearer <token>`.
fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
    );
    headers
}
