//! The audit key: with it, deleting the newest (or oldest) rows and moving the head (or
//! anchor) to match is evident; without it, it is not, as the crate documents.

use std::path::Path;

use crate::common::{broken, minute, record, tamper, temp_db};
use codemode_audit::{
    AuditError, AuditKey, AuditLog, AuditWriter, BreakKind, RecordId, VerifyReport, WriterConfig,
};

fn key(byte: &str) -> AuditKey {
    AuditKey::parse(&byte.repeat(32)).expect("valid key")
}

/// A log at `path` holding records `0..count`, its chain signed with `key`.
fn signed_log(path: &Path, count: u64, key: &AuditKey) {
    let writer = AuditWriter::start(
        path,
        WriterConfig {
            key: Some(key.clone()),
            ..WriterConfig::default()
        },
    )
    .expect("start writer");
    for n in 0..count {
        writer.append(record(n)).wait().expect("append");
    }
}

fn verify(path: &Path, key: Option<AuditKey>) -> VerifyReport {
    AuditLog::open_keyed(path, key)
        .expect("open log")
        .verify()
        .expect("verify")
}

/// Deletes rows after `keep` and moves the head back to row `keep`, leaving its MAC alone.
fn truncate_to(path: &Path, keep: i64) {
    tamper(
        path,
        &format!(
            "DELETE FROM audit_calls WHERE id > {keep};
             UPDATE audit_chain SET id = {keep},
                 hash = (SELECT hash FROM audit_calls WHERE id = {keep})
             WHERE point = 'head';"
        ),
    );
}

#[test]
fn a_signed_log_verifies_with_its_key() {
    let (_dir, path) = temp_db();
    let key = key("11");
    signed_log(&path, 5, &key);
    let report = verify(&path, Some(key));
    assert!(report.is_intact(), "{report:?}");
    assert!(report.signed);
    assert_eq!(report.checked, 5);
}

#[test]
fn deleting_the_newest_rows_and_moving_the_head_is_caught_only_with_the_key() {
    let (_dir, path) = temp_db();
    let key = key("11");
    signed_log(&path, 5, &key);
    truncate_to(&path, 3);

    let unkeyed = verify(&path, None);
    assert!(
        unkeyed.is_intact() && !unkeyed.signed,
        "without the key a truncation that moves the head is not evident: {unkeyed:?}"
    );
    assert_eq!(
        broken(verify(&path, Some(key))),
        (
            RecordId(3),
            BreakKind::BadSignature {
                point: "head".to_owned()
            }
        )
    );
}

#[test]
fn deleting_the_oldest_rows_and_moving_the_anchor_is_caught_with_the_key() {
    let (_dir, path) = temp_db();
    let key = key("11");
    signed_log(&path, 5, &key);
    tamper(
        &path,
        "DELETE FROM audit_calls WHERE id <= 2;
         UPDATE audit_chain SET id = 2, hash = (SELECT prev_hash FROM audit_calls WHERE id = 3)
         WHERE point = 'anchor';",
    );
    assert_eq!(
        broken(verify(&path, Some(key))),
        (
            RecordId(2),
            BreakKind::BadSignature {
                point: "anchor".to_owned()
            }
        )
    );
}

#[test]
fn a_removed_mac_or_a_wrong_key_is_named() {
    let (_dir, path) = temp_db();
    signed_log(&path, 3, &key("11"));
    assert_eq!(
        broken(verify(&path, Some(key("22")))),
        (
            RecordId(0),
            BreakKind::BadSignature {
                point: "anchor".to_owned()
            }
        )
    );
    tamper(
        &path,
        "UPDATE audit_chain SET mac = NULL WHERE point = 'head'",
    );
    assert_eq!(
        broken(verify(&path, Some(key("11")))),
        (
            RecordId(3),
            BreakKind::Unsigned {
                point: "head".to_owned()
            }
        )
    );
}

#[test]
fn writing_a_signed_log_needs_its_key() {
    let (_dir, path) = temp_db();
    signed_log(&path, 2, &key("11"));
    let started = |key| {
        AuditWriter::start(
            &path,
            WriterConfig {
                key,
                ..WriterConfig::default()
            },
        )
        .map(drop)
    };
    assert!(matches!(started(None), Err(AuditError::KeyRequired)));
    assert!(matches!(
        started(Some(key("22"))),
        Err(AuditError::BadSignature { point: "head" })
    ));
    let unkeyed = AuditLog::open(&path).unwrap();
    assert!(matches!(
        unkeyed.append(&record(2)),
        Err(AuditError::KeyRequired)
    ));
    assert!(matches!(
        unkeyed.prune(minute(1)),
        Err(AuditError::KeyRequired)
    ));
}

#[test]
fn pruning_with_the_key_keeps_the_anchor_signed() {
    let (_dir, path) = temp_db();
    let key = key("11");
    signed_log(&path, 10, &key);
    let log = AuditLog::open_keyed(&path, Some(key.clone())).unwrap();
    assert_eq!(log.prune(minute(4)).unwrap(), 4);
    let report = verify(&path, Some(key));
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.anchor.id, RecordId(4));
}

#[test]
fn an_unsigned_log_takes_a_key_only_once_signed() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).unwrap();
    log.append(&record(0)).unwrap();
    let key = key("11");
    assert_eq!(
        broken(verify(&path, Some(key.clone()))),
        (
            RecordId(0),
            BreakKind::Unsigned {
                point: "anchor".to_owned()
            }
        )
    );
    let keyed = WriterConfig {
        key: Some(key.clone()),
        ..WriterConfig::default()
    };
    assert!(matches!(
        AuditWriter::start(&path, keyed).map(drop),
        Err(AuditError::Unsigned { point: "head" })
    ));

    let signed = AuditLog::open_keyed(&path, Some(key.clone())).unwrap();
    assert_eq!(signed.sign().unwrap().head.id, RecordId(1));
    signed_log(&path, 1, &key);
    let report = verify(&path, Some(key));
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked, 2);
}

#[test]
fn signing_refuses_a_broken_chain() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path).unwrap();
    for n in 0..3 {
        log.append(&record(n)).unwrap();
    }
    truncate_to(&path, 2);
    tamper(
        &path,
        "UPDATE audit_calls SET subject = 'mallory' WHERE id = 1",
    );
    let signed = AuditLog::open_keyed(&path, Some(key("11"))).unwrap();
    assert!(matches!(signed.sign(), Err(AuditError::ChainBroken(_))));
}
