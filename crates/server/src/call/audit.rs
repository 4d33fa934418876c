//! The audit of one call: the intent of each upstream request, committed before it is sent,
//! and the call's record, begun when the call starts, filled in as it runs and committed
//! before its outcome goes back. A request whose intent cannot be committed is not sent, and a
//! call whose record cannot be committed has its result withheld: nothing goes unaccounted for.

use std::sync::Arc;
use std::time::Instant;

use codemode_audit::{
    ApprovalDecision, CallRecord, NoAnswer, Outcome, RecordId, RequestDecision, RequestIntent,
    Timestamp, Tool, UpstreamRequest,
};
use codemode_sandbox::SandboxError;
use codemode_upstream::{CheckedRequest, Journal, RequestRecord, sha256_hex};
use futures::FutureExt;
use futures::future::BoxFuture;

use crate::call::caller::Caller;
use crate::call::error::CallError;
use crate::call::outcome::CallOutcome;
use crate::stores::AuditSink;

/// Characters of code kept for a call refused before it ran; the hash stands for the rest.
pub const REFUSED_CODE_PREFIX_CHARS: usize = 200;

/// The audit log's writer, and whether records keep the code itself.
pub struct AuditTrail {
    writer: Arc<AuditSink>,
    store_code: bool,
}

/// A call's audit record in progress.
pub struct Entry {
    record: CallRecord,
    ledger: Vec<Ledgered>,
    started: Instant,
}

/// One request of a call's ledger, with the global of the upstream it went to.
pub type Ledgered = (String, RequestRecord<RequestDecision>);

impl AuditTrail {
    /// Records calls through `writer`, with their code when `store_code`.
    pub fn new(writer: AuditSink, store_code: bool) -> AuditTrail {
        AuditTrail {
            writer: Arc::new(writer),
            store_code,
        }
    }

    /// Why the audit store does not answer now, if it does not (see [`AuditSink::problem`]).
    pub async fn problem(&self) -> Option<String> {
        self.writer.problem().await
    }

    /// The refusal of a call that arrives while the audit store is known to be unavailable:
    /// it fails at once, before its code runs, rather than waiting on the store.
    pub fn refusal(&self) -> Option<CallOutcome> {
        let down = self.writer.unavailable()?;
        tracing::error!(error = %down, "audit store unavailable; refusing the call before it runs");
        Some(CallOutcome::failed(CallError::AuditDown(down), Vec::new()))
    }

    /// Begins the record of a call of `tool` by `caller` running `code`.
    pub fn begin(&self, caller: &Caller, tool: Tool, code: &str) -> Entry {
        Entry {
            record: CallRecord {
                time: Timestamp::now(),
                subject: caller.subject().to_string(),
                session: caller.session.clone(),
                client: caller.client.clone(),
                tool,
                code_sha256: sha256_hex(code.as_bytes()),
                code: self.store_code.then(|| code.to_string()),
                code_chars: None,
                account: None,
                requests: Vec::new(),
                approvals: Vec::new(),
                outcome: Outcome::Ok,
                error_kind: None,
                duration_ms: 0,
                result_chars: 0,
            },
            ledger: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Where the call of `entry` writes the intent of each request to `upstream` (its
    /// global) before it is sent.
    pub fn journal(&self, entry: &Entry, upstream: &str) -> Arc<dyn Journal> {
        Arc::new(Intents {
            upstream: upstream.to_string(),
            writer: self.writer.clone(),
            subject: entry.record.subject.clone(),
            session: entry.record.session.clone(),
            code_sha256: entry.record.code_sha256.clone(),
        })
    }

    /// Commits `entry` with how the call ended, then hands the outcome back; if the record
    /// cannot be committed, the outcome is replaced by an error that withholds it.
    pub async fn commit(&self, entry: Entry, outcome: CallOutcome) -> CallOutcome {
        let record = entry.finish(&outcome);
        let started = std::time::Instant::now();
        let appended = self.writer.append(record).await;
        crate::telemetry::meters().audit_commit(started.elapsed());
        match appended {
            Ok(_) => outcome,
            Err(error) => {
                tracing::error!(%error, "audit append failed; withholding the result");
                CallOutcome::failed(CallError::AuditUnavailable(error), Vec::new())
            }
        }
    }
}

impl Entry {
    /// The requests the code made or tried, from the call's ledger, with what was decided for
    /// each, those still in flight included.
    pub fn requests(&mut self, ledger: Vec<Ledgered>) {
        self.ledger = ledger;
    }

    /// The account the call acted on.
    pub fn account(&mut self, account: Option<String>) {
        self.record.account = account;
    }

    /// The approvals the call created or used.
    pub fn approvals(&mut self, approvals: Vec<ApprovalDecision>) {
        self.record.approvals = approvals;
    }

    /// The record, completed with how the call ended.
    fn finish(self, outcome: &CallOutcome) -> CallRecord {
        let mut record = self.record;
        let error = outcome.result.as_ref().err();
        record.outcome = if error.is_some() {
            Outcome::Error
        } else {
            Outcome::Ok
        };
        record.error_kind = error.map(|error| error.kind().to_string()).or_else(|| {
            matches!(
                outcome.result,
                Ok(crate::call::Returned::ApprovalRequired(_))
            )
            .then(|| "approval_required".to_string())
        });
        if error.is_some_and(CallError::refused_before_running) {
            shorten_code(&mut record);
        }
        let no_answer = no_answer(error);
        record.requests = self
            .ledger
            .into_iter()
            .filter_map(|(upstream, request)| upstream_request(upstream, request, no_answer))
            .collect();
        record.duration_ms = millis(self.started.elapsed());
        record.result_chars = outcome.chars();
        record
    }
}

/// Keeps only the start of the record's code, and says how long the whole was.
fn shorten_code(record: &mut CallRecord) {
    let Some(code) = &mut record.code else {
        return;
    };
    let chars = code.chars().count();
    if let Some((cut, _)) = code.char_indices().nth(REFUSED_CODE_PREFIX_CHARS) {
        code.truncate(cut);
        record.code_chars = Some(u64::try_from(chars).unwrap_or(u64::MAX));
    }
}

/// Why a request still in flight when the call ended got no answer.
fn no_answer(error: Option<&CallError>) -> NoAnswer {
    match error {
        Some(CallError::Sandbox(SandboxError::Timeout { .. })) => NoAnswer::TimedOut,
        Some(CallError::Sandbox(SandboxError::Cancelled)) => NoAnswer::Cancelled,
        Some(CallError::Sandbox(
            SandboxError::OutOfMemory { .. }
            | SandboxError::StackOverflow
            | SandboxError::Unavailable(_),
        )) => NoAnswer::EngineFailed,
        _ => NoAnswer::CallEnded,
    }
}

/// The audit's form of one ledger entry; `None` when no decision was made about it (requests
/// the server made on its own, whose intents are in the log all the same).
fn upstream_request(
    upstream: String,
    record: RequestRecord<RequestDecision>,
    no_answer: NoAnswer,
) -> Option<UpstreamRequest> {
    Some(UpstreamRequest {
        method: record.method.as_str().to_string(),
        template: record.template,
        path: record.path,
        status: record.status,
        duration_ms: millis(record.duration),
        attempts: Some(record.attempts),
        decision: record.decision?,
        intent: record
            .intent
            .map(|id| RecordId(i64::try_from(id).unwrap_or(i64::MAX))),
        no_answer: record.in_flight.then_some(no_answer),
        upstream: Some(upstream),
    })
}

/// Writes each request's intent through the audit writer before the gateway sends it.
struct Intents {
    upstream: String,
    writer: Arc<AuditSink>,
    subject: String,
    session: Option<String>,
    code_sha256: String,
}

impl Journal for Intents {
    fn before_send(&self, request: &CheckedRequest) -> BoxFuture<'static, Result<u64, String>> {
        let committed = self.writer.intent(RequestIntent {
            time: Timestamp::now(),
            subject: self.subject.clone(),
            session: self.session.clone(),
            code_sha256: self.code_sha256.clone(),
            method: request.method().as_str().to_string(),
            template: request.operation().map(|operation| operation.path.clone()),
            path: request.path().to_string(),
            body_sha256: request.body_sha256(),
            upstream: Some(self.upstream.clone()),
        });
        async move {
            match committed.await {
                Ok(id) => Ok(id.0.unsigned_abs()),
                Err(error) => {
                    tracing::error!(%error, "audit intent failed; the request is not sent");
                    Err(format!("the audit log is unavailable: {error}"))
                }
            }
        }
        .boxed()
    }
}

/// Milliseconds, saturating.
pub fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
