//! Who is calling codemode, and what they may do.
//!
//! Three modes, chosen by `auth.mode`:
//! - `none`: no authentication. Every caller is the single local user ([`Principal::local`]):
//!   all four scopes (`search`, `execute:read`, `execute:write`, `approve`) and may forward its
//!   own upstream credential. Allowed only on a loopback listener ([`AuthConfig::validate`]).
//! - `keys`: static API keys sent as `Authorization: Bearer <key>`, configured as SHA-256
//!   hashes ([`hash_key`]) with a subject, scopes and a `forward` flag.
//! - `oauth`: codemode is an OAuth 2.1 resource server. JWT access tokens are checked against the
//!   issuer's JWKS (signature, `iss`, `exp`, `nbf`, and `aud` containing `resource`); scopes come
//!   from `scope` or `scp`, and a token may forward a credential only if it carries
//!   `forward_scope`. Clients discover the issuer through the protected resource metadata.
//!
//! ```toml
//! [auth]
//! mode = "oauth"
//! issuer = "https://auth.example.com"
//! jwks_url = "https://auth.example.com/.well-known/jwks.json"
//! resource = "https://codemode.example.com/mcp"
//! forward_scope = "upstream:forward"
//! ```
//!
//! Authenticating a request in keys mode:
//!
//! ```
//! use codemode_auth::{AuthConfig, Authenticator, Scope, hash_key};
//! use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let config: AuthConfig = toml::from_str(&format!(
//!     "mode = \"keys\"\n[[keys]]\nsubject = \"alice\"\nsha256 = \"{}\"\nscopes = [\"search\"]",
//!     hash_key("cm_live_alice_key"),
//! ))?;
//! let auth = Authenticator::new(&config)?;
//! let mut headers = HeaderMap::new();
//! headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer cm_live_alice_key"));
//! let alice = auth.authenticate(&headers).await?;
//! assert_eq!(alice.subject, "alice");
//! assert!(auth.require(&alice, Scope::Search).is_ok());
//! assert!(auth.require(&alice, Scope::ExecuteWrite).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod authenticator;
mod bearer;
mod config;
mod error;
mod jwks;
mod keys;
mod oauth;
mod principal;
mod scope;

pub use authenticator::Authenticator;
pub use config::{AuthConfig, AuthMode, ConfigError, KeyEntry, KeysConfig, OAuthConfig};
pub use error::{AuthError, AuthErrorKind};
pub use jsonwebtoken::Algorithm;
pub use keys::hash_key;
pub use principal::Principal;
pub use scope::{Scope, Scopes, Tool, UnknownScope};
