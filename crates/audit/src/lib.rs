//! Tamper-evident audit log of tool calls and durable approvals, in one SQLite file.
//!
//! - [`AuditLog`] appends one [`CallRecord`] per tool call to a hash chain (see [`chain_hash`]),
//!   verifies it, exports it as JSON Lines and prunes it behind a retention anchor.
//! - [`ApprovalStore`] keeps human approvals for upstream requests in the same file.
//!
//! Durability: the file uses WAL journaling with `synchronous = FULL`, so every acknowledged
//! append or approval change has been fsynced. It survives the process being killed (as WAL with
//! `NORMAL` would) and also an OS crash or power cut, which `NORMAL` would not; for one row per
//! tool call, the fsync is a small price for an audit trail.
//!
//! Limits of tamper evidence: someone who can write the file can rewrite the whole chain and its
//! head consistently. [`VerifyReport::head`] is the value to copy elsewhere to detect that.
//! Callers must never put a credential in a record; [`CallRecord`] has no field for headers.
//!
//! ```
//! use codemode_audit::{AuditLog, CallRecord, Outcome, RequestDecision, Timestamp, Tool, UpstreamRequest};
//!
//! let dir = tempfile::tempdir()?;
//! let log = AuditLog::open(dir.path().join("audit.db"))?;
//! let id = log.append(&CallRecord {
//!     time: Timestamp::now(),
//!     subject: "alice".into(),
//!     session: None,
//!     client: None,
//!     tool: Tool::Execute,
//!     code_sha256: "0".repeat(64),
//!     code: None,
//!     account: None,
//!     requests: vec![UpstreamRequest {
//!         method: "GET".into(),
//!         template: Some("/zones".into()),
//!         path: "/zones".into(),
//!         status: Some(200),
//!         duration_ms: 80,
//!         attempts: Some(1),
//!         decision: RequestDecision::Allow,
//!     }],
//!     approvals: Vec::new(),
//!     outcome: Outcome::Ok,
//!     error_kind: None,
//!     duration_ms: 95,
//!     result_chars: 120,
//! })?;
//! let report = log.verify()?;
//! assert!(report.is_intact());
//! assert_eq!(report.head.id, id);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod approvals;
mod chain;
mod columns;
mod db;
mod log;
mod record;
mod time;

pub use approvals::{
    Approval, ApprovalError, ApprovalItem, ApprovalStatus, ApprovalStore, Decision, NewApproval,
    PendingRequest,
};
pub use chain::{BreakKind, ChainBreak, ChainPoint, GENESIS_HASH, VerifyReport, chain_hash};
pub use db::DatabaseError;
pub use log::{AuditError, AuditLog};
pub use record::{
    ApprovalDecision, CallRecord, Outcome, RecordId, RequestDecision, StoredRecord, Tool,
    UpstreamRequest,
};
pub use time::{InvalidTimestamp, Timestamp};

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
