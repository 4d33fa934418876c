//! The writer a server appends through when the audit log is in Postgres: one task that takes
//! whatever arrived together and appends it in one transaction (group commit), holding the
//! head row's lock so other replicas' writers wait their turn. A batch that cannot commit (the
//! server is unreachable, or another session holds a lock longer than [`LOCK_WAIT`]) marks the
//! store unavailable by the rule [`StoreHealth`] keeps, as the SQLite writer does: entries are
//! then refused at once while the task probes Postgres and clears the mark when it answers. A
//! batch or probe Postgres gives no answer to within [`POSTGRES_TIMEOUT`] fails the same way,
//! and its connection is given up for a new one.

use std::time::{Duration, Instant};

use codemode_audit::{
    AuditKey, CallRecord, ChainPoint, Committed, DEFAULT_LOCK_WAIT, PROBE_EVERY, RecordId,
    RequestIntent, StoreHealth, StoreUnavailable, chain_hash, check_signed,
};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::postgres::{self, POSTGRES_TIMEOUT, PgError};
use crate::url_text::redacted;

/// The most entries one transaction appends.
const MAX_BATCH: usize = 1024;

/// How long a statement of the writer waits for another session's lock before the batch fails
/// as [`StoreUnavailable::Locked`]: the SQLite writer's wait.
pub const LOCK_WAIT: Duration = DEFAULT_LOCK_WAIT;

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
    health: StoreHealth,
}

impl PgAuditWriter {
    /// Connects to `url`, creates the schema if needed, checks `key` against the head's MAC,
    /// and starts the writer's task on the current runtime.
    pub async fn start(url: &str, key: Option<AuditKey>) -> Result<PgAuditWriter, PgError> {
        let mut client = connect(url).await?;
        postgres::ensure_schema(&mut client, key.as_ref()).await?;
        let head = postgres::read_point(&client, "head", false).await?;
        check_signed("head", &head, key.as_ref())?;
        let (jobs, queue) = mpsc::unbounded_channel();
        let health = StoreHealth::default();
        let writer = Writer {
            client: Some(client),
            url: url.to_string(),
            key,
            health: health.clone(),
        };
        tokio::spawn(writer.run(queue));
        Ok(PgAuditWriter {
            jobs,
            url: url.to_string(),
            probe: Mutex::new(None),
            health,
        })
    }

    /// Why the store is known to be unavailable now (the writer's last batch or probe failed),
    /// as the [`StoreUnavailable::Down`] every entry gets at once until a probe succeeds.
    pub fn unavailable(&self) -> Option<StoreUnavailable> {
        self.health.unavailable()
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
        if let Some(down) = self.unavailable() {
            return Committed::refused(down);
        }
        let (done, answer) = oneshot::channel();
        let _ = self.jobs.send(Job { entry, done });
        Committed::from(answer)
    }
}

/// The writer's task: its connection, made again when lost or given up, and the store's mark.
struct Writer {
    client: Option<Client>,
    url: String,
    key: Option<AuditKey>,
    health: StoreHealth,
}

impl Writer {
    /// Takes what has arrived, appends it in one transaction, answers each; while the store is
    /// known to be unavailable, probes it whenever nothing arrives for [`PROBE_EVERY`].
    async fn run(mut self, mut queue: mpsc::UnboundedReceiver<Job>) {
        loop {
            let first = if self.health.is_down() {
                match tokio::time::timeout(PROBE_EVERY, queue.recv()).await {
                    Ok(Some(job)) => job,
                    Ok(None) => return,
                    Err(_) => {
                        let probed = self.probe().await;
                        self.health.record(probed);
                        continue;
                    }
                }
            } else {
                match queue.recv().await {
                    Some(job) => job,
                    None => return,
                }
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let started = Instant::now();
            let committed = answered(async {
                let client = live(&mut self.client, &self.url).await?;
                commit(client, &batch, self.key.as_ref()).await
            })
            .await;
            if matches!(committed, Err(PgError::NoAnswer { .. })) {
                self.client = None;
            }
            match committed {
                Ok(ids) => {
                    self.health.record(Ok(()));
                    for (job, id) in batch.into_iter().zip(ids) {
                        let answer =
                            id.map_err(|error| StoreUnavailable::Failed(error.to_string()));
                        let _ = job.done.send(answer);
                    }
                }
                Err(error) => {
                    let unavailable = unavailable(&error, started.elapsed());
                    tracing::error!(error = %unavailable, "Postgres audit append failed");
                    self.health.record(Err(unavailable.clone()));
                    for job in batch {
                        let _ = job.done.send(Err(unavailable.clone()));
                    }
                }
            }
        }
    }

    /// Takes the locks a batch takes and lets them go, writing nothing: whether a batch could
    /// commit now.
    async fn probe(&mut self) -> Result<(), StoreUnavailable> {
        let started = Instant::now();
        let probed = answered(async {
            let client = live(&mut self.client, &self.url).await?;
            let transaction = client.transaction().await?;
            transaction
                .batch_execute("LOCK TABLE codemode_audit_entries IN ROW EXCLUSIVE MODE")
                .await?;
            postgres::read_point(&transaction, "head", true).await?;
            transaction.rollback().await?;
            Ok(())
        })
        .await;
        if matches!(probed, Err(PgError::NoAnswer { .. })) {
            self.client = None;
        }
        probed.map_err(|error| unavailable(&error, started.elapsed()))
    }
}

/// The writer's connection, made again if it was lost or given up.
async fn live<'c>(client: &'c mut Option<Client>, url: &str) -> Result<&'c mut Client, PgError> {
    client.take_if(|open| open.is_closed());
    match client {
        Some(open) => Ok(open),
        None => Ok(client.insert(connect(url).await?)),
    }
}

/// `work`'s result, or [`PgError::NoAnswer`] if Postgres takes longer than
/// [`POSTGRES_TIMEOUT`]: a server that accepts connections but stops answering must not hold
/// the writer, and every call waiting on it, for ever.
async fn answered<T>(work: impl Future<Output = Result<T, PgError>>) -> Result<T, PgError> {
    tokio::time::timeout(POSTGRES_TIMEOUT, work)
        .await
        .unwrap_or(Err(PgError::NoAnswer {
            waited: POSTGRES_TIMEOUT,
        }))
}

/// Connects to `url` for writing: a statement waits at most [`LOCK_WAIT`] for another
/// session's lock.
async fn connect(url: &str) -> Result<Client, PgError> {
    let client = postgres::connect(url).await?;
    client
        .batch_execute(&format!("SET lock_timeout = {}", LOCK_WAIT.as_millis()))
        .await?;
    Ok(client)
}

/// Why a batch or probe failed, as the store's mark: a lock another session held past
/// [`LOCK_WAIT`], or anything else Postgres or the connection said.
fn unavailable(error: &PgError, waited: Duration) -> StoreUnavailable {
    match error {
        PgError::Postgres(postgres) if postgres.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
            StoreUnavailable::Locked { waited }
        }
        other => StoreUnavailable::Failed(other.to_string()),
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
