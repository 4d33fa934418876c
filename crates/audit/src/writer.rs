//! The one writer a server appends through: a thread that owns a connection and commits
//! whatever arrived together in one transaction, so one fsync covers them all (group commit),
//! then tells each caller its entry is durable. Once a batch fails because the database is
//! locked or refuses writes, the store is known to be unavailable: entries are refused at once,
//! without waiting, while the thread probes the database and clears the mark when it answers
//! (the rule [`StoreHealth`] keeps).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use crate::append::{self, Entry};
use crate::db;
use crate::health::{PROBE_EVERY, StoreHealth};
use crate::log::AuditError;
use crate::mac::AuditKey;
use crate::record::{CallRecord, RecordId, RequestIntent};

/// How long the writer waits for another connection's write lock before failing a batch.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_millis(500);

/// The most entries one transaction commits.
const MAX_BATCH: usize = 1024;

/// How an [`AuditWriter`] writes: its key, and how long it waits for another writer.
#[derive(Debug)]
pub struct WriterConfig {
    /// Signs the chain's head after every batch; see [`AuditLog::open_keyed`](crate::AuditLog::open_keyed).
    pub key: Option<AuditKey>,
    /// How long a batch waits for another connection's write lock before it fails as
    /// [`StoreUnavailable::Locked`]; every entry waits at most about twice this, and once a
    /// batch has failed, entries are refused at once until the database answers again.
    pub lock_wait: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            key: None,
            lock_wait: DEFAULT_LOCK_WAIT,
        }
    }
}

/// Why the store could not take an entry now; the writer probes the database until it answers,
/// so it recovers by itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreUnavailable {
    /// Another connection held the write lock for longer than the writer waits.
    #[error(
        "the audit database is locked by another connection's write transaction (waited {} ms); \
         writes resume once that transaction ends",
        .waited.as_millis()
    )]
    Locked {
        /// How long the batch waited.
        waited: Duration,
    },
    /// SQLite, the disk or the chain refused the write.
    #[error("the audit database refused the write: {0}")]
    Failed(String),
    /// The writer's thread is gone.
    #[error("the audit writer has stopped")]
    Stopped,
    /// The store was already known to be unavailable, so the entry was not attempted.
    #[error(
        "the audit database is unavailable since a write failed ({cause}); nothing was written \
         now: the writer checks the database in the background and writes resume once it answers"
    )]
    Down {
        /// Why the last write or probe failed.
        cause: Box<StoreUnavailable>,
    },
}

impl StoreUnavailable {
    fn of(error: &AuditError, waited: Duration) -> Self {
        match error {
            AuditError::Sqlite(sqlite) if append::is_locked(sqlite) => Self::Locked { waited },
            other => Self::Failed(other.to_string()),
        }
    }
}

/// Appends call records and request intents to one log from any number of tasks, in batches.
///
/// Cheap to share behind an `Arc`; dropping the last handle lets the thread finish what was
/// queued and stop.
pub struct AuditWriter {
    jobs: mpsc::Sender<Job>,
    health: StoreHealth,
}

/// An entry the writer owns until it is committed.
enum Owned {
    Call(CallRecord),
    Intent(RequestIntent),
}

struct Job {
    entry: Owned,
    done: oneshot::Sender<Result<RecordId, StoreUnavailable>>,
}

/// Resolves once the entry is durable, to its id, or to why the store could not take it.
pub struct Committed(oneshot::Receiver<Result<RecordId, StoreUnavailable>>);

impl Future for Committed {
    type Output = Result<RecordId, StoreUnavailable>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|answer| answer.unwrap_or(Err(StoreUnavailable::Stopped)))
    }
}

impl From<oneshot::Receiver<Result<RecordId, StoreUnavailable>>> for Committed {
    /// The commit another writer (such as the Postgres one) answers on `answer`.
    fn from(answer: oneshot::Receiver<Result<RecordId, StoreUnavailable>>) -> Committed {
        Committed(answer)
    }
}

impl Committed {
    /// An entry refused at once, with no attempt to write it.
    pub fn refused(why: StoreUnavailable) -> Committed {
        let (done, answer) = oneshot::channel();
        let _ = done.send(Err(why));
        Committed(answer)
    }

    /// Blocks this thread until the entry is durable; for callers outside an async runtime
    /// (inside one it panics: await the future instead).
    pub fn wait(self) -> Result<RecordId, StoreUnavailable> {
        self.0
            .blocking_recv()
            .unwrap_or(Err(StoreUnavailable::Stopped))
    }
}

impl AuditWriter {
    /// Opens the log at `path` (creating it if needed) and starts the writer's thread; refuses
    /// a key that does not match the log's signed head, or a signed log without a key.
    pub fn start(path: impl AsRef<Path>, config: WriterConfig) -> Result<AuditWriter, AuditError> {
        let connection = db::connect(path.as_ref(), config.key.as_ref())?;
        connection.busy_timeout(config.lock_wait)?;
        append::check_signed(
            "head",
            &append::read_point(&connection, "head")?,
            config.key.as_ref(),
        )?;
        let (jobs, queue) = mpsc::channel();
        let health = StoreHealth::default();
        let writer_health = health.clone();
        thread::Builder::new()
            .name("audit-writer".to_owned())
            .spawn(move || run(connection, config.key, queue, writer_health))?;
        Ok(AuditWriter { jobs, health })
    }

    /// Why the store is known to be unavailable now (its last write or probe failed), as the
    /// [`StoreUnavailable::Down`] every entry gets at once until a probe succeeds.
    pub fn unavailable(&self) -> Option<StoreUnavailable> {
        self.health.unavailable()
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
        // If the thread is gone, the job (and `done`) is dropped and `Committed` says so.
        let _ = self.jobs.send(Job { entry, done });
        Committed(answer)
    }
}

/// The writer's loop: take what has arrived, commit it in one transaction, answer each; while
/// the store is known to be unavailable, probe it whenever nothing arrives for a while.
fn run(
    mut connection: Connection,
    key: Option<AuditKey>,
    queue: mpsc::Receiver<Job>,
    health: StoreHealth,
) {
    loop {
        let first = if health.is_down() {
            match queue.recv_timeout(PROBE_EVERY) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    health.record(probe(&mut connection));
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let mut batch = vec![first];
        batch.extend(queue.try_iter().take(MAX_BATCH - 1));
        let started = Instant::now();
        match commit(&mut connection, &batch, key.as_ref()) {
            Ok(ids) => {
                health.record(Ok(()));
                for (job, id) in batch.into_iter().zip(ids) {
                    let answer = id.map_err(|error| StoreUnavailable::Failed(error.to_string()));
                    let _ = job.done.send(answer);
                }
            }
            Err(error) => {
                let unavailable = StoreUnavailable::of(&error, started.elapsed());
                health.record(Err(unavailable.clone()));
                for job in batch {
                    let _ = job.done.send(Err(unavailable.clone()));
                }
            }
        }
    }
}

/// Takes the write lock and lets it go, writing nothing: whether a batch could commit now.
fn probe(connection: &mut Connection) -> Result<(), StoreUnavailable> {
    let started = Instant::now();
    connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .and_then(|transaction| transaction.rollback())
        .map_err(|error| StoreUnavailable::of(&AuditError::Sqlite(error), started.elapsed()))
}

/// Appends the batch in one write transaction.
fn commit(
    connection: &mut Connection,
    batch: &[Job],
    key: Option<&AuditKey>,
) -> Result<Vec<Result<RecordId, serde_json::Error>>, AuditError> {
    let entries: Vec<Entry<'_>> = batch
        .iter()
        .map(|job| match &job.entry {
            Owned::Call(record) => Entry::Call(record),
            Owned::Intent(intent) => Entry::Intent(intent),
        })
        .collect();
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let ids = append::append(&transaction, &entries, key)?;
    transaction.commit()?;
    Ok(ids)
}
