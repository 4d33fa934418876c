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
