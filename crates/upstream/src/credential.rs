//! The API token: kept out of every `Debug`, `Display`, error and log line, wiped on drop.

use std::fmt;

use codemode_secret::Secret;
use sha2::{Digest, Sha256};

/// An API token. It prints as `Credential([redacted])`; only the HTTP upstream reads it.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential(Secret);

/// Why a token cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The token is empty or only whitespace.
    #[error("the API token is empty")]
    Empty,
    /// The token holds characters an HTTP header cannot carry.
    #[error("the API token contains whitespace or control characters; check how it was set")]
    InvalidCharacters,
}

impl Credential {
    /// Wraps a token, trimming surrounding whitespace (a trailing newline from a file is common).
    pub fn new(token: impl Into<String>) -> Result<Credential, CredentialError> {
        Credential::from_secret(Secret::new(token.into()))
    }

    /// Checks and trims a secret, e.g. one read from the credential store. The secret moves in
    /// as it is; a trimmed copy is made only when there is whitespace to trim, and the untrimmed
    /// value is wiped either way.
    pub fn from_secret(secret: Secret) -> Result<Credential, CredentialError> {
        let trimmed = secret.expose().trim();
        if trimmed.is_empty() {
            return Err(CredentialError::Empty);
        }
        if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(CredentialError::InvalidCharacters);
        }
        if trimmed.len() == secret.expose().len() {
            return Ok(Credential(secret));
        }
        Ok(Credential(Secret::new(trimmed.to_string())))
    }

    /// A stable, non-reversible identifier of this token, for caches keyed by credential.
    pub fn id(&self) -> CredentialId {
        CredentialId(sha256_hex(self.0.expose().as_bytes()))
    }

    /// The token itself, for the `Authorization` header and for scrubbing echoes of it.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential([redacted])")
    }
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// SHA-256 of `bytes`, as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The SHA-256 of a token, in hex: safe to store and compare, useless to call the API with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialId(String);

impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "s3cr3t-T0ken_value";

    #[test]
    fn debug_and_display_never_show_the_token() {
        let credential = Credential::new(TOKEN).expect("valid token");
        assert_eq!(format!("{credential:?}"), "Credential([redacted])");
        assert_eq!(credential.to_string(), "[redacted]");
        assert!(!format!("{:?}", Some(&credential)).contains(TOKEN));
    }

    #[test]
    fn id_is_the_sha256_not_the_token() {
        let id = Credential::new(TOKEN).expect("valid token").id();
        assert_eq!(id.to_string().len(), 64);
        assert!(!id.to_string().contains(TOKEN));
        assert_eq!(
            id,
            Credential::new(format!("  {TOKEN}\n")).expect("valid").id()
        );
        assert_ne!(id, Credential::new("other").expect("valid").id());
    }

    #[test]
    fn a_secret_becomes_a_credential_after_the_same_checks() {
        let stored = Credential::from_secret(Secret::new(format!("{TOKEN}\n"))).expect("valid");
        assert_eq!(stored, Credential::new(TOKEN).expect("valid"));
        assert_eq!(stored.expose(), TOKEN);
        assert_eq!(
            Credential::from_secret(Secret::new("a b".into())),
            Err(CredentialError::InvalidCharacters)
        );
    }

    #[test]
    fn rejects_empty_and_header_breaking_tokens() {
        assert_eq!(Credential::new(" \n"), Err(CredentialError::Empty));
        assert_eq!(
            Credential::new("abc\r\nX-Evil: 1"),
            Err(CredentialError::InvalidCharacters)
        );
        assert_eq!(
            Credential::new("abc def"),
            Err(CredentialError::InvalidCharacters)
        );
    }
}
