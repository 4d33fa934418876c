//! Opening the shared SQLite file: journal and sync settings, and the schema.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior, params};

use crate::chain::{ChainPoint, GENESIS_HASH};
use crate::mac::AuditKey;
use crate::record::RecordId;

/// The schema version this crate writes into `PRAGMA user_version`: 2 added request intents,
/// the chain points' MACs and the length of code kept only in part; 3 the upstream of each
/// intent.
const SCHEMA_VERSION: i64 = 3;

/// How long a connection waits for another connection's write transaction before failing,
/// unless it says otherwise (the writer waits far less).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// What version 1 files lack.
const MIGRATE_FROM_1: &str = "ALTER TABLE audit_chain ADD COLUMN mac TEXT;
ALTER TABLE audit_calls ADD COLUMN code_chars INTEGER;";

/// What version 2 files lack.
const MIGRATE_FROM_2: &str = "ALTER TABLE audit_requests ADD COLUMN upstream TEXT;";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_calls (
    id           INTEGER PRIMARY KEY,
    time         TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    session      TEXT,
    client       TEXT,
    tool         TEXT    NOT NULL,
    code_sha256  TEXT    NOT NULL,
    code         TEXT,
    account      TEXT,
    requests     TEXT    NOT NULL,
    approvals    TEXT    NOT NULL,
    outcome      TEXT    NOT NULL,
    error_kind   TEXT,
    duration_ms  INTEGER NOT NULL,
    result_chars INTEGER NOT NULL,
    prev_hash    TEXT    NOT NULL,
    hash         TEXT    NOT NULL,
    code_chars   INTEGER
);
CREATE INDEX IF NOT EXISTS audit_calls_time ON audit_calls (time);
CREATE TABLE IF NOT EXISTS audit_chain (
    point TEXT PRIMARY KEY CHECK (point IN ('anchor', 'head')),
    id    INTEGER NOT NULL,
    hash  TEXT    NOT NULL,
    mac   TEXT
);
CREATE TABLE IF NOT EXISTS audit_requests (
    id          INTEGER PRIMARY KEY,
    time        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    session     TEXT,
    code_sha256 TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    template    TEXT,
    path        TEXT    NOT NULL,
    body_sha256 TEXT,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL,
    upstream    TEXT
);
CREATE INDEX IF NOT EXISTS audit_requests_time ON audit_requests (time);
CREATE TABLE IF NOT EXISTS approvals (
    id          TEXT PRIMARY KEY,
    subject     TEXT NOT NULL,
    session     TEXT,
    code_sha256 TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    decided_by  TEXT,
    decided_at  TEXT
);
CREATE TABLE IF NOT EXISTS approval_requests (
    approval_id TEXT    NOT NULL REFERENCES approvals (id),
    position    INTEGER NOT NULL,
    method      TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    body_sha256 TEXT,
    consumed_at TEXT,
    PRIMARY KEY (approval_id, position)
);
";

/// Why the database file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// SQLite refused an operation.
    #[error("audit database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file was written by a newer version of this crate.
    #[error("audit database has schema version {found}, newer than the supported {SCHEMA_VERSION}")]
    UnsupportedSchema {
        /// The version found in the file.
        found: i64,
    },
    /// SQLite would not switch the file to write-ahead logging (for example, an in-memory path).
    #[error("audit database must use WAL journaling, but SQLite chose {0:?}")]
    NotWal(String),
}

/// Opens (creating if needed) the database at `path`, behind a mutex; see [`connect`].
pub(crate) fn open(
    path: &Path,
    key: Option<&AuditKey>,
) -> Result<Mutex<Connection>, DatabaseError> {
    connect(path, key).map(Mutex::new)
}

/// Opens (creating if needed) the database at `path`, ready for durable writes; a new chain's
/// genesis points are signed with `key`, if given.
///
/// Journal mode is WAL and `synchronous` is FULL: a commit returns only after its WAL frames
/// are fsynced, so a record that `append` acknowledged survives a killed process, an OS crash
/// and a power cut.
pub(crate) fn connect(path: &Path, key: Option<&AuditKey>) -> Result<Connection, DatabaseError> {
    let mut connection = Connection::open(path)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(DatabaseError::NotWal(mode));
    }
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", true)?;

    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = transaction.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(DatabaseError::UnsupportedSchema { found });
    }
    if found == 1 {
        transaction.execute_batch(MIGRATE_FROM_1)?;
    }
    if found == 2 {
        transaction.execute_batch(MIGRATE_FROM_2)?;
    }
    transaction.execute_batch(SCHEMA)?;
    let genesis = ChainPoint {
        id: RecordId(0),
        hash: GENESIS_HASH.to_owned(),
    };
    let mac = |name| key.map(|key| key.sign(name, &genesis));
    transaction.execute(
        "INSERT OR IGNORE INTO audit_chain (point, id, hash, mac) \
         VALUES ('anchor', 0, ?1, ?2), ('head', 0, ?1, ?3)",
        params![GENESIS_HASH, mac("anchor"), mac("head")],
    )?;
    transaction.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    transaction.commit()?;
    Ok(connection)
}

/// Locks a connection; a panic elsewhere cannot leave it mid-transaction, so poisoning is ignored.
pub(crate) fn lock(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    connection.lock().unwrap_or_else(PoisonError::into_inner)
}
