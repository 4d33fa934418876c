//! The `[auth]` config section and its checks.

use std::fmt;

use jsonwebtoken::Algorithm;
use serde::Deserialize;

use crate::keys::KeyStore;
use crate::oauth::ResourceServer;
use crate::scope::Scopes;

/// How callers authenticate: the `[auth]` section, selected by `mode`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase", deny_unknown_fields)]
pub enum AuthConfig {
    /// No authentication: every caller is the single local user; loopback listeners only.
    /// (A struct variant so that stray settings next to `mode = "none"` are rejected.)
    None {},
    /// Static API keys, presented as `Authorization: Bearer <key>`.
    Keys(KeysConfig),
    /// OAuth 2.1 resource server: JWT access tokens from a trusted issuer.
    OAuth(OAuthConfig),
}

/// The three ways of authenticating callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// `mode = "none"`.
    None,
    /// `mode = "keys"`.
    Keys,
    /// `mode = "oauth"`.
    OAuth,
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthMode::None => "none",
            AuthMode::Keys => "keys",
            AuthMode::OAuth => "oauth",
        })
    }
}

/// Settings of keys mode.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// The accepted keys (`[[auth.keys]]`).
    pub keys: Vec<KeyEntry>,
}

/// One accepted API key, stored as a hash.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Who presents this key.
    pub subject: String,
    /// Lowercase or uppercase hex SHA-256 of the key (`codemode keys hash`).
    pub sha256: String,
    /// What the key may do.
    pub scopes: Scopes,
    /// Whether the key's holder may send its own upstream credential.
    #[serde(default)]
    pub forward: bool,
}

impl fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyEntry")
            .field("subject", &self.subject)
            .field("sha256", &"[redacted]")
            .field("scopes", &self.scopes)
            .field("forward", &self.forward)
            .finish()
    }
}

/// Settings of oauth mode (MCP authorization: codemode is an OAuth 2.1 resource server).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// The `iss` access tokens must carry.
    pub issuer: String,
    /// Where the issuer publishes its signing keys; https unless on loopback.
    pub jwks_url: String,
    /// This server's resource URL (e.g. `https://codemode.example.com/mcp`); `aud` must contain it.
    pub resource: String,
    /// Authorization servers advertised in the resource metadata; default `[issuer]`.
    pub authorization_servers: Option<Vec<String>>,
    /// Scopes advertised in the metadata and in 401 challenges; default the four codemode scopes.
    pub scopes_supported: Option<Vec<String>>,
    /// Token scope that lets its holder forward an upstream credential; unset means nobody may.
    pub forward_scope: Option<String>,
    /// Accepted signature algorithms; default RS256 and ES256. Symmetric (HS*) ones are refused.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<Algorithm>,
}

fn default_algorithms() -> Vec<Algorithm> {
    vec![Algorithm::RS256, Algorithm::ES256]
}

impl Default for AuthConfig {
    /// `none`: what a config without an `[auth]` section means.
    fn default() -> Self {
        AuthConfig::None {}
    }
}

impl AuthConfig {
    /// Which mode this config selects.
    pub fn mode(&self) -> AuthMode {
        match self {
            AuthConfig::None {} => AuthMode::None,
            AuthConfig::Keys(_) => AuthMode::Keys,
            AuthConfig::OAuth(_) => AuthMode::OAuth,
        }
    }

    /// Checks the section, and that `none` is only used when listening on loopback.
    pub fn validate(&self, listen_is_loopback: bool) -> Result<(), ConfigError> {
        match self {
            AuthConfig::None {} if listen_is_loopback => Ok(()),
            AuthConfig::None {} => Err(ConfigError::NoneOffLoopback),
            AuthConfig::Keys(keys) => KeyStore::new(keys).map(drop),
            AuthConfig::OAuth(oauth) => ResourceServer::new(oauth).map(drop),
        }
    }
}

/// Why an `[auth]` section cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `none` mode on an address other hosts can reach.
    #[error(
        "auth.mode = \"none\" makes every caller the single local user with all scopes, so it is \
         only allowed when listening on a loopback address (127.0.0.1, ::1, localhost); listen on \
         loopback, or set auth.mode = \"keys\" or \"oauth\""
    )]
    NoneOffLoopback,
    /// Keys mode without keys.
    #[error("auth.mode = \"keys\" needs at least one [[auth.keys]] entry")]
    NoKeys,
    /// A key entry that cannot be used.
    #[error("auth.keys[{index}]: {problem}")]
    BadKey {
        /// Position of the entry in `auth.keys`.
        index: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// A required setting that is empty.
    #[error("auth.{0} must not be empty")]
    Empty(&'static str),
    /// A URL setting that cannot be used.
    #[error("auth.{field}: {problem}")]
    BadUrl {
        /// The setting's name.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// An algorithm that must not verify access tokens.
    #[error(
        "auth.algorithms: {0} is not allowed; use asymmetric algorithms (RS*, PS*, ES*, EdDSA)"
    )]
    SymmetricAlgorithm(String),
    /// The HTTP client for the JWKS could not be built.
    #[error("cannot build the JWKS HTTP client: {0}")]
    HttpClient(String),
}
