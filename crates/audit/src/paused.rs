//! Durable records of paused `execute` calls, so a retry can resume one after the process
//! that paused it is gone (it restarted, or the retry reached another replica).
//!
//! A record is opaque bytes under the paused call's id, with an expiry. Taking a record
//! removes it in the same step, so of two retries racing for one paused call only one gets
//! it: the request it paused at can go out once at most.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::db::{self, DatabaseError};
use crate::time::Timestamp;

/// Why a paused call's record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PausedStoreError {
    /// The database file could not be opened.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// SQLite refused an operation.
    #[error("paused calls: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Another store (a shared one) failed.
    #[error("paused calls: {0}")]
    Backend(String),
}

/// Where the records of paused calls are kept; one per deployment, shared by its replicas.
pub trait PausedStore: Send + Sync {
    /// Keeps `record` for the call `call` until `expires_at`, replacing any earlier one.
    fn save(
        &self,
        call: &str,
        record: &[u8],
        expires_at: Timestamp,
    ) -> Result<(), PausedStoreError>;

    /// Removes and returns the record of `call`, unless there is none or it expired by `now`.
    fn take(&self, call: &str, now: Timestamp) -> Result<Option<Vec<u8>>, PausedStoreError>;

    /// Forgets the record of `call`, if any.
    fn delete(&self, call: &str) -> Result<(), PausedStoreError>;
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS paused_calls (
    call       TEXT PRIMARY KEY,
    record     BLOB NOT NULL,
    expires_at TEXT NOT NULL
);";

/// Paused calls kept in the audit database file (the default store).
pub struct SqlitePausedStore {
    connection: Mutex<Connection>,
}

impl SqlitePausedStore {
    /// Opens the store at `path` (the audit log's file), creating its table if needed.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, PausedStoreError> {
        let connection = db::open(path.as_ref(), None)?;
        db::lock(&connection).execute_batch(SCHEMA)?;
        Ok(Self { connection })
    }
}

impl PausedStore for SqlitePausedStore {
    fn save(
        &self,
        call: &str,
        record: &[u8],
        expires_at: Timestamp,
    ) -> Result<(), PausedStoreError> {
        let mut connection = db::lock(&self.connection);
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction.execute(
            "DELETE FROM paused_calls WHERE expires_at <= ?1",
            params![Timestamp::now()],
        )?;
        transaction.execute(
            "INSERT OR REPLACE INTO paused_calls (call, record, expires_at) VALUES (?1, ?2, ?3)",
            params![call, record, expires_at],
        )?;
        transaction.commit()?;
        Ok(())
    }

    fn take(&self, call: &str, now: Timestamp) -> Result<Option<Vec<u8>>, PausedStoreError> {
        let mut connection = db::lock(&self.connection);
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: Option<(Vec<u8>, Timestamp)> = transaction
            .query_row(
                "SELECT record, expires_at FROM paused_calls WHERE call = ?1",
                params![call],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        transaction.execute("DELETE FROM paused_calls WHERE call = ?1", params![call])?;
        transaction.commit()?;
        Ok(found
            .filter(|(_, expires_at)| *expires_at > now)
            .map(|(record, _)| record))
    }

    fn delete(&self, call: &str) -> Result<(), PausedStoreError> {
        db::lock(&self.connection)
            .execute("DELETE FROM paused_calls WHERE call = ?1", params![call])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_record_is_taken_once_and_not_after_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlitePausedStore::open(dir.path().join("audit.db")).unwrap();
        let now = Timestamp::now();
        let later = now.saturating_add(Duration::from_secs(60));
        store.save("a", b"first", later).unwrap();
        store.save("a", b"second", later).unwrap();
        assert_eq!(
            store.take("a", now).unwrap().as_deref(),
            Some(&b"second"[..])
        );
        assert_eq!(store.take("a", now).unwrap(), None);
        store.save("b", b"late", later).unwrap();
        assert_eq!(store.take("b", later).unwrap(), None);
        store.save("c", b"gone", later).unwrap();
        store.delete("c").unwrap();
        assert_eq!(store.take("c", now).unwrap(), None);
    }
}
