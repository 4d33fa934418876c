//! What one tool call leaves in the audit log.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::approvals::ApprovalStatus;
use crate::time::Timestamp;

/// The MCP tool that was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tool {
    /// `search`: code read the API spec.
    Search,
    /// `execute`: code made requests to the API.
    Execute,
}

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The call returned a result.
    Ok,
    /// The call failed; the record's `error_kind` says how.
    Error,
}

/// What the gateway decided about one upstream request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestDecision {
    /// Policy let the request through.
    Allow,
    /// Policy refused the request under `rule`.
    Deny {
        /// The policy rule that refused it.
        rule: String,
    },
    /// A human approved the request.
    Approved {
        /// The subject who approved.
        by: String,
        /// The channel the approval came through (for example `elicitation` or `cli`).
        via: String,
    },
    /// A human rejected the request.
    Rejected {
        /// The subject who rejected.
        by: String,
    },
}

/// One request the call's code made, or tried to make, to the upstream API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamRequest {
    /// HTTP method, upper case.
    pub method: String,
    /// The spec path template the request matched, if any.
    pub template: Option<String>,
    /// The concrete path that was requested.
    pub path: String,
    /// The upstream HTTP status, absent when the request was not sent or got no response.
    pub status: Option<u16>,
    /// Time spent on the request, in milliseconds.
    pub duration_ms: u64,
    /// Times the request was sent (1 plus retries; 0 when it was refused before sending).
    /// Absent from records written before attempts were kept, and then left out of their JSON,
    /// so those records still verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// What the gateway decided.
    pub decision: RequestDecision,
    /// The intent written before the request was sent; absent when it was never sent, and
    /// from records written before intents were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<RecordId>,
    /// Why no answer came, for a request sent but unanswered when the call ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_answer: Option<NoAnswer>,
    /// The upstream it went to, by its global (`cloudflare`, `github`); absent from records
    /// written before upstreams were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

/// Why a request that was sent got no answer before its call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoAnswer {
    /// The call ran out of time.
    TimedOut,
    /// The call was cancelled by its client.
    Cancelled,
    /// The JavaScript engine failed (out of memory, crashed worker).
    EngineFailed,
    /// The code finished (returned or threw) without waiting for the answer.
    CallEnded,
}

/// A request about to be sent upstream, written to the log before it goes.
///
/// It holds no body and no header: only the SHA-256 of the body as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestIntent {
    /// When the request was about to be sent.
    pub time: Timestamp,
    /// The subject whose call sends it.
    pub subject: String,
    /// The MCP session of that call, if any.
    pub session: Option<String>,
    /// SHA-256 of the call's code, lowercase hex: ties the intent to its call.
    pub code_sha256: String,
    /// HTTP method, upper case.
    pub method: String,
    /// The spec path template the request matched, if any.
    pub template: Option<String>,
    /// The concrete path.
    pub path: String,
    /// SHA-256 of the body as sent, lowercase hex; absent without a body.
    pub body_sha256: Option<String>,
    /// The upstream it goes to, by its global; absent from intents written before upstreams
    /// were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

/// An intent as stored, with its place in the hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredIntent {
    /// The intent's id, from the same sequence as call records.
    pub id: RecordId,
    /// The hash of the entry before it.
    pub prev_hash: String,
    /// This intent's chain hash.
    pub hash: String,
    /// The intent itself.
    #[serde(flatten)]
    pub intent: RequestIntent,
}

/// One entry of the chain: a call's record or a request's intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum StoredEntry {
    /// A tool call's record.
    Call(StoredRecord),
    /// An upstream request's intent.
    Request(StoredIntent),
}

/// An approval the call created, used or found decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalDecision {
    /// The approval's id in the approvals store.
    pub approval_id: String,
    /// Where the approval stood when the call ended.
    pub status: ApprovalStatus,
    /// The subject who decided, once decided.
    pub by: Option<String>,
    /// The channel the decision came through, once decided.
    pub via: Option<String>,
}

/// One tool call as the audit log keeps it.
///
/// There is no field for headers or credentials; callers must never put a secret in any field.
/// Its JSON is what the chain hashes, so stored rows only verify while the JSON of old records
/// stays the same: add new fields as `Option` with `skip_serializing_if = "Option::is_none"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// When the call started.
    pub time: Timestamp,
    /// The authenticated subject that made the call.
    pub subject: String,
    /// The MCP session, if the transport has one.
    pub session: Option<String>,
    /// The client's self-reported name, if it gave one.
    pub client: Option<String>,
    /// The tool that was called.
    pub tool: Tool,
    /// SHA-256 of the submitted code, lowercase hex.
    pub code_sha256: String,
    /// The submitted code, absent when the operator turned code storage off; only its start
    /// when `code_chars` is present.
    pub code: Option<String>,
    /// Length in characters of the whole code, present when `code` holds only its start
    /// (calls refused before they ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_chars: Option<u64>,
    /// The account the call acted on, if any.
    pub account: Option<String>,
    /// Every upstream request the code made or tried, in order.
    pub requests: Vec<UpstreamRequest>,
    /// Approvals involved in the call.
    pub approvals: Vec<ApprovalDecision>,
    /// How the call ended.
    pub outcome: Outcome,
    /// The kind of error, when the outcome is an error.
    pub error_kind: Option<String>,
    /// Wall time of the whole call, in milliseconds.
    pub duration_ms: u64,
    /// Length of the result returned to the agent, in characters.
    pub result_chars: u64,
}

/// The position of a record in the log; ids are consecutive from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordId(pub i64);

impl RecordId {
    /// The id that follows this one.
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A record as stored, with its place in the hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// The record's id.
    pub id: RecordId,
    /// The hash of the record before it (or the anchor, or 64 zeros for the first).
    pub prev_hash: String,
    /// This record's chain hash.
    pub hash: String,
    /// The record itself.
    #[serde(flatten)]
    pub record: CallRecord,
}
