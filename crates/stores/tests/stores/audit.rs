//! The audit log in Postgres: two writers appending at once make one chain that verifies, an
//! edited row is found, `tail`, `sign` and a chunked `prune` work while writers append, a held
//! table lock fails one batch, then entries at once, until it is released, and so does a
//! Postgres that stops answering, until it answers again.

use std::time::Duration;

use codemode_audit::{
    AuditError, AuditKey, BreakKind, CallRecord, Outcome, StoreUnavailable, Timestamp, Tool,
};
use codemode_stores::{POSTGRES_TIMEOUT, PgAuditLog, PgAuditWriter, PgError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

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
    record_at(subject, n, Timestamp::now())
}

fn record_at(subject: &str, n: usize, time: Timestamp) -> CallRecord {
    CallRecord {
        time,
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

/// 2020-01-01, and a day later: old records, and the prune cut-off after them.
const OLD: i64 = 1_577_836_800_000;
const CUTOFF: i64 = OLD + 86_400_000;

fn key() -> AuditKey {
    AuditKey::parse(&"5a".repeat(32)).expect("a key")
}

async fn raw_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("Postgres answers");
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_deletes_in_chunks_while_another_writer_appends() {
    let url = database().await;
    let old = PgAuditWriter::start(&url, None).await.expect("writer");
    let at = Timestamp::from_unix_millis(OLD).expect("2020");
    let commits: Vec<_> = (0..1250)
        .map(|n| old.append(record_at("old", n, at)))
        .collect();
    for commit in commits {
        commit.await.expect("committed");
    }

    let new = PgAuditWriter::start(&url, None).await.expect("writer");
    let appending = tokio::spawn(async move {
        for n in 0..200 {
            new.append(record("new", n))
                .await
                .expect("appended during the prune");
        }
    });
    let mut log = PgAuditLog::open(&url, None).await.expect("opens");
    let cutoff = Timestamp::from_unix_millis(CUTOFF).expect("2020");
    let pruned = log.prune(cutoff).await.expect("prunes");
    let during = log.verify().await.expect("verifies while appending");
    assert!(during.is_intact(), "{:?}", during.broken);
    appending.await.expect("the writer finished");

    assert_eq!(pruned, 1250, "every old record, in chunks of 500");
    let report = log.verify().await.expect("verifies");
    assert!(report.is_intact(), "{:?}", report.broken);
    assert_eq!(
        (report.anchor.id.0, report.checked, report.head.id.0),
        (1250, 200, 1450)
    );
    assert_eq!(log.prune(cutoff).await.expect("prunes again"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn writers_append_while_the_anchor_is_locked_as_prune_locks_it() {
    let url = database().await;
    let writer = PgAuditWriter::start(&url, None).await.expect("writer");
    writer.append(record("alice", 0)).await.expect("committed");
    let mut pruner = raw_client(&url).await;
    let held = pruner.transaction().await.expect("a transaction");
    held.query_one(
        "SELECT id FROM codemode_audit_chain WHERE point = 'anchor' FOR UPDATE",
        &[],
    )
    .await
    .expect("the anchor's lock");
    let id = writer
        .append(record("alice", 1))
        .await
        .expect("an append does not wait for the anchor's lock");
    assert_eq!(id.0, 2);
    held.rollback().await.expect("released");
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_shows_the_newest_calls_oldest_first() {
    let url = database().await;
    let writer = PgAuditWriter::start(&url, None).await.expect("writer");
    for n in 0..5 {
        writer.append(record("alice", n)).await.expect("committed");
    }
    let mut log = PgAuditLog::open(&url, None).await.expect("opens");
    let tail = log.tail(3).await.expect("tails");
    let ids: Vec<i64> = tail.iter().map(|stored| stored.id.0).collect();
    assert_eq!(ids, [3, 4, 5]);
    assert_eq!(tail[2].record.code.as_deref(), Some("async () => 4"));
    assert_eq!(log.tail(50).await.expect("tails").len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_adopts_a_key_for_a_log_written_without_one() {
    let url = database().await;
    let unkeyed = PgAuditWriter::start(&url, None).await.expect("writer");
    for n in 0..3 {
        unkeyed.append(record("alice", n)).await.expect("committed");
    }
    assert!(
        matches!(
            PgAuditWriter::start(&url, Some(key())).await,
            Err(PgError::Audit(AuditError::Unsigned { point: "head" }))
        ),
        "a keyed writer refuses an unsigned head"
    );
    let signed = PgAuditLog::open(&url, Some(key()))
        .await
        .expect("opens")
        .sign()
        .await
        .expect("signs");
    assert_eq!((signed.checked, signed.head.id.0), (3, 3));

    let keyed = PgAuditWriter::start(&url, Some(key()))
        .await
        .expect("keyed writer");
    keyed.append(record("alice", 3)).await.expect("committed");
    let report = PgAuditLog::open(&url, Some(key()))
        .await
        .expect("opens")
        .verify()
        .await
        .expect("verifies");
    assert!(report.is_intact() && report.signed, "{:?}", report.broken);
    assert_eq!(report.head.id.0, 4);
    let far = Timestamp::now().saturating_add(std::time::Duration::from_secs(60));
    let unkeyed_prune = PgAuditLog::open(&url, None)
        .await
        .expect("opens")
        .prune(far)
        .await;
    assert!(
        matches!(unkeyed_prune, Err(PgError::Audit(AuditError::KeyRequired))),
        "{unkeyed_prune:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_refuses_to_delete_a_broken_chain() {
    let url = database().await;
    let writer = PgAuditWriter::start(&url, None).await.expect("writer");
    let at = Timestamp::from_unix_millis(OLD).expect("2020");
    for n in 0..3 {
        writer
            .append(record_at("alice", n, at))
            .await
            .expect("committed");
    }
    raw_client(&url)
        .await
        .execute(
            "UPDATE codemode_audit_entries SET entry = replace(entry, 'alice', 'mallory') WHERE id = 2",
            &[],
        )
        .await
        .expect("edited");
    let mut log = PgAuditLog::open(&url, None).await.expect("opens");
    let refused = log
        .prune(Timestamp::from_unix_millis(CUTOFF).expect("2020"))
        .await;
    assert!(
        matches!(&refused, Err(PgError::Audit(AuditError::ChainBroken(broken))) if broken.id.0 == 2),
        "{refused:?}"
    );
    let report = log.verify().await.expect("walks");
    assert_eq!(
        (report.anchor.id.0, report.broken.map(|b| b.id.0)),
        (0, Some(2))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_table_lock_fails_a_batch_then_entries_at_once_until_it_is_released() {
    let url = database().await;
    let writer = PgAuditWriter::start(&url, None).await.expect("writer");
    writer.append(record("alice", 0)).await.expect("committed");
    assert_eq!(writer.unavailable(), None);

    let mut holder = raw_client(&url).await;
    let held = holder.transaction().await.expect("a transaction");
    held.batch_execute("LOCK TABLE codemode_audit_entries IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("the table's lock");

    // The first batch waits out the lock wait, fails, and marks the store.
    let refused = writer.append(record("alice", 1)).await.unwrap_err();
    assert!(
        matches!(refused, StoreUnavailable::Locked { .. }),
        "{refused:?}"
    );
    let Some(StoreUnavailable::Down { cause }) = writer.unavailable() else {
        panic!("the failed batch marks the store unavailable");
    };
    assert!(
        matches!(*cause, StoreUnavailable::Locked { .. }),
        "{cause:?}"
    );
    // Later entries are refused without an attempt, naming what marked the store.
    let refused = writer.append(record("alice", 2)).await.unwrap_err();
    assert!(
        matches!(&refused, StoreUnavailable::Down { cause } if matches!(**cause, StoreUnavailable::Locked { .. })),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("nothing was written"),
        "{refused}"
    );

    held.rollback().await.expect("released");
    while writer.unavailable().is_some() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        writer
            .append(record("alice", 3))
            .await
            .expect("committed")
            .0,
        2
    );
    let mut log = PgAuditLog::open(&url, None).await.expect("opens");
    assert!(log.verify().await.expect("verifies").is_intact());
}

/// A TCP proxy in front of the test Postgres that can stop passing bytes on, holding them
/// rather than dropping them, as a server that is stopped (or a network that stalls) does:
/// connections are still accepted, and nothing is answered.
struct Stall {
    /// `url` with the proxy's address in place of Postgres's.
    url: String,
    stalled: watch::Sender<bool>,
}

impl Stall {
    async fn start(url: &str) -> Stall {
        let (head, rest) = url.rsplit_once('@').expect("a user in the URL");
        let (target, database) = rest.split_once('/').expect("a database in the URL");
        let target = target.to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let url = format!(
            "{head}@{}/{database}",
            listener.local_addr().expect("its address")
        );
        let (stalled, watching) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pass(client_read, server_write, watching.clone()));
                tokio::spawn(pass(server_read, client_write, watching.clone()));
            }
        });
        Stall { url, stalled }
    }

    fn set(&self, stalled: bool) {
        self.stalled.send_replace(stalled);
    }
}

/// Copies `from` to `to`, each chunk held while the proxy is stalled.
async fn pass(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut stalled: watch::Receiver<bool>,
) {
    let mut buffer = vec![0; 16 * 1024];
    while let Ok(read) = from.read(&mut buffer).await {
        if read == 0 || stalled.wait_for(|stalled| !stalled).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_that_stops_answering_fails_a_batch_then_entries_at_once_until_it_answers() {
    let url = database().await;
    let stall = Stall::start(&url).await;
    let writer = PgAuditWriter::start(&stall.url, None)
        .await
        .expect("writer");
    writer.append(record("alice", 0)).await.expect("committed");

    stall.set(true);
    // The batch gets no answer and fails after the writer's wait, not never; the outer bound
    // only keeps a regression from hanging the test.
    let refused = tokio::time::timeout(POSTGRES_TIMEOUT * 3, writer.append(record("alice", 1)))
        .await
        .expect("the batch fails instead of waiting for ever")
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("Postgres gave no answer within 5 s"),
        "{refused}"
    );
    // Later entries are refused without an attempt, naming what marked the store.
    let refused = tokio::time::timeout(POSTGRES_TIMEOUT, writer.append(record("alice", 2)))
        .await
        .expect("refused without waiting on Postgres")
        .unwrap_err();
    assert!(
        matches!(&refused, StoreUnavailable::Down { cause } if cause.to_string().contains("no answer")),
        "{refused:?}"
    );

    stall.set(false);
    tokio::time::timeout(POSTGRES_TIMEOUT * 6, async {
        while writer.unavailable().is_some() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the writer's probe finds Postgres answering again");
    writer.append(record("alice", 3)).await.expect("committed");
    // The stalled batch's transaction may have committed once its bytes went through, or rolled
    // back: either way the chain is whole.
    let mut log = PgAuditLog::open(&url, None).await.expect("opens");
    assert!(log.verify().await.expect("verifies").is_intact());
}
