//! The stores a server writes to, whichever kind the settings pick: approvals in SQLite or
//! Redis ([`Approvals`]), the audit log in SQLite or Postgres ([`AuditSink`]), and the
//! rate-limit counts in memory or Redis, and the records of paused calls in SQLite or Redis
//! ([`paused_store`]). Each call site sees one type and never waits on the
//! async runtime's threads: SQLite work runs on blocking threads.

use std::sync::Arc;

use codemode_audit::{
    Approval, ApprovalError, ApprovalStore, AuditWriter, CallRecord, Committed, Decision,
    NewApproval, PausedStore, PausedStoreError, PendingRequest, RequestIntent, SqlitePausedStore,
    StoreUnavailable, Timestamp,
};
use codemode_ratelimit::{LimitStore, MemoryStore};
use codemode_stores::{
    PgAuditWriter, RedisApprovals, RedisError, RedisLimitStore, RedisLink, RedisPausedStore,
};

use crate::settings::{Settings, StoreKind};

/// Where approvals are kept.
#[derive(Clone)]
pub enum Approvals {
    /// In the SQLite file beside the audit log.
    Sqlite(Arc<ApprovalStore>),
    /// In Redis, shared by replicas.
    Redis(Arc<RedisApprovals>),
}

impl Approvals {
    /// Records a new pending approval.
    pub async fn create(
        &self,
        request: NewApproval,
        now: Timestamp,
    ) -> Result<Approval, ApprovalError> {
        match self {
            Approvals::Sqlite(store) => {
                let store = store.clone();
                blocking(move || store.create(request, now)).await
            }
            Approvals::Redis(store) => store.create(request, now).await,
        }
    }

    /// The approval with this id.
    pub async fn get(&self, id: &str) -> Result<Approval, ApprovalError> {
        match self {
            Approvals::Sqlite(store) => {
                let (store, id) = (store.clone(), id.to_string());
                blocking(move || store.get(&id)).await
            }
            Approvals::Redis(store) => store.get(id).await,
        }
    }

    /// Approvals still waiting for a decision at `now`, oldest first.
    pub async fn pending(&self, now: Timestamp) -> Result<Vec<Approval>, ApprovalError> {
        match self {
            Approvals::Sqlite(store) => {
                let store = store.clone();
                blocking(move || store.pending(now)).await
            }
            Approvals::Redis(store) => store.pending(now).await,
        }
    }

    /// Approves or rejects a pending approval on behalf of `approver`.
    pub async fn decide(
        &self,
        id: &str,
        approver: &str,
        decision: Decision,
        now: Timestamp,
    ) -> Result<Approval, ApprovalError> {
        match self {
            Approvals::Sqlite(store) => {
                let (store, id, approver) = (store.clone(), id.to_string(), approver.to_string());
                blocking(move || store.decide(&id, &approver, decision, now)).await
            }
            Approvals::Redis(store) => store.decide(id, approver, decision, now).await,
        }
    }

    /// Lets `request` through once under an approved approval that `subject` asked for.
    pub async fn consume(
        &self,
        id: &str,
        subject: &str,
        request: &PendingRequest,
        now: Timestamp,
    ) -> Result<(), ApprovalError> {
        match self {
            Approvals::Sqlite(store) => {
                let (store, id, subject, request) = (
                    store.clone(),
                    id.to_string(),
                    subject.to_string(),
                    request.clone(),
                );
                blocking(move || store.consume(&id, &subject, &request, now)).await
            }
            Approvals::Redis(store) => store.consume(id, subject, request, now).await,
        }
    }
}

/// Runs SQLite work on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApprovalError> + Send + 'static,
) -> Result<T, ApprovalError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|_| {
        Err(ApprovalError::Unavailable(
            "the approval store stopped".into(),
        ))
    })
}

/// Where call records and request intents are appended.
pub enum AuditSink {
    /// The SQLite file's writer thread.
    Sqlite(AuditWriter),
    /// The Postgres writer task, shared by replicas through the database.
    Postgres(Box<PgAuditWriter>),
}

impl AuditSink {
    /// Queues a call's record; resolves once it is durable.
    pub fn append(&self, record: CallRecord) -> Committed {
        match self {
            AuditSink::Sqlite(writer) => writer.append(record),
            AuditSink::Postgres(writer) => writer.append(record),
        }
    }

    /// Queues a request's intent; resolves once it is durable.
    pub fn intent(&self, intent: RequestIntent) -> Committed {
        match self {
            AuditSink::Sqlite(writer) => writer.intent(intent),
            AuditSink::Postgres(writer) => writer.intent(intent),
        }
    }

    /// Why the store is known to be unavailable now, so that a call is refused at once: the
    /// writer's last write or probe failed.
    pub fn unavailable(&self) -> Option<StoreUnavailable> {
        match self {
            AuditSink::Sqlite(writer) => writer.unavailable(),
            AuditSink::Postgres(writer) => writer.unavailable(),
        }
    }

    /// Why the log does not answer now, if it does not: the writer's mark, else (for Postgres)
    /// whether the database answers a read; the SQLite file itself is checked by path, with the
    /// paused calls it also holds.
    pub async fn problem(&self) -> Option<String> {
        if let Some(down) = self.unavailable() {
            return Some(down.to_string());
        }
        match self {
            AuditSink::Sqlite(_) => None,
            AuditSink::Postgres(writer) => {
                writer.ready().await.err().map(|error| error.to_string())
            }
        }
    }
}

/// The Redis connection `[store]` names, when it names one.
pub async fn redis_link(
    settings: &Settings,
) -> Result<Option<RedisLink>, codemode_stores::RedisError> {
    match (&settings.store.kind, &settings.store.redis_url) {
        (StoreKind::Redis, Some(url)) => {
            let link = RedisLink::connect(url.expose(), settings.store.redis_prefix()).await?;
            tracing::info!(redis = %url.shown(), "rate limits, approvals and paused calls in Redis");
            Ok(Some(link))
        }
        _ => Ok(None),
    }
}

/// Where rate-limit counts live: Redis when linked, else this process's memory.
pub fn limit_store(redis: Option<&RedisLink>) -> Arc<dyn LimitStore> {
    match redis {
        Some(link) => Arc::new(RedisLimitStore::new(link.clone())),
        None => Arc::new(MemoryStore::new()),
    }
}

/// Why the records of paused calls cannot be kept where `[store]` says.
#[derive(Debug, thiserror::Error)]
pub enum PausedStoreOpenError {
    /// The SQLite file beside the audit log could not be opened.
    #[error("cannot open the records of paused calls in {path}: {source}")]
    Sqlite {
        /// The database.
        path: std::path::PathBuf,
        /// What went wrong.
        source: PausedStoreError,
    },
    /// The `[store]` Redis could not be reached.
    #[error("cannot keep paused calls in the [store] Redis: {0}")]
    Redis(#[from] RedisError),
}

/// Where paused calls are recorded: in Redis when `[store]` names it, so any replica can
/// resume them, else in the SQLite file at `audit_path`.
pub fn paused_store(
    settings: &Settings,
    audit_path: &std::path::Path,
) -> Result<Arc<dyn PausedStore>, PausedStoreOpenError> {
    match (&settings.store.kind, &settings.store.redis_url) {
        (StoreKind::Redis, Some(url)) => Ok(Arc::new(RedisPausedStore::connect(
            url.expose(),
            settings.store.redis_prefix(),
        )?)),
        _ => SqlitePausedStore::open(audit_path)
            .map(|store| Arc::new(store) as Arc<dyn PausedStore>)
            .map_err(|source| PausedStoreOpenError::Sqlite {
                path: audit_path.to_path_buf(),
                source,
            }),
    }
}
