//! What a record holds: requests with their attempts, and records written before attempts were kept.

use codemode_audit::{AuditLog, RequestDecision, UpstreamRequest};
use rusqlite::Connection;

use crate::common::{record, temp_db};

/// A request as records held it before attempts were kept.
fn request_without_attempts() -> UpstreamRequest {
    UpstreamRequest {
        method: "GET".to_owned(),
        template: None,
        path: "/zones".to_owned(),
        status: Some(200),
        duration_ms: 3,
        attempts: None,
        decision: RequestDecision::Allow,
        intent: None,
        no_answer: None,
        upstream: None,
    }
}

#[test]
fn attempts_are_stored_and_read_back() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).expect("open log");
    log.append(&record(2)).expect("append");
    let stored = log.tail(1).expect("tail");
    let attempts: Vec<Option<u32>> = stored[0]
        .record
        .requests
        .iter()
        .map(|r| r.attempts)
        .collect();
    assert_eq!(attempts, [Some(2), Some(0), Some(1)]);
    let json = serde_json::to_value(&stored[0].record.requests[0]).expect("json");
    assert_eq!(json["attempts"], 2);
}

#[test]
fn a_request_without_attempts_keeps_the_json_it_was_hashed_with() {
    let json = serde_json::to_string(&request_without_attempts()).expect("json");
    assert_eq!(
        json,
        r#"{"method":"GET","template":null,"path":"/zones","status":200,"duration_ms":3,"decision":{"kind":"allow"}}"#
    );
    let read: UpstreamRequest = serde_json::from_str(&json).expect("old JSON reads");
    assert_eq!(read, request_without_attempts());
}

#[test]
fn old_records_without_attempts_still_verify() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).expect("open log");
    let mut old = record(1);
    old.requests = vec![request_without_attempts()];
    log.append(&old).expect("append");
    log.append(&record(2)).expect("append");
    let stored_json: String = Connection::open(&path)
        .expect("raw open")
        .query_row("SELECT requests FROM audit_calls WHERE id = 1", [], |row| {
            row.get(0)
        })
        .expect("row 1");
    assert!(!stored_json.contains("attempts"), "{stored_json}");
    assert!(log.verify().expect("verify").is_intact());
    assert_eq!(
        log.tail(2).expect("tail")[0].record.requests[0].attempts,
        None
    );
}
