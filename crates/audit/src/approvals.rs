//! Durable approvals: the agent's call asks, another subject decides, and each approved
//! request is then let through exactly once before the approval expires.

use std::fmt;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use crate::db::{self, DatabaseError};
use crate::time::Timestamp;

/// Where an approval stands; expiry is judged separately, against the caller's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a decision.
    Pending,
    /// Approved: its requests may each go through once.
    Approved,
    /// Rejected: none of its requests may go through.
    Rejected,
}

impl ApprovalStatus {
    /// The lowercase word for this status.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
        }
    }
}

impl fmt::Display for ApprovalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An upstream request awaiting a decision, identified by what it would send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRequest {
    /// HTTP method (compared case-insensitively).
    pub method: String,
    /// Concrete request path (compared exactly).
    pub path: String,
    /// SHA-256 of the body, lowercase hex; absent for a request without a body.
    pub body_sha256: Option<String>,
}

impl PendingRequest {
    /// Whether `other` is the same request.
    fn matches(&self, other: &PendingRequest) -> bool {
        self.method.eq_ignore_ascii_case(&other.method)
            && self.path == other.path
            && self.body_sha256 == other.body_sha256
    }
}

impl fmt::Display for PendingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// What is needed to ask for an approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApproval {
    /// The subject asking; it can never decide its own approval.
    pub subject: String,
    /// The MCP session that asked, if any.
    pub session: Option<String>,
    /// SHA-256 of the code that wants to make the requests.
    pub code_sha256: String,
    /// The requests to approve, in order.
    pub pending: Vec<PendingRequest>,
    /// When the approval stops being usable.
    pub expires_at: Timestamp,
}

/// One request of an approval, and when it was let through, if it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalItem {
    /// The request.
    pub request: PendingRequest,
    /// When the request was consumed.
    pub consumed_at: Option<Timestamp>,
}

/// A stored approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Random 128-bit id, lowercase hex.
    pub id: String,
    /// The subject that asked.
    pub subject: String,
    /// The MCP session that asked, if any.
    pub session: Option<String>,
    /// SHA-256 of the code that asked.
    pub code_sha256: String,
    /// Where the approval stands.
    pub status: ApprovalStatus,
    /// The requests it covers, in order.
    pub requests: Vec<ApprovalItem>,
    /// When it was asked for.
    pub created_at: Timestamp,
    /// When it stops being usable.
    pub expires_at: Timestamp,
    /// The subject that decided, once decided.
    pub decided_by: Option<String>,
    /// When it was decided.
    pub decided_at: Option<Timestamp>,
}

impl Approval {
    /// A new pending approval with id `id`, asked for at `now`.
    pub fn new(id: String, request: NewApproval, now: Timestamp) -> Approval {
        Approval {
            id,
            subject: request.subject,
            session: request.session,
            code_sha256: request.code_sha256,
            status: ApprovalStatus::Pending,
            requests: request
                .pending
                .into_iter()
                .map(|request| ApprovalItem {
                    request,
                    consumed_at: None,
                })
                .collect(),
            created_at: now,
            expires_at: request.expires_at,
            decided_by: None,
            decided_at: None,
        }
    }

    /// Whether the approval can no longer be decided or used at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }

    /// Records `approver`'s decision at `now`, or says why it may not decide: every store
    /// applies these rules.
    pub fn decide(
        &mut self,
        approver: &str,
        decision: Decision,
        now: Timestamp,
    ) -> Result<(), ApprovalError> {
        if approver == self.subject {
            return Err(ApprovalError::SelfApproval(self.id.clone()));
        }
        if self.status != ApprovalStatus::Pending {
            return Err(ApprovalError::AlreadyDecided {
                id: self.id.clone(),
                status: self.status,
            });
        }
        if self.is_expired(now) {
            return Err(ApprovalError::Expired(self.id.clone()));
        }
        self.status = match decision {
            Decision::Approve => ApprovalStatus::Approved,
            Decision::Reject => ApprovalStatus::Rejected,
        };
        self.decided_by = Some(approver.to_owned());
        self.decided_at = Some(now);
        Ok(())
    }

    /// Marks the first unused request matching `request` as let through at `now` for
    /// `subject`, and returns its position, or says why it may not go through.
    pub fn consume(
        &mut self,
        subject: &str,
        request: &PendingRequest,
        now: Timestamp,
    ) -> Result<usize, ApprovalError> {
        if subject != self.subject {
            return Err(ApprovalError::WrongSubject(self.id.clone()));
        }
        match self.status {
            ApprovalStatus::Rejected => return Err(ApprovalError::Rejected(self.id.clone())),
            _ if self.is_expired(now) => return Err(ApprovalError::Expired(self.id.clone())),
            ApprovalStatus::Pending => return Err(ApprovalError::NotApproved(self.id.clone())),
            ApprovalStatus::Approved => {}
        }
        let unused = self
            .requests
            .iter()
            .position(|item| item.consumed_at.is_none() && item.request.matches(request));
        let Some(position) = unused else {
            let covered = self
                .requests
                .iter()
                .any(|item| item.request.matches(request));
            let (id, request) = (self.id.clone(), request.clone());
            return Err(if covered {
                ApprovalError::AlreadyUsed { id, request }
            } else {
                ApprovalError::NotPending { id, request }
            });
        };
        self.requests[position].consumed_at = Some(now);
        Ok(position)
    }
}

/// A human's answer to an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Let the requests through, once each.
    Approve,
    /// Refuse the requests.
    Reject,
}

/// Why an approval operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// No approval has this id.
    #[error("approval {0} does not exist")]
    NotFound(String),
    /// The approval expired before it was decided or used.
    #[error("approval {0} has expired")]
    Expired(String),
    /// The approval was already approved or rejected.
    #[error("approval {id} was already {status}")]
    AlreadyDecided {
        /// The approval.
        id: String,
        /// Its decision.
        status: ApprovalStatus,
    },
    /// The subject that asked tried to decide.
    #[error("approval {0} cannot be decided by the subject that asked for it")]
    SelfApproval(String),
    /// A different subject tried to use the approval.
    #[error("approval {0} belongs to another subject")]
    WrongSubject(String),
    /// The approval has not been decided yet.
    #[error("approval {0} is still waiting for a decision")]
    NotApproved(String),
    /// The approval was rejected.
    #[error("approval {0} was rejected")]
    Rejected(String),
    /// Every matching request of the approval was already let through.
    #[error("{request} was already let through under approval {id}")]
    AlreadyUsed {
        /// The approval.
        id: String,
        /// The request that was replayed.
        request: PendingRequest,
    },
    /// The request is not one the approval covers.
    #[error("{request} is not covered by approval {id}")]
    NotPending {
        /// The approval.
        id: String,
        /// The request that was not covered.
        request: PendingRequest,
    },
    /// The system could not supply randomness for a new id.
    #[error("cannot generate an approval id: {0}")]
    Random(getrandom::Error),
    /// The database file could not be opened.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// SQLite refused an operation.
    #[error("approvals: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A shared store (Redis) could not be reached or refused the operation.
    #[error("the approvals store is unavailable ({0}); try again shortly")]
    Unavailable(String),
    /// A stored approval could not be read back.
    #[error("approval {id} is stored in a form this server cannot read: {reason}")]
    Corrupt {
        /// The approval.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Approvals kept in the audit database file.
///
/// Methods block on disk I/O and take `now` so callers (and tests) own the clock.
pub struct ApprovalStore {
    connection: Mutex<Connection>,
}

impl ApprovalStore {
    /// Opens the store at `path` (the audit log's file), creating the schema if needed.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ApprovalError> {
        Ok(Self {
            connection: db::open(path.as_ref(), None)?,
        })
    }

    /// Records a new pending approval with a fresh unguessable id.
    pub fn create(&self, request: NewApproval, now: Timestamp) -> Result<Approval, ApprovalError> {
        let id = new_id()?;
        let mut connection = db::lock(&self.connection);
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction.execute(
            "INSERT INTO approvals (id, subject, session, code_sha256, status, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                request.subject,
                request.session,
                request.code_sha256,
                ApprovalStatus::Pending,
                now,
                request.expires_at,
            ],
        )?;
        for (position, pending) in request.pending.iter().enumerate() {
            transaction.execute(
                "INSERT INTO approval_requests (approval_id, position, method, path, body_sha256) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    id,
                    position,
                    pending.method,
                    pending.path,
                    pending.body_sha256
                ],
            )?;
        }
        let created = load(&transaction, &id)?;
        transaction.commit()?;
        Ok(created)
    }

    /// The approval with this id.
    pub fn get(&self, id: &str) -> Result<Approval, ApprovalError> {
        load(&db::lock(&self.connection), id)
    }

    /// Approvals still waiting for a decision at `now`, oldest first.
    pub fn pending(&self, now: Timestamp) -> Result<Vec<Approval>, ApprovalError> {
        let connection = db::lock(&self.connection);
        let ids: Vec<String> = connection
            .prepare(
                "SELECT id FROM approvals WHERE status = ?1 AND expires_at > ?2 \
                 ORDER BY created_at, id",
            )?
            .query_map(params![ApprovalStatus::Pending, now], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        ids.iter().map(|id| load(&connection, id)).collect()
    }

    /// Approves or rejects a pending approval on behalf of `approver`.
    pub fn decide(
        &self,
        id: &str,
        approver: &str,
        decision: Decision,
        now: Timestamp,
    ) -> Result<Approval, ApprovalError> {
        let mut connection = db::lock(&self.connection);
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut approval = load(&transaction, id)?;
        approval.decide(approver, decision, now)?;
        transaction.execute(
            "UPDATE approvals SET status = ?2, decided_by = ?3, decided_at = ?4 WHERE id = ?1",
            params![id, approval.status, approver, now],
        )?;
        let decided = load(&transaction, id)?;
        transaction.commit()?;
        Ok(decided)
    }

    /// Lets `request` through once under an approved approval that `subject` asked for.
    pub fn consume(
        &self,
        id: &str,
        subject: &str,
        request: &PendingRequest,
        now: Timestamp,
    ) -> Result<(), ApprovalError> {
        let mut connection = db::lock(&self.connection);
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let position = load(&transaction, id)?.consume(subject, request, now)?;
        // `create` numbers requests from 0 and `load` reads them in that order.
        transaction.execute(
            "UPDATE approval_requests SET consumed_at = ?3 WHERE approval_id = ?1 AND position = ?2",
            params![id, position, now],
        )?;
        transaction.commit()?;
        Ok(())
    }
}

/// Reads one approval and its requests.
fn load(connection: &Connection, id: &str) -> Result<Approval, ApprovalError> {
    let mut approval = connection
        .query_row(
            "SELECT id, subject, session, code_sha256, status, created_at, expires_at, \
             decided_by, decided_at FROM approvals WHERE id = ?1",
            [id],
            |row| {
                Ok(Approval {
                    id: row.get(0)?,
                    subject: row.get(1)?,
                    session: row.get(2)?,
                    code_sha256: row.get(3)?,
                    status: row.get(4)?,
                    requests: Vec::new(),
                    created_at: row.get(5)?,
                    expires_at: row.get(6)?,
                    decided_by: row.get(7)?,
                    decided_at: row.get(8)?,
                })
            },
        )
        .optional()?
        .ok_or_else(|| ApprovalError::NotFound(id.to_owned()))?;
    approval.requests = connection
        .prepare(
            "SELECT method, path, body_sha256, consumed_at FROM approval_requests \
             WHERE approval_id = ?1 ORDER BY position",
        )?
        .query_map([id], |row| {
            Ok(ApprovalItem {
                request: PendingRequest {
                    method: row.get(0)?,
                    path: row.get(1)?,
                    body_sha256: row.get(2)?,
                },
                consumed_at: row.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(approval)
}

/// A fresh random 128-bit id in lowercase hex.
pub fn new_id() -> Result<String, ApprovalError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(ApprovalError::Random)?;
    Ok(crate::hex(&bytes))
}
