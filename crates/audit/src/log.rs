//! The audit log: append, read, export, prune and verify entries in SQLite.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, Row, ToSql, TransactionBehavior};

use crate::append::{self, Entry};
use crate::chain::{self, BreakKind, ChainBreak, ChainPoint, VerifyReport};
use crate::columns::Json;
use crate::db::{self, DatabaseError};
use crate::mac::AuditKey;
use crate::record::{CallRecord, RecordId, RequestIntent, StoredEntry, StoredIntent, StoredRecord};
use crate::time::Timestamp;
use crate::writer::StoreUnavailable;

/// The columns [`decode`] reads, in its order.
pub(crate) const COLUMNS: &str = "id, prev_hash, hash, time, subject, session, client, tool, \
     code_sha256, code, account, requests, approvals, outcome, error_kind, duration_ms, \
     result_chars, code_chars";

/// The columns [`decode_intent`] reads, in its order.
pub(crate) const INTENT_COLUMNS: &str = "id, prev_hash, hash, time, subject, session, code_sha256, method, template, path, body_sha256, \
     upstream";

/// Rows [`AuditLog::prune`] deletes per write transaction, so that other writers wait little.
const PRUNE_CHUNK: i64 = 500;

/// Why an audit operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database file could not be opened.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// SQLite refused an operation.
    #[error("audit log: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A record could not be turned into JSON.
    #[error("audit log: cannot encode record: {0}")]
    Json(#[from] serde_json::Error),
    /// Writing an export failed.
    #[error("audit export: {0}")]
    Io(#[from] std::io::Error),
    /// Pruning stopped because the rows it would delete are the evidence of a break.
    #[error("refusing to prune a broken chain: {0}")]
    ChainBroken(ChainBreak),
    /// The log's chain points are signed, and no key was given to sign them again.
    #[error("this audit log is signed with an audit key; give the key to write to it")]
    KeyRequired,
    /// A chain point's MAC does not match the key given.
    #[error(
        "the audit log's {point} does not carry a valid MAC for the audit key given: either the \
         key is wrong or the {point} was moved (rows deleted); verify the log"
    )]
    BadSignature {
        /// `anchor` or `head`.
        point: &'static str,
    },
    /// A key was given, but the log's chain point was never signed with one.
    #[error(
        "the audit log's {point} is not signed, so it cannot be written with an audit key yet; \
         verify the log and sign it with the key first"
    )]
    Unsigned {
        /// `anchor` or `head`.
        point: &'static str,
    },
    /// Signing needs a key.
    #[error("signing the audit log needs an audit key")]
    NoKey,
    /// The store could not take the write now.
    #[error(transparent)]
    Unavailable(#[from] StoreUnavailable),
}

/// An append-only, hash-chained log of tool calls and request intents in one SQLite file.
///
/// Methods block on disk I/O; call them from a blocking thread. A server appends through one
/// [`AuditWriter`](crate::AuditWriter) instead, which batches. The log is `Send + Sync`, and
/// several logs (or processes) may share one file: writes serialise on SQLite's write lock.
/// `verify` and `export_since` only read (WAL readers never block writers); `prune` deletes
/// in transactions of at most 500 rows, so other writers never wait long for it.
pub struct AuditLog {
    connection: Mutex<Connection>,
    key: Option<AuditKey>,
}

impl AuditLog {
    /// Opens the log at `path`, creating the file and schema if needed, without a key.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        Self::open_keyed(path, None)
    }

    /// Opens the log at `path`; with `key`, writes sign the chain's points and `verify`
    /// checks their MACs, so deleting the newest or oldest rows is evident.
    pub fn open_keyed(path: impl AsRef<Path>, key: Option<AuditKey>) -> Result<Self, AuditError> {
        Ok(Self {
            connection: db::open(path.as_ref(), key.as_ref())?,
            key,
        })
    }

    /// Appends `record` to the chain in its own transaction and returns its id once durable.
    pub fn append(&self, record: &CallRecord) -> Result<RecordId, AuditError> {
        let mut connection = db::lock(&self.connection);
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ids = append::append(&transaction, &[Entry::Call(record)], self.key.as_ref())?;
        transaction.commit()?;
        let id = ids
            .into_iter()
            .next()
            .expect("append returns one id per entry");
        Ok(id?)
    }

    /// The newest `count` call records, oldest first.
    pub fn tail(&self, count: usize) -> Result<Vec<StoredRecord>, AuditError> {
        let connection = db::lock(&self.connection);
        let mut statement = connection.prepare(&format!(
            "SELECT * FROM (SELECT {COLUMNS} FROM audit_calls ORDER BY id DESC LIMIT ?1) ORDER BY id"
        ))?;
        let records = statement
            .query_map([count], decode)?
            .collect::<Result<_, _>>()?;
        Ok(records)
    }

    /// Writes every entry from `since` on to `out` as JSON Lines, oldest first; returns how many.
    ///
    /// Each line is one [`StoredEntry`]: `entry` (`call` or `request`), `id`, `prev_hash`,
    /// `hash` and the entry's fields.
    pub fn export_since(&self, since: Timestamp, out: &mut impl Write) -> Result<u64, AuditError> {
        let mut connection = db::lock(&self.connection);
        let snapshot = connection.transaction()?;
        let mut written = 0;
        each_entry(&snapshot, "time >= ?1", &since, |_, entry| {
            serde_json::to_writer(&mut *out, &entry?)?;
            out.write_all(b"\n")?;
            written += 1;
            Ok(true)
        })?;
        out.flush()?;
        Ok(written)
    }

    /// Deletes the oldest entries up to the first one at or after `older_than`; returns how many.
    ///
    /// Checks the rows to delete first, only reading; then deletes them in transactions of at
    /// most 500 rows, each moving the chain's anchor (signed, with a key) to its last deleted
    /// row, so later deletions and edits of the first remaining row stay detectable. Refuses if
    /// the rows to delete break the chain.
    pub fn prune(&self, older_than: Timestamp) -> Result<usize, AuditError> {
        let mut connection = db::lock(&self.connection);
        let first_kept: Option<RecordId> = connection.query_row(
            "SELECT MIN(id) FROM (SELECT id FROM audit_calls WHERE time >= ?1 \
             UNION ALL SELECT id FROM audit_requests WHERE time >= ?1)",
            [older_than],
            |row| row.get(0),
        )?;
        let last_pruned: Option<RecordId> = connection.query_row(
            "SELECT MAX(id) FROM (SELECT id FROM audit_calls WHERE id < ?1 \
             UNION ALL SELECT id FROM audit_requests WHERE id < ?1)",
            [first_kept.unwrap_or(RecordId(i64::MAX))],
            |row| row.get(0),
        )?;
        let Some(last_pruned) = last_pruned else {
            return Ok(0);
        };
        {
            let snapshot = connection.transaction()?;
            let anchor = append::read_point(&snapshot, "anchor")?;
            walk(&snapshot, &anchor.point, last_pruned)?
                .end
                .map_err(AuditError::ChainBroken)?;
        }
        let mut deleted = 0;
        loop {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let anchor = append::read_point(&transaction, "anchor")?;
            if anchor.point.id >= last_pruned {
                return Ok(deleted);
            }
            append::check_signed("anchor", &anchor, self.key.as_ref())?;
            let through = RecordId((anchor.point.id.0 + PRUNE_CHUNK).min(last_pruned.0));
            let new_anchor = walk(&transaction, &anchor.point, through)?
                .end
                .map_err(AuditError::ChainBroken)?;
            for table in ["audit_calls", "audit_requests"] {
                deleted += transaction.execute(
                    &format!("DELETE FROM {table} WHERE id <= ?1"),
                    [new_anchor.id],
                )?;
            }
            append::write_point(&transaction, "anchor", &new_anchor, self.key.as_ref())?;
            transaction.commit()?;
        }
    }

    /// Adopts this log's key for a log written without one: verifies the whole chain, then
    /// signs its anchor and head. Refuses a broken chain, and points signed with another key.
    pub fn sign(&self) -> Result<VerifyReport, AuditError> {
        let key = self.key.as_ref().ok_or(AuditError::NoKey)?;
        let mut connection = db::lock(&self.connection);
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let anchor = append::read_point(&transaction, "anchor")?;
        let head = append::read_point(&transaction, "head")?;
        for (name, stored) in [("anchor", &anchor), ("head", &head)] {
            if stored.mac.is_some() {
                append::check_signed(name, stored, Some(key))?;
            }
        }
        let walked = walk(&transaction, &anchor.point, RecordId(i64::MAX))?;
        let end = walked.end.map_err(AuditError::ChainBroken)?;
        if end != head.point {
            return Err(AuditError::ChainBroken(ChainBreak {
                id: end.id,
                kind: BreakKind::HeadMismatch { head: head.point },
            }));
        }
        append::write_point(&transaction, "anchor", &anchor.point, Some(key))?;
        append::write_point(&transaction, "head", &head.point, Some(key))?;
        transaction.commit()?;
        Ok(VerifyReport {
            checked: walked.checked,
            anchor: anchor.point,
            head: head.point,
            signed: true,
            broken: None,
        })
    }

    /// Walks the chain from the anchor to the head and reports the first break, if any; with
    /// a key, also checks the anchor's and the head's MACs.
    pub fn verify(&self) -> Result<VerifyReport, AuditError> {
        let mut connection = db::lock(&self.connection);
        let snapshot = connection.transaction()?;
        let anchor = append::read_point(&snapshot, "anchor")?;
        let head = append::read_point(&snapshot, "head")?;
        let walked = walk(&snapshot, &anchor.point, RecordId(i64::MAX))?;
        Ok(chain::report(
            walked.checked,
            walked.end,
            anchor,
            head,
            self.key.as_ref(),
        ))
    }
}

/// How far a walk along the chain got.
struct Walk {
    /// Rows that continued the chain correctly.
    checked: u64,
    /// The last good point, or the first break.
    end: Result<ChainPoint, ChainBreak>,
}

/// Checks the rows after `from`, up to and including `through`.
fn walk(connection: &Connection, from: &ChainPoint, through: RecordId) -> Result<Walk, AuditError> {
    let mut walker = chain::Walker::from(from.clone());
    each_entry(connection, "id <= ?1", &through, |id, entry| {
        Ok(walker.step(id, entry))
    })?;
    let (checked, end) = walker.finish();
    Ok(Walk { checked, end })
}

/// A row's id and the entry read from it.
type Visited = (RecordId, rusqlite::Result<StoredEntry>);

/// Visits the rows of both tables matching `filter` (SQL on `?1` = `value`) in id order,
/// until `visit` returns false.
fn each_entry(
    connection: &Connection,
    filter: &str,
    value: &dyn ToSql,
    mut visit: impl FnMut(RecordId, rusqlite::Result<StoredEntry>) -> Result<bool, AuditError>,
) -> Result<(), AuditError> {
    let mut calls = connection.prepare(&format!(
        "SELECT {COLUMNS} FROM audit_calls WHERE {filter} ORDER BY id"
    ))?;
    let mut intents = connection.prepare(&format!(
        "SELECT {INTENT_COLUMNS} FROM audit_requests WHERE {filter} ORDER BY id"
    ))?;
    let mut calls = calls
        .query_map([value], |row| -> rusqlite::Result<Visited> {
            Ok((row.get(0)?, decode(row).map(StoredEntry::Call)))
        })?
        .peekable();
    let mut intents = intents
        .query_map([value], |row| -> rusqlite::Result<Visited> {
            Ok((row.get(0)?, decode_intent(row).map(StoredEntry::Request)))
        })?
        .peekable();
    loop {
        let call_first = match (calls.peek(), intents.peek()) {
            (Some(Ok((call, _))), Some(Ok((intent, _)))) => call < intent,
            (Some(_), _) => true,
            (None, _) => false,
        };
        let next = if call_first {
            calls.next()
        } else {
            intents.next()
        };
        let Some(next) = next else {
            return Ok(());
        };
        let (id, entry) = next?;
        if !visit(id, entry)? {
            return Ok(());
        }
    }
}

/// Reads one row selected with [`COLUMNS`].
fn decode(row: &Row<'_>) -> rusqlite::Result<StoredRecord> {
    let Json(requests) = row.get(11)?;
    let Json(approvals) = row.get(12)?;
    Ok(StoredRecord {
        id: row.get(0)?,
        prev_hash: row.get(1)?,
        hash: row.get(2)?,
        record: CallRecord {
            time: row.get(3)?,
            subject: row.get(4)?,
            session: row.get(5)?,
            client: row.get(6)?,
            tool: row.get(7)?,
            code_sha256: row.get(8)?,
            code: row.get(9)?,
            account: row.get(10)?,
            requests,
            approvals,
            outcome: row.get(13)?,
            error_kind: row.get(14)?,
            duration_ms: row.get(15)?,
            result_chars: row.get(16)?,
            code_chars: row.get(17)?,
        },
    })
}

/// Reads one row selected with [`INTENT_COLUMNS`].
fn decode_intent(row: &Row<'_>) -> rusqlite::Result<StoredIntent> {
    Ok(StoredIntent {
        id: row.get(0)?,
        prev_hash: row.get(1)?,
        hash: row.get(2)?,
        intent: RequestIntent {
            time: row.get(3)?,
            subject: row.get(4)?,
            session: row.get(5)?,
            code_sha256: row.get(6)?,
            method: row.get(7)?,
            template: row.get(8)?,
            path: row.get(9)?,
            body_sha256: row.get(10)?,
            upstream: row.get(11)?,
        },
    })
}
