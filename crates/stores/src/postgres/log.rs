//! Reading the Postgres audit log: verifying its chain and exporting its entries.

use std::io::Write;

use codemode_audit::{
    AuditKey, RecordId, StoredEntry, StoredIntent, StoredRecord, Timestamp, VerifyReport, Walker,
    report,
};
use futures::{StreamExt, pin_mut};
use tokio_postgres::{Client, IsolationLevel, Row};

use crate::postgres::{self, PgError};

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
        let transaction = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let anchor = postgres::read_point(&transaction, "anchor", false).await?;
        let head = postgres::read_point(&transaction, "head", false).await?;
        let mut walker = Walker::from(anchor.point.clone());
        let rows = transaction
            .query_raw(
                "SELECT id, kind, entry, prev_hash, hash FROM codemode_audit_entries \
                 WHERE id > $1 ORDER BY id",
                [anchor.point.id.0],
            )
            .await?;
        pin_mut!(rows);
        while let Some(row) = rows.next().await {
            let row = row?;
            if !walker.step(RecordId(row.get(0)), decode(&row)) {
                break;
            }
        }
        transaction.commit().await?;
        let (checked, end) = walker.finish();
        Ok(report(checked, end, anchor, head, self.key.as_ref()))
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
            out.write_all(b"\n")
                .map_err(codemode_audit::AuditError::Io)?;
            written += 1;
        }
        out.flush().map_err(codemode_audit::AuditError::Io)?;
        Ok(written)
    }
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
