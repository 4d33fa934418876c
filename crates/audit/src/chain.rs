//! The hash chain that makes edited, deleted and reordered audit rows evident.
//!
//! Call records and request intents share one sequence of ids and one chain: entry `n`, in
//! whichever table, stores `prev_hash` (the hash of entry `n - 1`, of the retention anchor, or
//! 64 zeros) and `hash`, its [`chain_hash`].

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::append::StoredPoint;
use crate::mac::AuditKey;
use crate::record::{RecordId, StoredEntry, StoredRecord};

/// The `prev_hash` of the first record ever written.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain hash of `entry` (a [`CallRecord`](crate::CallRecord) or a [`RequestIntent`](crate::RequestIntent))
/// stored as entry `id` after one hashed `prev_hash`.
///
/// `hex(sha256(prev_hash ‖ canonical JSON of the entry ‖ id in decimal))`, where the canonical
/// JSON is `serde_json` of the entry's type: fields in declaration order, absent values as
/// `null` (fields added later are left out while absent).
pub fn chain_hash<T: Serialize>(
    prev_hash: &str,
    entry: &T,
    id: RecordId,
) -> Result<String, serde_json::Error> {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(serde_json::to_vec(entry)?);
    hasher.update(id.to_string().as_bytes());
    Ok(crate::hex(&hasher.finalize()))
}

impl StoredRecord {
    /// The hash this record should have, recomputed from its content, id and `prev_hash`.
    pub fn computed_hash(&self) -> Result<String, serde_json::Error> {
        chain_hash(&self.prev_hash, &self.record, self.id)
    }
}

impl StoredEntry {
    /// The hash of the entry before this one, as stored.
    pub fn prev_hash(&self) -> &str {
        match self {
            StoredEntry::Call(stored) => &stored.prev_hash,
            StoredEntry::Request(stored) => &stored.prev_hash,
        }
    }

    /// This entry's hash, as stored.
    pub fn hash(&self) -> &str {
        match self {
            StoredEntry::Call(stored) => &stored.hash,
            StoredEntry::Request(stored) => &stored.hash,
        }
    }

    /// The hash this entry should have, recomputed from its content, id and `prev_hash`.
    pub fn computed_hash(&self) -> Result<String, serde_json::Error> {
        match self {
            StoredEntry::Call(stored) => stored.computed_hash(),
            StoredEntry::Request(stored) => {
                chain_hash(&stored.prev_hash, &stored.intent, stored.id)
            }
        }
    }
}

/// A position in the chain: a row id and that row's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainPoint {
    /// The row id (0 before the first row).
    pub id: RecordId,
    /// The row's hash.
    pub hash: String,
}

/// What is wrong where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BreakKind {
    /// The row's id does not follow the previous one: rows were deleted or inserted.
    OutOfSequence {
        /// The id that should have come next.
        expected: RecordId,
    },
    /// The row does not link to the hash before it: rows were deleted, inserted or reordered.
    PrevHashMismatch,
    /// The row's content no longer matches its hash: the row was edited.
    HashMismatch,
    /// The row cannot be read back as a record: a column was edited to an invalid value.
    Unreadable {
        /// Why the row could not be read.
        reason: String,
    },
    /// The chain does not end at the recorded head: the newest rows were deleted or added outside the log.
    HeadMismatch {
        /// The head recorded with the last append.
        head: ChainPoint,
    },
    /// A key was given, but the chain point carries no MAC: it was written without the key.
    Unsigned {
        /// `anchor` or `head`.
        point: String,
    },
    /// The chain point's MAC does not match the key: the point was moved (the newest or oldest
    /// rows deleted), or the key is not the one the log was written with.
    BadSignature {
        /// `anchor` or `head`.
        point: String,
    },
}

/// The first place where the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    /// The first bad row, or for a head mismatch the last good one.
    pub id: RecordId,
    /// What is wrong there.
    pub kind: BreakKind,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.id;
        match &self.kind {
            BreakKind::OutOfSequence { expected } => write!(
                f,
                "row {id} follows where row {expected} was expected: rows were deleted or inserted"
            ),
            BreakKind::PrevHashMismatch => write!(
                f,
                "row {id} does not link to the row before it: rows were deleted, inserted or reordered"
            ),
            BreakKind::HashMismatch => {
                write!(f, "row {id} does not match its hash: it was edited")
            }
            BreakKind::Unreadable { reason } => write!(f, "row {id} is unreadable: {reason}"),
            BreakKind::HeadMismatch { head } => write!(
                f,
                "the chain ends at row {id} but the last append wrote row {}: rows at the end were deleted or added",
                head.id
            ),
            BreakKind::Unsigned { point } => write!(
                f,
                "the chain's {point} (row {id}) carries no MAC: it was last moved without the audit key, \
                 so deleted rows at that end would go unnoticed; write with the key to sign it"
            ),
            BreakKind::BadSignature { point } => write!(
                f,
                "the chain's {point} (row {id}) does not match its MAC: rows at that end were deleted \
                 and the {point} moved, or the audit key is not the one the log was written with"
            ),
        }
    }
}

/// The result of walking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Rows checked before the walk ended.
    pub checked: u64,
    /// Where the chain starts: genesis, or the last row removed by retention.
    pub anchor: ChainPoint,
    /// The last row the log wrote; pin its hash elsewhere to detect a rewritten log.
    pub head: ChainPoint,
    /// Whether the anchor's and head's MACs were checked against a key.
    pub signed: bool,
    /// The first break, if any.
    pub broken: Option<ChainBreak>,
}

impl VerifyReport {
    /// Whether every row from the anchor to the head is present and unaltered.
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// Checks that row `id`, read as `row`, continues the chain from `last`, and returns its point.
fn check_link<E: fmt::Display>(
    last: &ChainPoint,
    id: RecordId,
    row: Result<StoredEntry, E>,
) -> Result<ChainPoint, BreakKind> {
    let expected = last.id.next();
    if id != expected {
        return Err(BreakKind::OutOfSequence { expected });
    }
    let stored = row.map_err(|error| BreakKind::Unreadable {
        reason: error.to_string(),
    })?;
    if stored.prev_hash() != last.hash {
        return Err(BreakKind::PrevHashMismatch);
    }
    let computed = stored
        .computed_hash()
        .map_err(|error| BreakKind::Unreadable {
            reason: error.to_string(),
        })?;
    if computed != stored.hash() {
        return Err(BreakKind::HashMismatch);
    }
    Ok(ChainPoint { id, hash: computed })
}

/// Walks entries in id order from a starting point, stopping at the first break; any store
/// (SQLite here, Postgres in codemode-stores) feeds it its rows.
pub struct Walker {
    last: ChainPoint,
    checked: u64,
    broken: Option<ChainBreak>,
}

impl From<ChainPoint> for Walker {
    fn from(start: ChainPoint) -> Walker {
        Walker {
            last: start,
            checked: 0,
            broken: None,
        }
    }
}

impl Walker {
    /// Checks the next row, read as `row`; false once the chain has broken.
    pub fn step<E: fmt::Display>(&mut self, id: RecordId, row: Result<StoredEntry, E>) -> bool {
        if self.broken.is_some() {
            return false;
        }
        match check_link(&self.last, id, row) {
            Ok(point) => {
                self.last = point;
                self.checked += 1;
                true
            }
            Err(kind) => {
                self.broken = Some(ChainBreak { id, kind });
                false
            }
        }
    }

    /// The rows that continued the chain, and the last good point or the first break.
    pub fn finish(self) -> (u64, Result<ChainPoint, ChainBreak>) {
        (self.checked, self.broken.map_or(Ok(self.last), Err))
    }
}

/// The report of a walk from `anchor` that checked `checked` rows and ended at `end`: a break,
/// an end short of (or past) `head`, or with `key` a missing or wrong MAC on either point.
pub fn report(
    checked: u64,
    end: Result<ChainPoint, ChainBreak>,
    anchor: StoredPoint,
    head: StoredPoint,
    key: Option<&AuditKey>,
) -> VerifyReport {
    let broken = match end {
        Err(broken) => Some(broken),
        Ok(end) if end != head.point => Some(ChainBreak {
            id: end.id,
            kind: BreakKind::HeadMismatch {
                head: head.point.clone(),
            },
        }),
        Ok(_) => key.and_then(|key| {
            [("anchor", &anchor), ("head", &head)]
                .into_iter()
                .find_map(|(name, stored)| signature_break(key, name, stored))
        }),
    };
    VerifyReport {
        checked,
        anchor: anchor.point,
        head: head.point,
        signed: key.is_some(),
        broken,
    }
}

/// The break a point's missing or wrong MAC amounts to, if it does.
fn signature_break(key: &AuditKey, name: &'static str, stored: &StoredPoint) -> Option<ChainBreak> {
    let kind = match &stored.mac {
        None => BreakKind::Unsigned {
            point: name.to_owned(),
        },
        Some(mac) if !key.signed(name, &stored.point, mac) => BreakKind::BadSignature {
            point: name.to_owned(),
        },
        Some(_) => return None,
    };
    Some(ChainBreak {
        id: stored.point.id,
        kind,
    })
}
