//! A credential in memory: wiped on drop, hidden from `Debug` and `Display`.

use std::fmt;

use zeroize::Zeroizing;

/// A stored credential; only [`Secret::expose`] gives the value.
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a decrypted credential.
    pub(crate) fn new(value: String) -> Secret {
        Secret(Zeroizing::new(value))
    }

    /// The credential itself, to attach to an upstream request and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
