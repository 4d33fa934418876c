//! The audit log end to end: appends, tampering with the file, retention, concurrency, export.

use std::path::Path;
use std::sync::Arc;
use std::thread;

use crate::common::{broken, minute, record, tamper, temp_db};
use codemode_audit::{
    AuditError, AuditLog, BreakKind, CallRecord, GENESIS_HASH, Outcome, RecordId, StoredRecord,
    Tool, chain_hash,
};
use sha2::{Digest, Sha256};

/// Opens a log at `path` holding records `0..count`.
fn log_with(path: &Path, count: u64) -> AuditLog {
    let log = AuditLog::open(path).expect("open log");
    for n in 0..count {
        log.append(&record(n)).expect("append");
    }
    log
}

#[test]
fn appended_records_verify_and_read_back() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).unwrap();
    let ids: Vec<RecordId> = (0..5).map(|n| log.append(&record(n)).unwrap()).collect();
    assert_eq!(ids, (1..=5).map(RecordId).collect::<Vec<_>>());

    let report = log.verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked, 5);
    assert_eq!(report.head.id, RecordId(5));

    let tail = log.tail(2).unwrap();
    assert_eq!(tail.len(), 2);
    assert_eq!((tail[0].id, &tail[0].record), (RecordId(4), &record(3)));
    assert_eq!((tail[1].id, &tail[1].record), (RecordId(5), &record(4)));
    assert_eq!(tail[1].prev_hash, tail[0].hash);
    assert_eq!(tail[1].hash, report.head.hash);
}

#[test]
fn reopened_log_continues_the_chain() {
    let (_dir, path) = temp_db();
    drop(log_with(&path, 3));
    let log = AuditLog::open(&path).unwrap();
    assert_eq!(log.append(&record(3)).unwrap(), RecordId(4));
    assert!(log.verify().unwrap().is_intact());
}

#[test]
fn edited_row_is_named() {
    let (_dir, path) = temp_db();
    let log = log_with(&path, 5);
    tamper(
        &path,
        "UPDATE audit_calls SET subject = 'mallory' WHERE id = 3",
    );
    assert_eq!(
        broken(log.verify().unwrap()),
        (RecordId(3), BreakKind::HashMismatch)
    );
}

#[test]
fn edited_request_list_is_named() {
    let (_dir, path) = temp_db();
    let log = log_with(&path, 5);
    tamper(&path, "UPDATE audit_calls SET requests = '[]' WHERE id = 2");
    assert_eq!(
        broken(log.verify().unwrap()),
        (RecordId(2), BreakKind::HashMismatch)
    );
}

#[test]
fn row_edited_into_nonsense_is_unreadable() {
    let (_dir, path) = temp_db();
    let log = log_with(&path, 5);
    tamper(&path, "UPDATE audit_calls SET tool = 'shell' WHERE id = 4");
    let (id, kind) = broken(log.verify().unwrap());
    assert_eq!(id, RecordId(4));
    assert!(matches!(kind, BreakKind::Unreadable { .. }), "{kind:?}");
}

#[test]
fn deleted_middle_row_is_detected() {
    let (_dir, path) = temp_db();
    let log = log_with(&path, 5);
    tamper(&path, "DELETE FROM audit_calls WHERE id = 3");
    assert_eq!(
        broken(log.verify().unwrap()),
        (
            RecordId(4),
            BreakKind::OutOfSequence {
                expected: RecordId(3)
            }
        )
    );
}

#[test]
fn deletion_hidden_by_renumbering_is_detected() {
    let (_dir, path) = temp_db();
    let log = log_with(&path, 5);
    tamper(
        &path,
        "DELETE FROM audit_calls WHERE id = 3;
         UPDATE audit_calls SET id = id - 1 WHERE id > 3;
         UPDATE audit_chain SET id = 4 WHERE point = 'head';",
    );
    assert_eq!(
        broken(log.verify().unwrap()),
        (RecordId(3), BreakKind::PrevHashMismatch)
    );
}

#[test]
fn reordered_rows_are_detected() {
    let (_dir, path) = temp_db();
    let log = log_with(&path, 5);
    tamper(
        &path,
        "UPDATE audit_calls SET id = 100 WHERE id = 2;
         UPDATE audit_calls SET id = 2 WHERE id = 3;
         UPDATE audit_calls SET id = 3 WHERE id = 100;",
    );
    assert_eq!(
        broken(log.verify().unwrap()),
        (RecordId(2), BreakKind::PrevHashMismatch)
    );
}

#[test]
fn deleted_last_row_is_detected_by_the_head() {
    let (_dir, path) = temp_db();
    let log = log_with(&path, 5);
    let head = log.verify().unwrap().head;
    tamper(&path, "DELETE FROM audit_calls WHERE id = 5");
    assert_eq!(
        broken(log.verify().unwrap()),
        (RecordId(4), BreakKind::HeadMismatch { head })
    );

    log.append(&record(5)).unwrap();
    assert!(
        !log.verify().unwrap().is_intact(),
        "appending after a truncation must not hide it"
    );
}

#[test]
fn prune_keeps_the_chain_verifiable() {
    let (_dir, path) = temp_db();
    let log = log_with(&path, 10);
    assert_eq!(log.prune(minute(5)).unwrap(), 5);

    let report = log.verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked, 5);
    assert_eq!(report.anchor.id, RecordId(5));
    assert_eq!(log.tail(100).unwrap()[0].prev_hash, report.anchor.hash);

    assert_eq!(log.append(&record(10)).unwrap(), RecordId(11));
    assert!(log.verify().unwrap().is_intact());
    assert_eq!(log.prune(minute(5)).unwrap(), 0, "nothing older is left");
}

#[test]
fn prune_stops_at_the_first_newer_record() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).unwrap();
    for n in [0, 1, 9, 2, 3] {
        log.append(&record(n)).unwrap();
    }
    assert_eq!(
        log.prune(minute(5)).unwrap(),
        2,
        "records after a newer one stay"
    );
    let kept: Vec<RecordId> = log.tail(10).unwrap().iter().map(|r| r.id).collect();
    assert_eq!(kept, [RecordId(3), RecordId(4), RecordId(5)]);
    assert!(log.verify().unwrap().is_intact());
}

#[test]
fn pruning_everything_leaves_an_empty_verifiable_chain() {
    let (_dir, path) = temp_db();
    let log = log_with(&path, 4);
    assert_eq!(log.prune(minute(1_000)).unwrap(), 4);
    let report = log.verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.checked, report.anchor.id), (0, RecordId(4)));
    assert_eq!(report.anchor, report.head);

    log.append(&record(4)).unwrap();
    assert!(log.verify().unwrap().is_intact());
}

#[test]
fn tampering_after_prune_is_detected() {
    let (_dir, path) = temp_db();
    let log = log_with(&path, 10);
    log.prune(minute(5)).unwrap();
    tamper(&path, "UPDATE audit_calls SET duration_ms = 1 WHERE id = 6");
    assert_eq!(
        broken(log.verify().unwrap()),
        (RecordId(6), BreakKind::HashMismatch)
    );
}

#[test]
fn deleting_the_first_row_after_prune_is_detected() {
    let (_dir, path) = temp_db();
    let log = log_with(&path, 10);
    log.prune(minute(5)).unwrap();
    tamper(&path, "DELETE FROM audit_calls WHERE id = 6");
    assert_eq!(
        broken(log.verify().unwrap()),
        (
            RecordId(7),
            BreakKind::OutOfSequence {
                expected: RecordId(6)
            }
        )
    );
}

#[test]
fn prune_refuses_to_destroy_evidence() {
    let (_dir, path) = temp_db();
    let log = log_with(&path, 10);
    tamper(
        &path,
        "UPDATE audit_calls SET subject = 'mallory' WHERE id = 2",
    );
    match log.prune(minute(5)) {
        Err(AuditError::ChainBroken(found)) => {
            assert_eq!(
                (found.id, found.kind),
                (RecordId(2), BreakKind::HashMismatch)
            );
        }
        other => panic!("prune should refuse, got {other:?}"),
    }
    assert_eq!(log.tail(100).unwrap().len(), 10, "nothing was deleted");
}

#[test]
fn concurrent_appends_keep_one_linear_chain() {
    let (_dir, path) = temp_db();
    let logs = [
        Arc::new(AuditLog::open(&path).unwrap()),
        Arc::new(AuditLog::open(&path).unwrap()),
    ];
    let workers: Vec<_> = (0..8u64)
        .map(|worker| {
            let log = Arc::clone(&logs[usize::try_from(worker % 2).unwrap()]);
            thread::spawn(move || {
                (0..25u64)
                    .map(|n| log.append(&record(worker * 100 + n)).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<RecordId> = workers
        .into_iter()
        .flat_map(|worker| worker.join().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, (1..=200).map(RecordId).collect::<Vec<_>>());

    let report = logs[0].verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked, 200);
}

#[test]
fn export_writes_json_lines_that_round_trip() {
    let (_dir, path) = temp_db();
    let log = log_with(&path, 6);
    let mut out = Vec::new();
    assert_eq!(log.export_since(minute(2), &mut out).unwrap(), 4);

    let text = String::from_utf8(out).unwrap();
    let exported: Vec<StoredRecord> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(exported, log.tail(4).unwrap());
    for stored in &exported {
        assert_eq!(stored.computed_hash().unwrap(), stored.hash);
    }

    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["id"], 3);
    assert_eq!(first["prev_hash"], exported[0].prev_hash.as_str());
    assert_eq!(first["time"], "2026-01-01T00:02:00.000Z");
    assert_eq!(first["requests"][1]["decision"]["kind"], "deny");
}

#[test]
fn chain_hash_covers_prev_hash_canonical_json_and_id() {
    let call = CallRecord {
        time: minute(1),
        subject: "agent".to_owned(),
        session: None,
        client: None,
        tool: Tool::Search,
        code_sha256: "c".repeat(64),
        code: None,
        code_chars: None,
        account: None,
        requests: Vec::new(),
        approvals: Vec::new(),
        outcome: Outcome::Ok,
        error_kind: None,
        duration_ms: 7,
        result_chars: 42,
    };
    let canonical = format!(
        r#"{{"time":"2026-01-01T00:01:00.000Z","subject":"agent","session":null,"client":null,"tool":"search","code_sha256":"{}","code":null,"account":null,"requests":[],"approvals":[],"outcome":"ok","error_kind":null,"duration_ms":7,"result_chars":42}}"#,
        "c".repeat(64)
    );
    let digest = Sha256::digest(format!("{GENESIS_HASH}{canonical}1"));
    let expected: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    assert_eq!(
        chain_hash(GENESIS_HASH, &call, RecordId(1)).unwrap(),
        expected
    );
}
