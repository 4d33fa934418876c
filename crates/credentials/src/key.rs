//! The server key credentials are sealed with: 32 bytes, written as 64 hex characters.

use std::fmt;

use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit};
use zeroize::Zeroizing;

use crate::error::CredentialsError;

/// The 32-byte server key; wiped from memory on drop, never shown by `Debug`.
pub struct ServerKey(Zeroizing<[u8; 32]>);

impl ServerKey {
    /// A fresh random key from the system random source.
    pub fn generate() -> Result<ServerKey, CredentialsError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut_slice()).map_err(CredentialsError::Random)?;
        Ok(ServerKey(bytes))
    }

    /// Reads a key written as 64 hex characters (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<ServerKey, CredentialsError> {
        let text = text.trim();
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text, bytes.as_mut_slice())
            .map_err(|_| CredentialsError::KeyFormat(text.chars().count()))?;
        Ok(ServerKey(bytes))
    }

    /// The key as 64 lower-case hex characters, the form [`ServerKey::parse`] reads.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_slice()))
    }

    /// The AEAD cipher keyed with this key.
    pub(crate) fn cipher(&self) -> ChaCha20Poly1305 {
        let key: &Key = (&*self.0).into();
        ChaCha20Poly1305::new(key)
    }
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_generated_keys_differ() {
        let key = ServerKey::generate().expect("random key");
        let hex = key.to_hex();
        assert_eq!(hex.len(), 64);
        let parsed = ServerKey::parse(&format!("  {}\n", hex.as_str())).expect("own hex parses");
        assert_eq!(*parsed.0, *key.0);
        let other = ServerKey::generate().expect("random key");
        assert_ne!(*other.0, *key.0);
    }

    #[test]
    fn bad_keys_are_refused_without_echoing_them() {
        let not_hex = "zz".repeat(32);
        let error = ServerKey::parse(&not_hex).expect_err("not hex");
        assert!(!error.to_string().contains("zz"), "{error}");
        assert!(error.to_string().contains("64 hex characters"), "{error}");
        let short = "ab".repeat(16);
        let error = ServerKey::parse(&short).expect_err("too short");
        assert!(!error.to_string().contains(&short), "{error}");
        assert!(error.to_string().contains("32 characters"), "{error}");
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let key = ServerKey::parse(&"ab".repeat(32)).expect("valid hex");
        assert_eq!(format!("{key:?}"), "ServerKey(<redacted>)");
    }
}
