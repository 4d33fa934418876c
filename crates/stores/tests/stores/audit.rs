//! The audit log in Postgres: two writers appending at once make one chain that verifies, and
//! an edited row is found.

use codemode_audit::{BreakKind, CallRecord, Outcome, Timestamp, Tool};
use codemode_stores::{PgAuditLog, PgAuditWriter};

use crate::{server_url, unique};

/// A fresh database of its own, and its URL.
async fn database() -> String {
    let base = server_url("CODEMODE_TEST_POSTGRES_URL");
    let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .expect("Postgres answers");
    tokio::spawn(connection);
    let name = unique("audit");
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("a database");
    let (root, _) = base.rsplit_once('/').expect("a database in the URL");
    format!("{root}/{name}")
}

fn record(subject: &str, n: usize) -> CallRecord {
    CallRecord {
        time: Timestamp::now(),
        subject: subject.into(),
        session: None,
        client: None,
        tool: Tool::Execute,
        code_sha256: "0".repeat(64),
        code: Some(format!("async () => {n}")),
        code_chars: None,
        account: None,
        requests: Vec::new(),
        approvals: Vec::new(),
        outcome: Outcome::Ok,
        error_kind: None,
        duration_ms: 1,
        result_chars: 1,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_writers_append_one_chain_that_verifies() {
    let url = database().await;
    let (a, b) = tokio::join!(
        PgAuditWriter::start(&url, None),
        PgAuditWriter::start(&url, None)
    );
    let (a, b) = (a.expect("writer a"), b.expect("writer b"));
    let mut commits = Vec::new();
    for n in 0..60 {
        commits.push(a.append(record("replica-a", n)));
        commits.push(b.append(record("replica-b", n)));
    }
    let mut ids = Vec::new();
    for commit in commits {
        ids.push(commit.await.expect("committed").0);
    }
    ids.sort_unstable();
    assert_eq!(
        ids,
        (1..=120).collect::<Vec<i64>>(),
        "one sequence, no gaps"
    );

    let mut log = PgAuditLog::open(&url, None).await.expect("opens");
    let report = log.verify().await.expect("verifies");
    assert!(report.is_intact(), "{:?}", report.broken);
    assert_eq!((report.checked, report.head.id.0), (120, 120));

    let mut exported = Vec::new();
    let written = log
        .export_since(
            codemode_audit::Timestamp::from_unix_millis(0).expect("epoch"),
            &mut exported,
        )
        .await
        .expect("exports");
    assert_eq!(written, 120);
    let text = String::from_utf8(exported).expect("UTF-8");
    assert!(text.contains("replica-a") && text.contains("replica-b"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_row_breaks_the_chain() {
    let url = database().await;
    let writer = PgAuditWriter::start(&url, None).await.expect("writer");
    for n in 0..3 {
        writer.append(record("alice", n)).await.expect("committed");
    }
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("Postgres answers");
    tokio::spawn(connection);
    client
        .execute(
            "UPDATE codemode_audit_entries SET entry = replace(entry, 'alice', 'mallory') WHERE id = 2",
            &[],
        )
        .await
        .expect("edited");
    let report = PgAuditLog::open(&url, None)
        .await
        .expect("opens")
        .verify()
        .await
        .expect("walks");
    let broken = report.broken.expect("the edit is evident");
    assert_eq!(broken.id.0, 2);
    assert_eq!(broken.kind, BreakKind::HashMismatch);
}
