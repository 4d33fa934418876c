//! The audit log: append, read, export, prune and verify records in SQLite.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, Row, TransactionBehavior, params};

use crate::chain::{self, BreakKind, ChainBreak, ChainPoint, VerifyReport};
use crate::columns::Json;
use crate::db::{self, DatabaseError};
use crate::record::{CallRecord, RecordId, StoredRecord};
use crate::time::Timestamp;

/// The columns [`decode`] reads, in its order.
const COLUMNS: &str = "id, prev_hash, hash, time, subject, session, client, tool, code_sha256, \
     code, account, requests, approvals, outcome, error_kind, duration_ms, result_chars";

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
}

/// An append-only, hash-chained log of tool calls in one SQLite file.
///
/// Methods block on disk I/O; call them from a blocking thread. The log is `Send + Sync`, and
/// several logs (or processes) may share one file: writes serialise on SQLite's write lock.
/// `verify`, `export_since` and `prune` hold this log's connection while they run, so run them
/// on a separate `AuditLog` to keep a server's appends flowing; `prune` also holds the write lock
/// (other writers wait up to 10 s), so prune often enough that each run stays small.
pub struct AuditLog {
    connection: Mutex<Connection>,
}

impl AuditLog {
    /// Opens the log at `path`, creating the file and schema if needed.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        Ok(Self {
            connection: db::open(path.as_ref())?,
        })
    }

    /// Appends `record` to the chain and returns its id once the transaction is durable.
    pub fn append(&self, record: &CallRecord) -> Result<RecordId, AuditError> {
        let mut connection = db::lock(&self.connection);
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let head = read_point(&transaction, "head")?;
        let id = head.id.next();
        let hash = chain::chain_hash(&head.hash, record, id)?;
        transaction.execute(
            &format!(
                "INSERT INTO audit_calls ({COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
            ),
            params![
                id,
                head.hash,
                hash,
                record.time,
                record.subject,
                record.session,
                record.client,
                record.tool,
                record.code_sha256,
                record.code,
                record.account,
                Json(&record.requests),
                Json(&record.approvals),
                record.outcome,
                record.error_kind,
                record.duration_ms,
                record.result_chars,
            ],
        )?;
        transaction.execute(
            "UPDATE audit_chain SET id = ?1, hash = ?2 WHERE point = 'head'",
            params![id, hash],
        )?;
        transaction.commit()?;
        Ok(id)
    }

    /// The newest `count` records, oldest first.
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

    /// Writes every record from `since` on to `out` as JSON Lines, oldest first; returns how many.
    ///
    /// Each line is one [`StoredRecord`]: `id`, `prev_hash`, `hash` and the record's fields.
    pub fn export_since(&self, since: Timestamp, out: &mut impl Write) -> Result<u64, AuditError> {
        let connection = db::lock(&self.connection);
        let mut statement = connection.prepare(&format!(
            "SELECT {COLUMNS} FROM audit_calls WHERE time >= ?1 ORDER BY id"
        ))?;
        let mut rows = statement.query([since])?;
        let mut written = 0;
        while let Some(row) = rows.next()? {
            serde_json::to_writer(&mut *out, &decode(row)?)?;
            out.write_all(b"\n")?;
            written += 1;
        }
        out.flush()?;
        Ok(written)
    }

    /// Deletes the oldest records up to the first one at or after `older_than`; returns how many.
    ///
    /// The last deleted row becomes the chain's anchor, so later deletions and edits of the
    /// first remaining row stay detectable. Refuses if the rows to delete break the chain.
    pub fn prune(&self, older_than: Timestamp) -> Result<usize, AuditError> {
        let mut connection = db::lock(&self.connection);
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let first_kept: Option<RecordId> = transaction.query_row(
            "SELECT MIN(id) FROM audit_calls WHERE time >= ?1",
            [older_than],
            |row| row.get(0),
        )?;
        let last_pruned: Option<RecordId> = transaction.query_row(
            "SELECT MAX(id) FROM audit_calls WHERE id < ?1",
            [first_kept.unwrap_or(RecordId(i64::MAX))],
            |row| row.get(0),
        )?;
        let Some(last_pruned) = last_pruned else {
            return Ok(0);
        };
        let anchor = read_point(&transaction, "anchor")?;
        let new_anchor = walk(&transaction, &anchor, last_pruned)?
            .end
            .map_err(AuditError::ChainBroken)?;
        let deleted =
            transaction.execute("DELETE FROM audit_calls WHERE id <= ?1", [new_anchor.id])?;
        transaction.execute(
            "UPDATE audit_chain SET id = ?1, hash = ?2 WHERE point = 'anchor'",
            params![new_anchor.id, new_anchor.hash],
        )?;
        transaction.commit()?;
        Ok(deleted)
    }

    /// Walks the chain from the anchor to the head and reports the first break, if any.
    pub fn verify(&self) -> Result<VerifyReport, AuditError> {
        let mut connection = db::lock(&self.connection);
        let snapshot = connection.transaction()?;
        let anchor = read_point(&snapshot, "anchor")?;
        let head = read_point(&snapshot, "head")?;
        let walked = walk(&snapshot, &anchor, RecordId(i64::MAX))?;
        let broken = match walked.end {
            Err(broken) => Some(broken),
            Ok(end) if end != head => Some(ChainBreak {
                id: end.id,
                kind: BreakKind::HeadMismatch { head: head.clone() },
            }),
            Ok(_) => None,
        };
        Ok(VerifyReport {
            checked: walked.checked,
            anchor,
            head,
            broken,
        })
    }
}

/// Reads the chain point named `point` (`anchor` or `head`).
fn read_point(connection: &Connection, point: &str) -> Result<ChainPoint, AuditError> {
    let found = connection.query_row(
        "SELECT id, hash FROM audit_chain WHERE point = ?1",
        [point],
        |row| {
            Ok(ChainPoint {
                id: row.get(0)?,
                hash: row.get(1)?,
            })
        },
    );
    Ok(found?)
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
    let mut statement = connection.prepare(&format!(
        "SELECT {COLUMNS} FROM audit_calls WHERE id <= ?1 ORDER BY id"
    ))?;
    let mut rows = statement.query([through])?;
    let mut last = from.clone();
    let mut checked = 0;
    while let Some(row) = rows.next()? {
        let id: RecordId = row.get(0)?;
        match chain::check_link(&last, id, decode(row)) {
            Ok(point) => last = point,
            Err(kind) => {
                return Ok(Walk {
                    checked,
                    end: Err(ChainBreak { id, kind }),
                });
            }
        }
        checked += 1;
    }
    Ok(Walk {
        checked,
        end: Ok(last),
    })
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
        },
    })
}
