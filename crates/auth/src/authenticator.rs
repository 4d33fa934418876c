//! Deciding who is calling, in whichever mode the config selects.

use std::fmt;

use http::HeaderMap;

use crate::bearer::bearer_token;
use crate::config::{AuthConfig, AuthMode, ConfigError};
use crate::error::{AuthError, AuthErrorKind, Challenge};
use crate::keys::KeyStore;
use crate::oauth::OAuthVerifier;
use crate::principal::Principal;
use crate::scope::Scope;

/// Authenticates requests; build once and share across connections.
pub struct Authenticator {
    mode: Mode,
    challenge: Challenge,
}

enum Mode {
    None,
    Keys(KeyStore),
    OAuth(Box<OAuthVerifier>),
}

impl Authenticator {
    /// Builds the authenticator for `config`; the loopback rule is [`AuthConfig::validate`]'s job.
    pub fn new(config: &AuthConfig) -> Result<Authenticator, ConfigError> {
        let mode = match config {
            AuthConfig::None {} => Mode::None,
            AuthConfig::Keys(keys) => Mode::Keys(KeyStore::new(keys)?),
            AuthConfig::OAuth(oauth) => Mode::OAuth(Box::new(OAuthVerifier::new(oauth)?)),
        };
        let challenge = match &mode {
            Mode::OAuth(verifier) => verifier.challenge().clone(),
            Mode::None | Mode::Keys(_) => Challenge::default(),
        };
        Ok(Authenticator { mode, challenge })
    }

    /// Which mode is in force.
    pub fn mode(&self) -> AuthMode {
        match self.mode {
            Mode::None => AuthMode::None,
            Mode::Keys(_) => AuthMode::Keys,
            Mode::OAuth(_) => AuthMode::OAuth,
        }
    }

    /// Whether tokens can be checked now: in oauth mode, whether the issuer's keys can be had.
    pub async fn ready(&self) -> Result<(), String> {
        match &self.mode {
            Mode::None | Mode::Keys(_) => Ok(()),
            Mode::OAuth(verifier) => verifier.keys_reachable().await,
        }
    }

    /// Who sent a request with these headers; `none` mode ignores them and answers the local user.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        match &self.mode {
            Mode::None => Ok(Principal::local()),
            Mode::Keys(store) => store.authenticate(self.token(headers)?).ok_or_else(|| {
                self.refuse(AuthErrorKind::InvalidToken("unknown API key".to_owned()))
            }),
            Mode::OAuth(verifier) => verifier
                .verify(self.token(headers)?)
                .await
                .map_err(|kind| self.refuse(kind)),
        }
    }

    /// Refuses with 403 `insufficient_scope` unless `principal` holds `needed`.
    pub fn require(&self, principal: &Principal, needed: Scope) -> Result<(), AuthError> {
        if principal.scopes.contains(needed) {
            Ok(())
        } else {
            Err(self.refuse(AuthErrorKind::InsufficientScope(needed)))
        }
    }

    /// The protected resource metadata document (RFC 9728); oauth mode only.
    pub fn resource_metadata(&self) -> Option<&serde_json::Value> {
        match &self.mode {
            Mode::OAuth(verifier) => Some(verifier.metadata()),
            Mode::None | Mode::Keys(_) => None,
        }
    }

    /// The URL of the metadata document, as advertised in challenges; oauth mode only.
    pub fn resource_metadata_url(&self) -> Option<&str> {
        match &self.mode {
            Mode::OAuth(verifier) => Some(verifier.metadata_url()),
            Mode::None | Mode::Keys(_) => None,
        }
    }

    fn token<'h>(&self, headers: &'h HeaderMap) -> Result<&'h str, AuthError> {
        bearer_token(headers)
            .map_err(|kind| self.refuse(kind))?
            .ok_or_else(|| self.refuse(AuthErrorKind::MissingToken))
    }

    fn refuse(&self, kind: AuthErrorKind) -> AuthError {
        AuthError::new(kind, &self.challenge)
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("mode", &self.mode())
            .field("resource_metadata_url", &self.resource_metadata_url())
            .finish()
    }
}
