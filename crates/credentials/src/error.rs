//! The errors of the credential store; none of them ever carries a key or a credential.

use std::path::PathBuf;

/// Why a key could not be read or a credential could not be stored or read.
///
/// `KeyFormat`, `WrongKey` and `Undecryptable` are about the server key: a caller that reads the
/// key from somewhere (a file, a variable) names that place in its own message.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The key is not 64 hex characters; holds the length found.
    #[error(
        "the credentials key must be 64 hex characters (32 bytes); the value given has {0} characters"
    )]
    KeyFormat(usize),
    /// The system random source failed.
    #[error("the system random source failed: {0}")]
    Random(getrandom::Error),
    /// The store was created with another key.
    #[error(
        "cannot decrypt: wrong credentials key? The credential store {0} was created with a different key"
    )]
    WrongKey(PathBuf),
    /// One subject's row does not decrypt: another key, or an altered or moved row.
    #[error(
        "cannot decrypt the credential stored for {0:?}: wrong credentials key, or the row was altered"
    )]
    Undecryptable(String),
    /// The credential is too large to encrypt.
    #[error("the credential is too large to encrypt")]
    TooLarge,
    /// The subject is empty.
    #[error("a credential needs a non-empty subject")]
    EmptySubject,
    /// The credential is empty.
    #[error("an empty credential cannot be stored; remove the subject's credential instead")]
    EmptySecret,
    /// The database file could not be created.
    #[error("cannot create the credential store {path}: {reason}")]
    Create {
        /// The store's path.
        path: PathBuf,
        /// What went wrong.
        reason: std::io::Error,
    },
    /// SQLite failed.
    #[error("credential store: {0}")]
    Database(#[from] rusqlite::Error),
}
