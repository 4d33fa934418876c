//! Adding entries to the chain inside one write transaction, and reading and moving the
//! chain's signed points (`anchor` and `head`). Every statement here runs on each commit, so
//! each is prepared once per connection (`prepare_cached`) rather than parsed every time.

use rusqlite::{Connection, ErrorCode, params};

use crate::chain::{self, ChainPoint};
use crate::columns::Json;
use crate::log::{AuditError, COLUMNS, INTENT_COLUMNS};
use crate::mac::AuditKey;
use crate::record::{CallRecord, RecordId, RequestIntent};

/// One entry to add to the chain.
#[derive(Clone, Copy)]
pub(crate) enum Entry<'a> {
    /// A tool call's record.
    Call(&'a CallRecord),
    /// A request's intent.
    Intent(&'a RequestIntent),
}

/// A chain point as stored, with its MAC if it was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPoint {
    /// The point.
    pub point: ChainPoint,
    /// Its MAC, lowercase hex.
    pub mac: Option<String>,
}

/// Reads the chain point `name` (`anchor` or `head`).
pub(crate) fn read_point(connection: &Connection, name: &str) -> Result<StoredPoint, AuditError> {
    let found = connection
        .prepare_cached("SELECT id, hash, mac FROM audit_chain WHERE point = ?1")?
        .query_row([name], |row| {
            Ok(StoredPoint {
                point: ChainPoint {
                    id: row.get(0)?,
                    hash: row.get(1)?,
                },
                mac: row.get(2)?,
            })
        });
    Ok(found?)
}

/// Refuses to move point `name` unless its MAC is what `key` expects: a signed point needs
/// the key, a wrong key or a moved point is named, and with a key an unsigned point must be
/// signed first ([`AuditLog::sign`](crate::AuditLog::sign)): signing it on the way would also
/// bless a point someone moved and stripped of its MAC.
pub fn check_signed(
    name: &'static str,
    stored: &StoredPoint,
    key: Option<&AuditKey>,
) -> Result<(), AuditError> {
    match (key, &stored.mac) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(AuditError::KeyRequired),
        (Some(_), None) => Err(AuditError::Unsigned { point: name }),
        (Some(key), Some(mac)) if !key.signed(name, &stored.point, mac) => {
            Err(AuditError::BadSignature { point: name })
        }
        (Some(_), Some(_)) => Ok(()),
    }
}

/// Moves point `name` to `point`, signed with `key` if there is one.
pub(crate) fn write_point(
    connection: &Connection,
    name: &str,
    point: &ChainPoint,
    key: Option<&AuditKey>,
) -> Result<(), AuditError> {
    connection
        .prepare_cached("UPDATE audit_chain SET id = ?2, hash = ?3, mac = ?4 WHERE point = ?1")?
        .execute(params![
            name,
            point.id,
            point.hash,
            key.map(|key| key.sign(name, point))
        ])?;
    Ok(())
}

/// Adds `entries` after the head, in order, and moves the head past them; each entry's id, or
/// why it alone could not be encoded. Runs inside the caller's write transaction.
pub(crate) fn append(
    connection: &Connection,
    entries: &[Entry<'_>],
    key: Option<&AuditKey>,
) -> Result<Vec<Result<RecordId, serde_json::Error>>, AuditError> {
    let head = read_point(connection, "head")?;
    check_signed("head", &head, key)?;
    let mut last = head.point;
    let mut ids = Vec::with_capacity(entries.len());
    for entry in entries {
        let id = last.id.next();
        let hash = match entry {
            Entry::Call(record) => chain::chain_hash(&last.hash, *record, id),
            Entry::Intent(intent) => chain::chain_hash(&last.hash, *intent, id),
        };
        let hash = match hash {
            Ok(hash) => hash,
            Err(error) => {
                ids.push(Err(error));
                continue;
            }
        };
        insert(connection, *entry, id, &last.hash, &hash)?;
        last = ChainPoint { id, hash };
        ids.push(Ok(id));
    }
    write_point(connection, "head", &last, key)?;
    Ok(ids)
}

/// Inserts one entry as row `id` of its table.
fn insert(
    connection: &Connection,
    entry: Entry<'_>,
    id: RecordId,
    prev_hash: &str,
    hash: &str,
) -> Result<(), AuditError> {
    match entry {
        Entry::Call(record) => {
            let sql = format!(
                "INSERT INTO audit_calls ({COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
            );
            connection.prepare_cached(&sql)?.execute(params![
                id,
                prev_hash,
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
                record.code_chars,
            ])?
        }
        Entry::Intent(intent) => {
            let sql = format!(
                "INSERT INTO audit_requests ({INTENT_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            );
            connection.prepare_cached(&sql)?.execute(params![
                id,
                prev_hash,
                hash,
                intent.time,
                intent.subject,
                intent.session,
                intent.code_sha256,
                intent.method,
                intent.template,
                intent.path,
                intent.body_sha256,
                intent.upstream,
            ])?
        }
    };
    Ok(())
}

/// Whether SQLite refused because another connection holds the write lock.
pub(crate) fn is_locked(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}
