//! The writer a server appends through when the audit log is in Postgres: one task that takes
//! whatever arrived together and appends it in one transaction (group commit), holding the
//! head row's lock so other replicas' writers wait their turn.

use codemode_audit::{
    AuditKey, CallRecord, ChainPoint, Committed, RecordId, RequestIntent, StoreUnavailable,
    chain_hash, check_signed,
};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_postgres::Client;

use crate::postgres::{self, POSTGRES_TIMEOUT, PgError};
use crate::url_text::redacted;

/// The most entries one transaction appends.
const MAX_BATCH: usize = 1024;

/// An entry the writer owns until it is committed.
enum Owned {
    Call(CallRecord),
    Intent(RequestIntent),
}

struct Job {
    entry: Owned,
    done: oneshot::Sender<Result<RecordId, StoreUnavailable>>,
}

/// Appends call records and request intents to the Postgres log from any number of tasks.
pub struct PgAuditWriter {
    jobs: mpsc::UnboundedSender<Job>,
    url: String,
    /// The connection [`PgAuditWriter::ready`] asks on, kept between asks.
    probe: Mutex<Option<Client>>,
}

impl PgAuditWriter {
    /// Connects to `url`, creates the schema if needed, checks `key` against the head's MAC,
    /// and starts the writer's task on the current runtime.
    pub async fn start(url: &str, key: Option<AuditKey>) -> Result<PgAuditWriter, PgError> {
        let mut client = postgres::connect(url).await?;
        postgres::ensure_schema(&mut client, key.as_ref()).await?;
        let head = postgres::read_point(&client, "head", false).await?;
        check_signed("head", &head, key.as_ref())?;
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(client, url.to_string(), key, queue));
        Ok(PgAuditWriter {
            jobs,
            url: url.to_string(),
            probe: Mutex::new(None),
        })
    }

    /// Whether the log answers now: reads the chain's head on a connection of its own, kept
    /// between asks and made again when lost, within [`POSTGRES_TIMEOUT`].
    pub async fn ready(&self) -> Result<(), PgError> {
        let mut probe = self.probe.lock().await;
        let client = match probe.take() {
            Some(client) if !client.is_closed() => client,
            _ => postgres::connect(&self.url).await?,
        };
        let read = tokio::time::timeout(
            POSTGRES_TIMEOUT,
            postgres::read_point(&client, "head", false),
        )
        .await
        .map_err(|_| PgError::Connect {
            url: redacted(&self.url),
            reason: format!("no answer in {} s", POSTGRES_TIMEOUT.as_secs()),
        })?;
        read?;
        *probe = Some(client);
        Ok(())
    }

    /// Queues a call's record; await the result before the call's answer goes back.
    pub fn append(&self, record: CallRecord) -> Committed {
        self.submit(Owned::Call(record))
    }

    /// Queues a request's intent; await the result before the request is sent.
    pub fn intent(&self, intent: RequestIntent) -> Committed {
        self.submit(Owned::Intent(intent))
    }

    fn submit(&self, entry: Owned) -> Committed {
        let (done, answer) = oneshot::channel();
        let _ = self.jobs.send(Job { entry, done });
        Committed::from(answer)
    }
}

/// The writer's loop: take what has arrived, append it in one transaction, answer each;
/// reconnect when the connection was lost.
async fn run(
    mut client: Client,
    url: String,
    key: Option<AuditKey>,
    mut queue: mpsc::UnboundedReceiver<Job>,
) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if client.is_closed() {
            match postgres::connect(&url).await {
                Ok(fresh) => client = fresh,
                Err(error) => {
                    fail(batch, &error.to_string());
                    continue;
                }
            }
        }
        match commit(&mut client, &batch, key.as_ref()).await {
            Ok(ids) => {
                for (job, id) in batch.into_iter().zip(ids) {
                    let answer = id.map_err(|error| StoreUnavailable::Failed(error.to_string()));
                    let _ = job.done.send(answer);
                }
            }
            Err(error) => fail(batch, &error.to_string()),
        }
    }
}

fn fail(batch: Vec<Job>, why: &str) {
    tracing::error!(error = why, "Postgres audit append failed");
    for job in batch {
        let _ = job
            .done
            .send(Err(StoreUnavailable::Failed(why.to_string())));
    }
}

/// Appends the batch after the head in one transaction and moves the head past it.
async fn commit(
    client: &mut Client,
    batch: &[Job],
    key: Option<&AuditKey>,
) -> Result<Vec<Result<RecordId, serde_json::Error>>, PgError> {
    let transaction = client.transaction().await?;
    let head = postgres::read_point(&transaction, "head", true).await?;
    check_signed("head", &head, key)?;
    let insert = transaction
        .prepare(
            "INSERT INTO codemode_audit_entries (id, kind, time, subject, entry, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await?;
    let mut last = head.point;
    let mut ids = Vec::with_capacity(batch.len());
    for job in batch {
        let id = last.id.next();
        let encoded = match &job.entry {
            Owned::Call(record) => encode("call", record, &last.hash, id),
            Owned::Intent(intent) => encode("request", intent, &last.hash, id),
        };
        let (kind, time, subject, text, hash) = match encoded {
            Ok(encoded) => encoded,
            Err(error) => {
                ids.push(Err(error));
                continue;
            }
        };
        transaction
            .execute(
                &insert,
                &[&id.0, &kind, &time, &subject, &text, &last.hash, &hash],
            )
            .await?;
        last = ChainPoint { id, hash };
        ids.push(Ok(id));
    }
    transaction
        .execute(
            "UPDATE codemode_audit_chain SET id = $2, hash = $3, mac = $4 WHERE point = $1",
            &[
                &"head",
                &last.id.0,
                &last.hash,
                &key.map(|key| key.sign("head", &last)),
            ],
        )
        .await?;
    transaction.commit().await?;
    Ok(ids)
}

/// What one row holds: kind, time, subject, canonical JSON and chain hash.
type Encoded = (&'static str, String, String, String, String);

fn encode<T: serde::Serialize + Entry>(
    kind: &'static str,
    entry: &T,
    prev_hash: &str,
    id: RecordId,
) -> Result<Encoded, serde_json::Error> {
    Ok((
        kind,
        entry.time_text(),
        entry.subject().to_string(),
        serde_json::to_string(entry)?,
        chain_hash(prev_hash, entry, id)?,
    ))
}

/// The columns both kinds of entry fill.
trait Entry {
    fn time_text(&self) -> String;
    fn subject(&self) -> &str;
}

impl Entry for CallRecord {
    fn time_text(&self) -> String {
        self.time.to_string()
    }
    fn subject(&self) -> &str {
        &self.subject
    }
}

impl Entry for RequestIntent {
    fn time_text(&self) -> String {
        self.time.to_string()
    }
    fn subject(&self) -> &str {
        &self.subject
    }
}
