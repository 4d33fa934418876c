//! The API token: kept out of every `Debug`, `Display`, error and log line.

use std::fmt;

use sha2::{Digest, Sha256};

/// An API token. It prints as `Credential([redacted])`; only the HTTP upstream reads it.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential(String);

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
        let token = token.into();
        let trimmed = token.trim();
        if trimmed.is_empty() {
            return Err(CredentialError::Empty);
        }
        if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(CredentialError::InvalidCharacters);
        }
        Ok(Credential(trimmed.to_string()))
    }

    /// A stable, non-reversible identifier of this token, for caches keyed by credential.
    pub fn id(&self) -> CredentialId {
        CredentialId(sha256_hex(self.0.as_bytes()))
    }

    /// The token itself, for the `Authorization` header and for scrubbing echoes of it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
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
