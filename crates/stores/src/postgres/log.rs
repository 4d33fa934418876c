//! The Postgres audit log as `codemode audit` sees it: verify, tail, export, sign and prune.
//!
//! Writers lock only the head row, so reading and pruning never make them wait: reads run in
//! one snapshot, and pruning locks the anchor row, deleting at most [`PRUNE_CHUNK`] rows per
//! transaction.

use std::io::Write;

use codemode_audit::{
    AuditError, AuditKey, BreakKind, ChainBreak, ChainPoint, RecordId, StoredEntry, StoredIntent,
    StoredRecord, Timestamp, VerifyReport, Walker, check_signed, report,
};
use futures::{StreamExt, pin_mut};
use tokio_postgres::{Client, GenericClient, IsolationLevel, Row, Transaction};

use crate::postgres::{self, PgError};

/// Rows [`PgAuditLog::prune`] deletes per transaction.
pub const PRUNE_CHUNK: i64 = 500;

/// The audit log in Postgres, for `codemode audit`.
pub struct PgAuditLog {
    client: Client,
    key: Option<AuditKey>,
}

impl PgAuditLog {
    /// Connects to the log at `url`; with `key`, `verify` also checks the chain points' MACs.
    pub async fn open(url: &str, key: Option<AuditKey>) -> Result<PgAuditLog, PgError> {
        let mut client = postgres::connect(url).await?;
        postgres::ensure_schema(&mut client, key.as_ref()).await?;
        Ok(PgAuditLog { client, key })
    }

    /// Walks the chain from the anchor to the head, in one consistent snapshot, and reports
    /// the first break, if any.
    pub async fn verify(&mut self) -> Result<VerifyReport, PgError> {
        let transaction = snapshot(&mut self.client).await?;
        let anchor = postgres::read_point(&transaction, "anchor", false).await?;
        let head = postgres::read_point(&transaction, "head", false).await?;
        let (checked, end) = walk(&transaction, &anchor.point, RecordId(i64::MAX)).await?;
        transaction.commit().await?;
        Ok(report(checked, end, anchor, head, self.key.as_ref()))
    }

    /// The newest `count` call records, oldest first.
    pub async fn tail(&mut self, count: usize) -> Result<Vec<StoredRecord>, PgError> {
        let limit = i64::try_from(count).unwrap_or(i64::MAX);
        let rows = self
            .client
            .query(
                "SELECT id, kind, entry, prev_hash, hash FROM codemode_audit_entries \
                 WHERE kind = 'call' ORDER BY id DESC LIMIT $1",
                &[&limit],
            )
            .await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows.iter().rev() {
            if let StoredEntry::Call(record) = decode(row)? {
                records.push(record);
            }
        }
        Ok(records)
    }

    /// Adopts this log's key for a log written without one: verifies the chain in a snapshot,
    /// then signs the anchor and the head, holding their locks only while it checks the rows
    /// appended meanwhile. Refuses a broken chain and points signed with another key.
    pub async fn sign(&mut self) -> Result<VerifyReport, PgError> {
        let key = self.key.clone().ok_or(AuditError::NoKey)?;
        let verified = self.verify_unsigned().await?;
        let transaction = self.client.transaction().await?;
        let anchor = postgres::read_point(&transaction, "anchor", true).await?;
        let head = postgres::read_point(&transaction, "head", true).await?;
        for (name, stored) in [("anchor", &anchor), ("head", &head)] {
            if stored.mac.is_some() {
                check_signed(name, stored, Some(&key))?;
            }
        }
        // A prune meanwhile moved the anchor past rows the snapshot verified; rows it deleted
        // beyond the snapshot's head it verified itself.
        let from = if anchor.point.id > verified.head.id {
            &anchor.point
        } else {
            &verified.head
        };
        let (later, end) = walk(&transaction, from, RecordId(i64::MAX)).await?;
        let end = end.map_err(AuditError::ChainBroken)?;
        if end != head.point {
            return Err(AuditError::ChainBroken(ChainBreak {
                id: end.id,
                kind: BreakKind::HeadMismatch { head: head.point },
            })
            .into());
        }
        for (name, point) in [("anchor", &anchor.point), ("head", &head.point)] {
            write_point(&transaction, name, point, Some(&key)).await?;
        }
        transaction.commit().await?;
        Ok(VerifyReport {
            checked: verified.checked + later,
            anchor: anchor.point,
            head: head.point,
            signed: true,
            broken: None,
        })
    }

    /// Walks the whole chain without checking MACs; an error at the first break.
    async fn verify_unsigned(&mut self) -> Result<VerifyReport, PgError> {
        let transaction = snapshot(&mut self.client).await?;
        let anchor = postgres::read_point(&transaction, "anchor", false).await?;
        let head = postgres::read_point(&transaction, "head", false).await?;
        let (checked, end) = walk(&transaction, &anchor.point, RecordId(i64::MAX)).await?;
        transaction.commit().await?;
        let verified = report(checked, end, anchor, head, None);
        match verified.broken {
            Some(broken) => Err(AuditError::ChainBroken(broken).into()),
            None => Ok(verified),
        }
    }

    /// Deletes the oldest entries up to the first one at or after `older_than`; returns how many.
    ///
    /// Checks the rows to delete first, in a snapshot; then deletes them in transactions of at
    /// most [`PRUNE_CHUNK`] rows, each holding the anchor row's lock (never the head's, which
    /// writers take) and moving the anchor, signed with a key, to its last deleted row. Refuses
    /// if the rows to delete break the chain: they are the evidence.
    pub async fn prune(&mut self, older_than: Timestamp) -> Result<u64, PgError> {
        let before = older_than.to_string();
        let last_pruned: Option<i64> = self
            .client
            .query_one(
                "SELECT MAX(id) FROM codemode_audit_entries WHERE id < COALESCE(\
                 (SELECT MIN(id) FROM codemode_audit_entries WHERE time >= $1), $2)",
                &[&before, &i64::MAX],
            )
            .await?
            .get(0);
        let Some(last_pruned) = last_pruned.map(RecordId) else {
            return Ok(0);
        };
        {
            let transaction = snapshot(&mut self.client).await?;
            let anchor = postgres::read_point(&transaction, "anchor", false).await?;
            walk(&transaction, &anchor.point, last_pruned)
                .await?
                .1
                .map_err(AuditError::ChainBroken)?;
            transaction.commit().await?;
        }
        let mut deleted = 0;
        loop {
            let transaction = self.client.transaction().await?;
            let anchor = postgres::read_point(&transaction, "anchor", true).await?;
            if anchor.point.id >= last_pruned {
                return Ok(deleted);
            }
            check_signed("anchor", &anchor, self.key.as_ref())?;
            let through = RecordId((anchor.point.id.0 + PRUNE_CHUNK).min(last_pruned.0));
            let new_anchor = walk(&transaction, &anchor.point, through)
                .await?
                .1
                .map_err(AuditError::ChainBroken)?;
            deleted += transaction
                .execute(
                    "DELETE FROM codemode_audit_entries WHERE id <= $1",
                    &[&new_anchor.id.0],
                )
                .await?;
            write_point(&transaction, "anchor", &new_anchor, self.key.as_ref()).await?;
            transaction.commit().await?;
        }
    }

    /// Writes every entry from `since` on to `out` as JSON Lines, oldest first; returns how many.
    pub async fn export_since(
        &mut self,
        since: Timestamp,
        out: &mut impl Write,
    ) -> Result<u64, PgError> {
        let rows = self
            .client
            .query_raw(
                "SELECT id, kind, entry, prev_hash, hash FROM codemode_audit_entries \
                 WHERE time >= $1 ORDER BY id",
                [since.to_string()],
            )
            .await?;
        pin_mut!(rows);
        let mut written = 0;
        while let Some(row) = rows.next().await {
            let entry = decode(&row?)?;
            serde_json::to_writer(&mut *out, &entry)?;
            out.write_all(b"\n").map_err(AuditError::Io)?;
            written += 1;
        }
        out.flush().map_err(AuditError::Io)?;
        Ok(written)
    }
}

/// A read-only transaction that sees one snapshot throughout.
async fn snapshot(client: &mut Client) -> Result<Transaction<'_>, PgError> {
    Ok(client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?)
}

/// Checks the rows after `from`, up to and including `through`: how many continued the chain,
/// and the last good point or the first break.
async fn walk(
    client: &impl GenericClient,
    from: &ChainPoint,
    through: RecordId,
) -> Result<(u64, Result<ChainPoint, ChainBreak>), PgError> {
    let mut walker = Walker::from(from.clone());
    let rows = client
        .query_raw(
            "SELECT id, kind, entry, prev_hash, hash FROM codemode_audit_entries \
             WHERE id > $1 AND id <= $2 ORDER BY id",
            [from.id.0, through.0],
        )
        .await?;
    pin_mut!(rows);
    while let Some(row) = rows.next().await {
        let row = row?;
        if !walker.step(RecordId(row.get(0)), decode(&row)) {
            break;
        }
    }
    Ok(walker.finish())
}

/// Moves chain point `name` to `point`, signed with `key` if there is one.
async fn write_point(
    client: &impl GenericClient,
    name: &str,
    point: &ChainPoint,
    key: Option<&AuditKey>,
) -> Result<(), PgError> {
    client
        .execute(
            "UPDATE codemode_audit_chain SET id = $2, hash = $3, mac = $4 WHERE point = $1",
            &[
                &name,
                &point.id.0,
                &point.hash,
                &key.map(|key| key.sign(name, point)),
            ],
        )
        .await?;
    Ok(())
}

/// Reads one entry row back.
fn decode(row: &Row) -> Result<StoredEntry, serde_json::Error> {
    let id = RecordId(row.get(0));
    let kind: &str = row.get(1);
    let text: &str = row.get(2);
    let prev_hash: String = row.get(3);
    let hash: String = row.get(4);
    Ok(if kind == "request" {
        StoredEntry::Request(StoredIntent {
            id,
            prev_hash,
            hash,
            intent: serde_json::from_str(text)?,
        })
    } else {
        StoredEntry::Call(StoredRecord {
            id,
            prev_hash,
            hash,
            record: serde_json::from_str(text)?,
        })
    })
}
