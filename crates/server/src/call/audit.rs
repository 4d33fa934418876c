//! The audit record of one call: begun when the call starts, filled in as it runs, and
//! committed before its outcome goes back. A call whose record cannot be committed has its
//! result withheld: no call goes unaccounted for.

use std::sync::Arc;
use std::time::Instant;

use codemode_audit::{
    ApprovalDecision, AuditLog, CallRecord, Outcome, RequestDecision, Timestamp, Tool,
    UpstreamRequest,
};
use codemode_upstream::{RequestRecord, sha256_hex};

use crate::call::caller::Caller;
use crate::call::error::CallError;
use crate::call::outcome::CallOutcome;

/// The audit log, and whether records keep the code itself.
pub struct AuditTrail {
    log: Arc<AuditLog>,
    store_code: bool,
}

/// A call's audit record in progress.
pub struct Entry {
    record: CallRecord,
    started: Instant,
}

impl AuditTrail {
    /// Records calls in `log`, with their code when `store_code`.
    pub fn new(log: AuditLog, store_code: bool) -> AuditTrail {
        AuditTrail {
            log: Arc::new(log),
            store_code,
        }
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
                account: None,
                requests: Vec::new(),
                approvals: Vec::new(),
                outcome: Outcome::Ok,
                error_kind: None,
                duration_ms: 0,
                result_chars: 0,
            },
            started: Instant::now(),
        }
    }

    /// Commits `entry` with how the call ended, then hands the outcome back; if the record
    /// cannot be committed, the outcome is replaced by an error that withholds it.
    pub async fn commit(&self, entry: Entry, outcome: CallOutcome) -> CallOutcome {
        let mut record = entry.record;
        record.outcome = if outcome.is_error() {
            Outcome::Error
        } else {
            Outcome::Ok
        };
        record.error_kind = outcome
            .result
            .as_ref()
            .err()
            .map(|error| error.kind().to_string())
            .or_else(|| {
                matches!(
                    outcome.result,
                    Ok(crate::call::Returned::ApprovalRequired(_))
                )
                .then(|| "approval_required".to_string())
            });
        record.duration_ms = millis(entry.started.elapsed());
        record.result_chars = outcome.chars();
        let log = self.log.clone();
        match tokio::task::spawn_blocking(move || log.append(&record)).await {
            Ok(Ok(_)) => outcome,
            Ok(Err(error)) => {
                tracing::error!(%error, "audit append failed; withholding the result");
                CallOutcome::failed(CallError::AuditFailed, Vec::new())
            }
            Err(_) => CallOutcome::failed(CallError::AuditFailed, Vec::new()),
        }
    }
}

impl Entry {
    /// The requests the code made or tried, from the call's ledger, with what was decided for
    /// each. Requests the server made on its own (account discovery) carry no decision and are
    /// left out.
    pub fn requests(&mut self, ledger: Vec<RequestRecord<RequestDecision>>) {
        self.record.requests = ledger.into_iter().filter_map(upstream_request).collect();
    }

    /// The account the call acted on.
    pub fn account(&mut self, account: Option<String>) {
        self.record.account = account;
    }

    /// The approvals the call created or used.
    pub fn approvals(&mut self, approvals: Vec<ApprovalDecision>) {
        self.record.approvals = approvals;
    }
}

/// The audit's form of one ledger entry; `None` when no decision was made about it.
fn upstream_request(record: RequestRecord<RequestDecision>) -> Option<UpstreamRequest> {
    Some(UpstreamRequest {
        method: record.method.as_str().to_string(),
        template: record.template,
        path: record.path,
        status: record.status,
        duration_ms: millis(record.duration),
        attempts: Some(record.attempts),
        decision: record.decision?,
    })
}

/// Milliseconds, saturating.
pub fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
