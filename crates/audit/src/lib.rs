//! Tamper-evident audit log of tool calls, their upstream requests and durable approvals, in
//! one SQLite file.
//!
//! - [`AuditWriter`] is how a server writes: one thread that commits a [`RequestIntent`] before
//!   each upstream request is sent and a [`CallRecord`] before each call's answer goes back,
//!   batching whatever arrives together into one transaction and one fsync.
//! - [`AuditLog`] reads the hash chain (see [`chain_hash`]) that both kinds of entry share,
//!   verifies it, exports it as JSON Lines and prunes it behind a retention anchor.
//! - [`ApprovalStore`] keeps human approvals for upstream requests in the same file, and
//!   [`SqlitePausedStore`] the records of paused calls (a [`PausedStore`]).
//!
//! Durability: the file uses WAL journaling with `synchronous = FULL`, so every acknowledged
//! entry or approval change has been fsynced. It survives the process being killed (as WAL with
//! `NORMAL` would) and also an OS crash or power cut, which `NORMAL` would not; group commit
//! makes that one fsync per batch rather than per call.
//!
//! Limits of tamper evidence: edits, deletions, insertions and reordering of rows are evident
//! from the chain alone. Deleting the newest (or oldest) rows and moving the head (or anchor)
//! back is evident only with an [`AuditKey`], kept outside the file, whose MACs sign both
//! points. Someone holding the key, or who restores a whole earlier copy of the file, can still
//! rewrite history consistently; [`VerifyReport::head`] is the value to copy elsewhere to
//! detect that. Callers must never put a credential in an entry; neither type has a field for
//! headers or bodies.
//!
//! ```
//! use codemode_audit::{
//!     AuditLog, AuditWriter, CallRecord, Outcome, RequestDecision, RequestIntent, Timestamp,
//!     Tool, UpstreamRequest, WriterConfig,
//! };
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("audit.db");
//! let writer = AuditWriter::start(&path, WriterConfig::default())?;
//! let intent = writer
//!     .intent(RequestIntent {
//!         time: Timestamp::now(),
//!         subject: "alice".into(),
//!         session: None,
//!         code_sha256: "0".repeat(64),
//!         method: "GET".into(),
//!         template: Some("/zones".into()),
//!         path: "/zones".into(),
//!         body_sha256: None,
//!         upstream: Some("cloudflare".into()),
//!     })
//!     .wait()?;
//! let id = writer.append(CallRecord {
//!     time: Timestamp::now(),
//!     subject: "alice".into(),
//!     session: None,
//!     client: None,
//!     tool: Tool::Execute,
//!     code_sha256: "0".repeat(64),
//!     code: None,
//!     code_chars: None,
//!     account: None,
//!     requests: vec![UpstreamRequest {
//!         method: "GET".into(),
//!         template: Some("/zones".into()),
//!         path: "/zones".into(),
//!         status: Some(200),
//!         duration_ms: 80,
//!         attempts: Some(1),
//!         decision: RequestDecision::Allow,
//!         intent: Some(intent),
//!         no_answer: None,
//!         upstream: Some("cloudflare".into()),
//!     }],
//!     approvals: Vec::new(),
//!     outcome: Outcome::Ok,
//!     error_kind: None,
//!     duration_ms: 95,
//!     result_chars: 120,
//! })
//! .wait()?;
//! let report = AuditLog::open(&path)?.verify()?;
//! assert!(report.is_intact());
//! assert_eq!(report.head.id, id);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod append;
mod approvals;
mod chain;
mod columns;
mod db;
mod health;
mod log;
mod mac;
mod paused;
mod record;
mod time;
mod writer;

pub use append::{StoredPoint, check_signed};
pub use approvals::{
    Approval, ApprovalError, ApprovalItem, ApprovalStatus, ApprovalStore, Decision, NewApproval,
    PendingRequest, new_id as new_approval_id,
};
pub use chain::{
    BreakKind, ChainBreak, ChainPoint, GENESIS_HASH, VerifyReport, Walker, chain_hash, report,
};
pub use db::DatabaseError;
pub use health::{PROBE_EVERY, StoreHealth};
pub use log::{AuditError, AuditLog};
pub use mac::{AuditKey, InvalidKey};
pub use paused::{PausedStore, PausedStoreError, SqlitePausedStore};
pub use record::{
    ApprovalDecision, CallRecord, NoAnswer, Outcome, RecordId, RequestDecision, RequestIntent,
    StoredEntry, StoredIntent, StoredRecord, Tool, UpstreamRequest,
};
pub use time::{InvalidTimestamp, Timestamp};
pub use writer::{AuditWriter, Committed, DEFAULT_LOCK_WAIT, StoreUnavailable, WriterConfig};

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
