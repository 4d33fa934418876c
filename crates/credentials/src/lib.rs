//! Per-subject upstream credentials, stored in SQLite and encrypted at rest.
//!
//! Each subject's credential is sealed with ChaCha20-Poly1305 under the 32-byte server key
//! ([`ServerKey`], written as 64 hex characters), with a fresh random
//! 96-bit nonce per write and the subject as associated data, so a row copied to another subject
//! does not decrypt. The store also keeps a sealed check value, so opening it with the wrong key
//! fails at once rather than at the first lookup. Credentials come back as
//! [`codemode_secret::Secret`], wiped on drop and never shown by `Debug` or `Display`.
//!
//! ```
//! use codemode_credentials::{CredentialStore, ServerKey};
//!
//! let dir = tempfile::tempdir()?;
//! let key = ServerKey::parse(&"2f".repeat(32))?;
//! let store = CredentialStore::open(dir.path().join("credentials.db"), &key)?;
//! store.set("alice", "alice-api-token")?;
//! let secret = store.get("alice")?.expect("stored");
//! assert_eq!(secret.expose(), "alice-api-token");
//! assert_eq!(secret.to_string(), "[redacted]");
//! assert!(CredentialStore::open(dir.path().join("credentials.db"), &ServerKey::generate()?).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod key;
mod store;

pub use error::CredentialsError;
pub use key::ServerKey;
pub use store::CredentialStore;
