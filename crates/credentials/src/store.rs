//! The SQLite table of sealed credentials, one row per subject.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use codemode_secret::Secret;
use rusqlite::{Connection, OptionalExtension, params};
use zeroize::Zeroizing;

use crate::error::CredentialsError;
use crate::key::ServerKey;

/// The associated data of the check value sealed when the store is created.
const KEY_CHECK_AD: &[u8] = b"codemode credential store key check";

/// The tables, created on first open.
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS credentials (
        subject    TEXT PRIMARY KEY NOT NULL,
        nonce      BLOB NOT NULL,
        ciphertext BLOB NOT NULL
    );
    CREATE TABLE IF NOT EXISTS key_check (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        nonce      BLOB NOT NULL,
        ciphertext BLOB NOT NULL
    );
";

/// A nonce and the ciphertext (with its tag) it sealed.
struct Sealed {
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// Upstream credentials by subject, encrypted at rest; safe to share between threads.
pub struct CredentialStore {
    connection: Mutex<Connection>,
    cipher: ChaCha20Poly1305,
}

impl CredentialStore {
    /// Opens the store at `path`, creating it (readable by its owner only) if absent, and checks
    /// that `key` is the key it was created with.
    pub fn open(
        path: impl AsRef<Path>,
        key: &ServerKey,
    ) -> Result<CredentialStore, CredentialsError> {
        let path = path.as_ref();
        create_private(path)?;
        let connection = Connection::open(path)?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.execute_batch(SCHEMA)?;
        let store = CredentialStore {
            connection: Mutex::new(connection),
            cipher: key.cipher(),
        };
        store.check_key(path)?;
        Ok(store)
    }

    /// Stores `secret` as the credential of `subject`, replacing any earlier one.
    pub fn set(&self, subject: &str, secret: &str) -> Result<(), CredentialsError> {
        if subject.is_empty() {
            return Err(CredentialsError::EmptySubject);
        }
        if secret.is_empty() {
            return Err(CredentialsError::EmptySecret);
        }
        let sealed = self.seal(secret.as_bytes(), subject.as_bytes())?;
        self.connection().execute(
            "INSERT INTO credentials (subject, nonce, ciphertext) VALUES (?1, ?2, ?3)
             ON CONFLICT (subject) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext",
            params![subject, sealed.nonce, sealed.ciphertext],
        )?;
        Ok(())
    }

    /// The credential of `subject`, if one is stored.
    pub fn get(&self, subject: &str) -> Result<Option<Secret>, CredentialsError> {
        let row = self
            .connection()
            .query_row(
                "SELECT nonce, ciphertext FROM credentials WHERE subject = ?1",
                params![subject],
                |row| {
                    Ok(Sealed {
                        nonce: row.get(0)?,
                        ciphertext: row.get(1)?,
                    })
                },
            )
            .optional()?;
        let Some(sealed) = row else {
            return Ok(None);
        };
        let undecryptable = || CredentialsError::Undecryptable(subject.to_string());
        let mut plaintext = self
            .open_sealed(&sealed, subject.as_bytes())
            .ok_or_else(undecryptable)?;
        let text =
            String::from_utf8(std::mem::take(&mut *plaintext)).map_err(|_| undecryptable())?;
        Ok(Some(Secret::new(text)))
    }

    /// Removes the credential of `subject`; whether there was one.
    pub fn remove(&self, subject: &str) -> Result<bool, CredentialsError> {
        let removed = self.connection().execute(
            "DELETE FROM credentials WHERE subject = ?1",
            params![subject],
        )?;
        Ok(removed > 0)
    }

    /// The subjects with a stored credential, sorted.
    pub fn subjects(&self) -> Result<Vec<String>, CredentialsError> {
        let connection = self.connection();
        let mut statement =
            connection.prepare("SELECT subject FROM credentials ORDER BY subject")?;
        let subjects = statement
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(subjects)
    }

    /// Seals a check value on first open; on later opens, fails unless it decrypts.
    fn check_key(&self, path: &Path) -> Result<(), CredentialsError> {
        let existing = self
            .connection()
            .query_row(
                "SELECT nonce, ciphertext FROM key_check WHERE id = 1",
                [],
                |row| {
                    Ok(Sealed {
                        nonce: row.get(0)?,
                        ciphertext: row.get(1)?,
                    })
                },
            )
            .optional()?;
        match existing {
            Some(sealed) => match self.open_sealed(&sealed, KEY_CHECK_AD) {
                Some(_) => Ok(()),
                None => Err(CredentialsError::WrongKey(PathBuf::from(path))),
            },
            None => {
                let sealed = self.seal(KEY_CHECK_AD, KEY_CHECK_AD)?;
                self.connection().execute(
                    "INSERT OR IGNORE INTO key_check (id, nonce, ciphertext) VALUES (1, ?1, ?2)",
                    params![sealed.nonce, sealed.ciphertext],
                )?;
                Ok(())
            }
        }
    }

    /// Encrypts `plaintext` under a fresh random nonce, bound to `associated_data`.
    fn seal(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<Sealed, CredentialsError> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(CredentialsError::Random)?;
        let payload = Payload {
            msg: plaintext,
            aad: associated_data,
        };
        let ciphertext = self
            .cipher
            .encrypt(&Nonce::from(nonce), payload)
            .map_err(|_| CredentialsError::TooLarge)?;
        Ok(Sealed {
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Decrypts `sealed` bound to `associated_data`; `None` if it does not authenticate.
    fn open_sealed(&self, sealed: &Sealed, associated_data: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let nonce = Nonce::try_from(sealed.nonce.as_slice()).ok()?;
        let payload = Payload {
            msg: &sealed.ciphertext,
            aad: associated_data,
        };
        self.cipher
            .decrypt(&nonce, payload)
            .ok()
            .map(Zeroizing::new)
    }

    /// The connection, usable even if another thread panicked while holding it.
    fn connection(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Creates the database file readable and writable by its owner only, unless it exists.
fn create_private(path: &Path) -> Result<(), CredentialsError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(reason) => Err(CredentialsError::Create {
            path: path.to_path_buf(),
            reason,
        }),
    }
}
