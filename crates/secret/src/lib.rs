//! One secret value in memory (an API token, a stored credential): wiped from memory when it is
//! dropped, and redacted by `Debug` and `Display`, so no log line or error can show it. Only
//! [`Secret::expose`] gives the value, for the one place that must send it.
//!
//! ```
//! use codemode_secret::Secret;
//!
//! let token = Secret::new(String::from("s3cr3t-token"));
//! assert_eq!(token.expose(), "s3cr3t-token");
//! assert_eq!(format!("{token:?}"), "Secret([redacted])");
//! assert_eq!(format!("token: {token}"), "token: [redacted]");
//! ```

use std::fmt;

use zeroize::Zeroizing;

/// A secret string: wiped on drop, shown as `[redacted]`; only [`Secret::expose`] gives it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Takes ownership of `value`, so the only copy is the one wiped on drop.
    pub fn new(value: String) -> Secret {
        Secret(Zeroizing::new(value))
    }

    /// The value itself, for the one place that must send it and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = "tok-7Hq2Zx9Lm4";

    #[test]
    fn printing_never_shows_the_value() {
        let secret = Secret::new(VALUE.to_string());
        for shown in [
            format!("{secret:?}"),
            format!("{secret}"),
            format!("{:?}", Some(&secret)),
            format!("{secret:#?}"),
        ] {
            assert!(!shown.contains(VALUE), "{shown}");
        }
        assert_eq!(secret.expose(), VALUE);
    }

    #[test]
    fn equal_values_are_equal_secrets() {
        let secret = Secret::from(VALUE.to_string());
        assert_eq!(secret, secret.clone());
        assert_ne!(secret, Secret::new("other".to_string()));
    }
}
