//! A writer killed with SIGKILL mid-stream loses no record whose append returned, with group
//! commit batching the appends of several threads.
//!
//! The parent test runs this test binary again as the child: only the ignored test
//! `durability::append_until_killed`, with `CODEMODE_AUDIT_CHILD_DB` naming the database.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

use codemode_audit::{AuditLog, AuditWriter, RecordId, WriterConfig};

use crate::common;

const CHILD_DB: &str = "CODEMODE_AUDIT_CHILD_DB";
const ROUNDS: usize = 3;
const ACKS_BEFORE_KILL: usize = 150;

/// Threads appending at once in the child, so that batches hold several records.
const CHILD_THREADS: u64 = 4;

/// Child: appends forever from several threads through one writer, printing each acknowledged
/// id and flushing before that thread's next append.
#[test]
#[ignore = "the child of `acknowledged_appends_survive_sigkill`, which runs it"]
fn append_until_killed() {
    let path = std::env::var_os(CHILD_DB)
        .unwrap_or_else(|| panic!("{CHILD_DB} names the database the child appends to"));
    let writer =
        AuditWriter::start(Path::new(&path), WriterConfig::default()).expect("child opens the log");
    std::thread::scope(|scope| {
        for thread in 0..CHILD_THREADS {
            let writer = &writer;
            scope.spawn(move || {
                for n in 0.. {
                    let record = common::record(n * CHILD_THREADS + thread);
                    let id = writer.append(record).wait().expect("child appends");
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "appended {id}").expect("child reports");
                    out.flush().expect("child flushes");
                }
            });
        }
    });
}

/// Parent: kills a writer several times, then checks every acknowledged id is in an intact chain.
#[test]
fn acknowledged_appends_survive_sigkill() {
    let (_dir, path) = common::temp_db();
    let mut acknowledged = BTreeSet::new();
    for round in 0..ROUNDS {
        let before = acknowledged.len();
        acknowledged.extend(kill_a_writer(&path));
        assert!(
            acknowledged.len() >= before + ACKS_BEFORE_KILL,
            "round {round}: ids must be new"
        );
    }

    let log = AuditLog::open(&path).expect("reopen after kills");
    let report = log.verify().expect("verify");
    assert!(report.is_intact(), "chain broken after SIGKILL: {report:?}");
    let last = *acknowledged.last().expect("some appends");
    assert!(
        report.head.id >= last,
        "acknowledged {last} but the log ends at {}",
        report.head.id
    );
    assert_eq!(report.checked, u64::try_from(report.head.id.0).unwrap());
}

/// Starts a child writer, SIGKILLs it after enough acknowledgements, returns every id it acknowledged.
fn kill_a_writer(path: &Path) -> Vec<RecordId> {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args([
            "durability::append_until_killed",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_DB, path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut ids = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read child output");
        // The test harness's own lines ("running 1 test", ...) come before the appends.
        let Some(id) = line.strip_prefix("appended ") else {
            continue;
        };
        let id = id
            .parse()
            .unwrap_or_else(|_| panic!("unexpected child output {line:?}"));
        ids.push(RecordId(id));
        if ids.len() == ACKS_BEFORE_KILL {
            child.kill().expect("SIGKILL child");
        }
    }
    let status = child.wait().expect("reap child");
    assert_eq!(
        status.signal(),
        Some(9),
        "child must die by SIGKILL: {status}"
    );
    ids
}
