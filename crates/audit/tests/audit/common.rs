//! Shared fixtures: a temporary database path and realistic call records.

use std::path::{Path, PathBuf};

use codemode_audit::{
    ApprovalDecision, ApprovalStatus, BreakKind, CallRecord, Outcome, RecordId, RequestDecision,
    Timestamp, Tool, UpstreamRequest, VerifyReport,
};
use rusqlite::Connection;
use tempfile::TempDir;

/// Runs raw SQL against the file, as an attacker with write access (but no key) would.
pub fn tamper(path: &Path, sql: &str) {
    Connection::open(path)
        .expect("open raw connection")
        .execute_batch(sql)
        .expect("tamper");
}

/// The first break of a report that must be broken.
pub fn broken(report: VerifyReport) -> (RecordId, BreakKind) {
    let found = report.broken.expect("chain should be broken");
    (found.id, found.kind)
}

/// A fresh directory (deleted on drop) and a database path inside it.
pub fn temp_db() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("create temp dir");
    let path = dir.path().join("audit.db");
    (dir, path)
}

/// The time of record `n`: `n` minutes after 2026-01-01T00:00:00Z.
pub fn minute(n: u64) -> Timestamp {
    let offset = i64::try_from(n * 60_000).expect("small n");
    Timestamp::from_unix_millis(1_767_225_600_000 + offset).expect("in range")
}

/// A record that exercises every field; `n` varies its content and time.
pub fn record(n: u64) -> CallRecord {
    let failed = n.is_multiple_of(5);
    CallRecord {
        time: minute(n),
        subject: "agent@example.com".to_owned(),
        session: Some(format!("session-{}", n % 3)),
        client: Some("test-client".to_owned()),
        tool: if n.is_multiple_of(2) {
            Tool::Execute
        } else {
            Tool::Search
        },
        code_sha256: format!("{n:064x}"),
        code: (!n.is_multiple_of(4)).then(|| format!("async () => {n}")),
        code_chars: None,
        account: Some("account-1".to_owned()),
        requests: vec![
            UpstreamRequest {
                method: "GET".to_owned(),
                template: Some("/zones/{zone_id}".to_owned()),
                path: format!("/zones/{n}"),
                status: Some(200),
                duration_ms: 12,
                attempts: Some(2),
                decision: RequestDecision::Allow,
                intent: None,
                no_answer: None,
                upstream: None,
            },
            UpstreamRequest {
                method: "DELETE".to_owned(),
                template: None,
                path: "/zones/9".to_owned(),
                status: None,
                duration_ms: 0,
                attempts: Some(0),
                decision: RequestDecision::Deny {
                    rule: "no-deletes".to_owned(),
                },
                intent: None,
                no_answer: None,
                upstream: None,
            },
            UpstreamRequest {
                method: "POST".to_owned(),
                template: Some("/zones".to_owned()),
                path: "/zones".to_owned(),
                status: Some(201),
                duration_ms: 30,
                attempts: Some(1),
                decision: RequestDecision::Approved {
                    by: "alice".to_owned(),
                    via: "cli".to_owned(),
                },
                intent: None,
                no_answer: None,
                upstream: None,
            },
        ],
        approvals: vec![ApprovalDecision {
            approval_id: "ab".repeat(16),
            status: ApprovalStatus::Approved,
            by: Some("alice".to_owned()),
            via: Some("cli".to_owned()),
        }],
        outcome: if failed { Outcome::Error } else { Outcome::Ok },
        error_kind: failed.then(|| "upstream_error".to_owned()),
        duration_ms: 40 + n,
        result_chars: 100 * n,
    }
}
