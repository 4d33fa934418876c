//! The group-commit writer: entries arriving together share one transaction, a held write
//! lock fails a batch, then every entry at once without an attempt, until the writer's probe
//! finds the database free again, and intents share the calls' chain.

use std::path::Path;
use std::time::Duration;

use codemode_audit::{
    AuditLog, AuditWriter, BreakKind, Committed, RecordId, RequestIntent, StoreUnavailable,
    StoredEntry, WriterConfig,
};
use rusqlite::Connection;

use crate::common::{minute, record, temp_db};

/// Transactions committed to the WAL file since it was last reset: SQLite marks the last frame
/// of each commit with the database size, and other frames with 0.
fn wal_commits(db: &Path) -> usize {
    let wal = std::fs::read(format!("{}-wal", db.display())).expect("read the WAL file");
    let page_size = u32::from_be_bytes(wal[8..12].try_into().unwrap()) as usize;
    let salts = &wal[16..24];
    wal[32..]
        .chunks_exact(24 + page_size)
        .filter(|frame| &frame[8..16] == salts && frame[4..8] != [0; 4])
        .count()
}

/// A connection in a read transaction, which keeps SQLite from resetting the WAL file (and so
/// keeps [`wal_commits`] counting) until it is dropped.
fn pin_wal(path: &Path) -> Connection {
    let reader = Connection::open(path).expect("open reader");
    reader
        .execute_batch("BEGIN; SELECT count(*) FROM audit_chain;")
        .expect("start reading");
    reader
}

/// A writer that waits `lock_wait` for another connection's write lock.
fn writer(path: &Path, lock_wait: Duration) -> AuditWriter {
    AuditWriter::start(
        path,
        WriterConfig {
            key: None,
            lock_wait,
        },
    )
    .expect("start writer")
}

/// A connection holding the write lock until it rolls back.
fn hold_write_lock(path: &Path) -> Connection {
    let holder = Connection::open(path).expect("open holder");
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the lock");
    holder
}

fn intent(n: u64) -> RequestIntent {
    RequestIntent {
        time: minute(n),
        subject: "agent@example.com".to_owned(),
        session: Some("session-1".to_owned()),
        code_sha256: format!("{n:064x}"),
        method: "POST".to_owned(),
        template: Some("/zones".to_owned()),
        path: format!("/zones/{n}"),
        body_sha256: Some("b".repeat(64)),
        upstream: None,
    }
}

#[test]
fn appends_that_arrive_together_share_one_commit() {
    let (_dir, path) = temp_db();
    let writer = writer(&path, Duration::from_secs(600));
    let _pin = pin_wal(&path);
    let before = wal_commits(&path);

    // While another connection holds the lock, every append queues behind the first batch.
    let holder = hold_write_lock(&path);
    let pending: Vec<Committed> = (0..64).map(|n| writer.append(record(n))).collect();
    holder.execute_batch("ROLLBACK").expect("release the lock");
    let mut ids: Vec<RecordId> = pending.into_iter().map(|c| c.wait().unwrap()).collect();
    let together = wal_commits(&path) - before;
    assert!(together <= 2, "64 appends took {together} commits");
    ids.sort();
    assert_eq!(ids, (1..=64).map(RecordId).collect::<Vec<_>>());

    for n in 64..74 {
        writer.append(record(n)).wait().unwrap();
    }
    assert_eq!(
        wal_commits(&path) - before - together,
        10,
        "appends awaited one by one commit one by one"
    );
    let report = AuditLog::open(&path).unwrap().verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked, 74);
}

#[test]
fn a_held_write_lock_fails_writes_as_locked_until_it_is_released() {
    let (_dir, path) = temp_db();
    let writer = writer(&path, Duration::from_millis(50));
    let holder = hold_write_lock(&path);
    let refused = writer.append(record(0)).wait().unwrap_err();
    assert!(
        matches!(refused, StoreUnavailable::Locked { .. }),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("locked by another connection"),
        "{refused}"
    );

    // The store is now known to be locked: the next entries are refused without an attempt,
    // naming the failure that marked it.
    let Some(StoreUnavailable::Down { cause }) = writer.unavailable() else {
        panic!("the failed batch marks the store unavailable");
    };
    assert!(
        matches!(*cause, StoreUnavailable::Locked { .. }),
        "{cause:?}"
    );
    let refused = writer.intent(intent(0)).wait().unwrap_err();
    assert!(
        matches!(&refused, StoreUnavailable::Down { cause } if matches!(**cause, StoreUnavailable::Locked { .. })),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("nothing was written"),
        "{refused}"
    );
    assert!(matches!(
        writer.append(record(0)).wait(),
        Err(StoreUnavailable::Down { .. })
    ));

    holder.execute_batch("ROLLBACK").expect("release the lock");
    while writer.unavailable().is_some() {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(writer.append(record(1)).wait().unwrap(), RecordId(1));
    assert!(AuditLog::open(&path).unwrap().verify().unwrap().is_intact());
}

#[test]
fn intents_and_calls_share_one_chain_and_export_in_order() {
    let (_dir, path) = temp_db();
    let writer = writer(&path, Duration::from_secs(10));
    assert_eq!(writer.intent(intent(0)).wait().unwrap(), RecordId(1));
    assert_eq!(writer.intent(intent(1)).wait().unwrap(), RecordId(2));
    assert_eq!(writer.append(record(2)).wait().unwrap(), RecordId(3));
    assert_eq!(writer.intent(intent(3)).wait().unwrap(), RecordId(4));

    let log = AuditLog::open(&path).unwrap();
    let report = log.verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked, 4);

    let mut out = Vec::new();
    assert_eq!(log.export_since(minute(0), &mut out).unwrap(), 4);
    let lines: Vec<StoredEntry> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let kinds: Vec<(&str, RecordId)> = lines
        .iter()
        .map(|entry| match entry {
            StoredEntry::Call(stored) => ("call", stored.id),
            StoredEntry::Request(stored) => ("request", stored.id),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("request", RecordId(1)),
            ("request", RecordId(2)),
            ("call", RecordId(3)),
            ("request", RecordId(4)),
        ]
    );
    for entry in &lines {
        assert_eq!(entry.computed_hash().unwrap(), entry.hash());
    }
    let StoredEntry::Request(first) = &lines[0] else {
        panic!("the first entry is an intent");
    };
    assert_eq!(first.intent, intent(0));
}

#[test]
fn an_edited_or_deleted_intent_breaks_the_chain() {
    let (_dir, path) = temp_db();
    let writer = writer(&path, Duration::from_secs(10));
    for n in 0..3 {
        writer.intent(intent(n)).wait().unwrap();
        writer.append(record(n)).wait().unwrap();
    }
    let raw = Connection::open(&path).unwrap();
    raw.execute_batch("UPDATE audit_requests SET path = '/zones/other' WHERE id = 3")
        .unwrap();
    let broken = AuditLog::open(&path).unwrap().verify().unwrap().broken;
    assert_eq!(
        broken.map(|b| (b.id, b.kind)),
        Some((RecordId(3), BreakKind::HashMismatch))
    );
    raw.execute_batch("DELETE FROM audit_requests WHERE id = 3")
        .unwrap();
    let broken = AuditLog::open(&path).unwrap().verify().unwrap().broken;
    assert_eq!(
        broken.map(|b| (b.id, b.kind)),
        Some((
            RecordId(4),
            BreakKind::OutOfSequence {
                expected: RecordId(3)
            }
        ))
    );
}

#[test]
fn prune_deletes_in_small_transactions_while_the_writer_keeps_writing() {
    let (_dir, path) = temp_db();
    let writer = writer(&path, Duration::from_secs(10));
    let pending: Vec<Committed> = (0..1_200)
        .map(|n| {
            if n % 2 == 0 {
                writer.intent(intent(n))
            } else {
                writer.append(record(n))
            }
        })
        .collect();
    for committed in pending {
        committed.wait().unwrap();
    }
    let log = AuditLog::open(&path).unwrap();
    let pin = pin_wal(&path);
    let before = wal_commits(&path);
    assert_eq!(log.prune(minute(1_100)).unwrap(), 1_100);
    let commits = wal_commits(&path) - before;
    drop(pin);
    assert!(commits >= 3, "1,100 rows deleted in {commits} transactions");

    writer.append(record(1_200)).wait().unwrap();
    let report = log.verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.anchor.id, report.checked), (RecordId(1_100), 101));
}

#[test]
fn a_version_2_log_gains_the_upstream_column_and_old_and_new_entries_verify() {
    let (_dir, path) = temp_db();
    {
        let writer = writer(&path, Duration::from_secs(10));
        writer.intent(intent(0)).wait().unwrap();
        writer.append(record(1)).wait().unwrap();
    }
    // As a version-2 file left it: no upstream column.
    Connection::open(&path)
        .unwrap()
        .execute_batch("ALTER TABLE audit_requests DROP COLUMN upstream; PRAGMA user_version = 2;")
        .unwrap();
    let writer = writer(&path, Duration::from_secs(10));
    let mut tagged = intent(2);
    tagged.upstream = Some("github".to_owned());
    writer.intent(tagged).wait().unwrap();
    let mut call = record(3);
    for request in &mut call.requests {
        request.upstream = Some("github".to_owned());
    }
    writer.append(call).wait().unwrap();
    let log = AuditLog::open(&path).unwrap();
    let report = log.verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked, 4);
    let mut exported = Vec::new();
    log.export_since(minute(0), &mut exported).unwrap();
    let lines: Vec<StoredEntry> = String::from_utf8(exported)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let upstreams: Vec<Option<String>> = lines
        .iter()
        .map(|entry| match entry {
            StoredEntry::Request(stored) => stored.intent.upstream.clone(),
            StoredEntry::Call(stored) => stored.record.requests[0].upstream.clone(),
        })
        .collect();
    let github = Some("github".to_owned());
    assert_eq!(upstreams, [None, None, github.clone(), github]);
}
