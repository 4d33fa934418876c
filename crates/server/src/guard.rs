//! What makes a call accountable: rate limits, the upstream credential it may use, approvals
//! it needs, and the audit record committed before its result goes back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use codemode_audit::{
    ApprovalDecision, ApprovalStatus, ApprovalStore, AuditLog, CallRecord, NewApproval,
    Outcome as AuditOutcome, PendingRequest, Timestamp, Tool, UpstreamRequest,
};
use codemode_credentials::{CredentialStore, KEY_ENV, ServerKey};
use codemode_policy::Policy;
use codemode_ratelimit::{CallPermit, LimitExceeded, Limiter, Tool as RateTool};
use codemode_sandbox::{CancelToken, LogLine, SandboxError};
use codemode_upstream::{Credential, sha256_hex};
use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::json;
use tokio::sync::mpsc;

use crate::approval::{Approver, Ask};
use crate::caller::Caller;
use crate::config::{ApprovalsConfig, Settings};
use crate::host::millis;
use crate::results;

/// Limits, credentials, approvals and the audit log, shared by every call.
pub struct Guard {
    policy: Arc<Policy>,
    limiter: Option<Limiter>,
    credentials: Option<Arc<CredentialStore>>,
    approvals: Arc<ApprovalStore>,
    audit: Arc<AuditLog>,
    store_code: bool,
    timing: ApprovalsConfig,
}

/// What the audit record of a call in progress knows from its start.
pub struct AuditStart {
    time: Timestamp,
    started: Instant,
    subject: String,
    session: Option<String>,
    client: Option<String>,
    tool: Tool,
    code_sha256: String,
    code: Option<String>,
}

/// How a call ended: the result for the client and, when it failed, the kind of failure.
pub struct Finished {
    result: CallToolResult,
    error_kind: Option<String>,
}

impl Finished {
    /// A result the code returned.
    pub fn ok(result: CallToolResult) -> Finished {
        Finished {
            result,
            error_kind: None,
        }
    }

    /// The sandbox ended the call with `error`.
    pub fn failed(error: &SandboxError, logs: &[LogLine]) -> Finished {
        Finished::error(
            results::failure(results::sandbox_error_message(error), logs),
            sandbox_error_kind(error),
        )
    }

    /// A limit refused the call before it ran.
    pub fn refused(limit: LimitExceeded) -> Finished {
        Finished::error(results::failure(limit.to_string(), &[]), "rate_limit")
    }

    /// The call stopped at a request that needs a person's approval: not an error of the
    /// code, but the audit log says why it ended.
    pub fn awaiting_approval(result: CallToolResult) -> Finished {
        Finished {
            result,
            error_kind: Some("approval_required".into()),
        }
    }

    /// Any other failure, of `kind`.
    pub fn error(result: CallToolResult, kind: &str) -> Finished {
        Finished {
            result,
            error_kind: Some(kind.to_string()),
        }
    }
}

impl Guard {
    /// Opens the audit log and the stores the settings name.
    pub fn open(settings: &Settings) -> anyhow::Result<Guard> {
        let policy =
            Policy::new(settings.policy.rules.clone()).context("invalid [policy] rules")?;
        let audit_path = settings.audit_path();
        if let Some(dir) = audit_path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let audit = AuditLog::open(&audit_path)
            .with_context(|| format!("cannot open the audit log {}", audit_path.display()))?;
        if let Some(days) = settings.audit.retention_days {
            let cutoff =
                Timestamp::now().saturating_sub(Duration::from_secs(u64::from(days) * 86_400));
            let pruned = audit.prune(cutoff).context("audit retention failed")?;
            tracing::info!(pruned, days, "audit retention");
        }
        let approvals = ApprovalStore::open(&audit_path)
            .with_context(|| format!("cannot open approvals in {}", audit_path.display()))?;
        let credentials = match std::env::var_os(KEY_ENV) {
            None => None,
            Some(_) => {
                let key = ServerKey::from_env()?;
                let path = settings.credentials_path();
                Some(Arc::new(CredentialStore::open(&path, &key).with_context(
                    || format!("cannot open stored credentials {}", path.display()),
                )?))
            }
        };
        tracing::info!(audit = %audit_path.display(), "audit log open");
        Ok(Guard {
            policy: Arc::new(policy),
            limiter: settings
                .auth_enabled()
                .then(|| Limiter::new(settings.limits)),
            credentials,
            approvals: Arc::new(approvals),
            audit: Arc::new(audit),
            store_code: settings.audit.store_code,
            timing: settings.approvals.clone(),
        })
    }

    /// The policy requests are checked against.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.clone()
    }

    /// The approvals store, for the HTTP approval endpoints.
    pub fn approvals(&self) -> Arc<ApprovalStore> {
        self.approvals.clone()
    }

    /// Starts the audit record of a call.
    pub fn begin(&self, caller: &Caller, tool: Tool, code: &str) -> AuditStart {
        AuditStart {
            time: Timestamp::now(),
            started: Instant::now(),
            subject: caller.principal.subject.clone(),
            session: caller.session.clone(),
            client: caller.client.clone(),
            tool,
            code_sha256: sha256_hex(code.as_bytes()),
            code: self.store_code.then(|| code.to_string()),
        }
    }

    /// Forgets what `subject` counted in a session that has ended.
    pub fn end_session(&self, subject: &str, session: &str) {
        if let Some(limiter) = &self.limiter {
            limiter.end_session(&limit_session(subject, session));
        }
    }

    /// Admits a call under the rate limits (only when auth is on); the permit holds its slot.
    pub fn admit(
        &self,
        caller: &Caller,
        tool: RateTool,
        code: &str,
    ) -> Result<Option<CallPermit>, LimitExceeded> {
        let Some(limiter) = &self.limiter else {
            return Ok(None);
        };
        let subject = &caller.principal.subject;
        let session = limit_session(subject, caller.session.as_deref().unwrap_or("-"));
        limiter.begin(subject, &session, tool, code).map(Some)
    }

    /// The upstream credential: forwarded by the caller, else stored for its subject, else the
    /// server's own.
    pub async fn upstream_credential(
        &self,
        caller: &Caller,
        server: &Option<Credential>,
    ) -> Result<Option<Credential>, String> {
        if let Some(forwarded) = &caller.forwarded {
            return Ok(Some(forwarded.clone()));
        }
        if let Some(store) = &self.credentials {
            let store = store.clone();
            let subject = caller.principal.subject.clone();
            let stored = tokio::task::spawn_blocking(move || store.get(&subject))
                .await
                .map_err(|_| "the credential store stopped".to_string())?
                .map_err(|e| format!("cannot read the stored credential: {e}"))?;
            if let Some(secret) = stored {
                return Credential::new(secret.expose())
                    .map(Some)
                    .map_err(|e| format!("the stored credential is unusable: {e}"));
            }
        }
        Ok(server.clone())
    }

    /// How this call gets approvals: by asking through the client, or by approval id.
    pub fn approver(
        &self,
        asks: Option<mpsc::Sender<Ask>>,
        approval_id: Option<String>,
        stop: CancelToken,
    ) -> Approver {
        match asks.filter(|_| self.timing.ask_clients) {
            Some(asks) => Approver::Ask {
                asks,
                timeout: self.timing.ask_timeout(),
            },
            None => Approver::Deferred {
                store: self.approvals.clone(),
                approval_id,
                stop,
            },
        }
    }

    /// The approval the call used, for its audit record.
    pub async fn used_approval(&self, approval_id: Option<&str>) -> Vec<ApprovalDecision> {
        let Some(id) = approval_id else {
            return Vec::new();
        };
        let store = self.approvals.clone();
        let id = id.to_string();
        match tokio::task::spawn_blocking(move || store.get(&id)).await {
            Ok(Ok(approval)) => vec![ApprovalDecision {
                approval_id: approval.id,
                status: approval.status,
                by: approval.decided_by,
                via: Some("http".into()),
            }],
            _ => Vec::new(),
        }
    }

    /// Ends a call whose requests need approval: stores the approval and says how to get it.
    pub async fn defer(
        &self,
        caller: &Caller,
        code: &str,
        pending: Vec<PendingRequest>,
        logs: &[LogLine],
    ) -> (Finished, Vec<ApprovalDecision>) {
        let store = self.approvals.clone();
        let now = Timestamp::now();
        let request = NewApproval {
            subject: caller.principal.subject.clone(),
            session: caller.session.clone(),
            code_sha256: sha256_hex(code.as_bytes()),
            pending,
            expires_at: now.saturating_add(Duration::from_secs(self.timing.expiry_secs)),
        };
        let created = tokio::task::spawn_blocking(move || store.create(request, now)).await;
        let approval = match created {
            Ok(Ok(approval)) => approval,
            Ok(Err(error)) => {
                let message = format!("approval required, but it could not be stored: {error}");
                return (
                    Finished::error(results::failure(message, logs), "approval"),
                    Vec::new(),
                );
            }
            Err(_) => {
                let message = "approval required, but the approval store stopped";
                return (
                    Finished::error(results::failure(message, logs), "approval"),
                    Vec::new(),
                );
            }
        };
        let id = &approval.id;
        let body = json!({
            "approval_required": {
                "approval_id": id,
                "pending": approval.requests.iter().map(|item| &item.request).collect::<Vec<_>>(),
                "expires_at": approval.expires_at.to_string(),
                "how_to_approve": format!(
                    "A person with the `approve` scope (not you) approves with \
                     POST /approvals/{id}/approve or refuses with POST /approvals/{id}/reject. \
                     Then call execute again with the same code and approval_id \"{id}\"; each \
                     approved request goes through once."
                ),
            }
        });
        let mut content = vec![ContentBlock::text(body.to_string())];
        if !logs.is_empty() {
            content.push(ContentBlock::text(results::console_block(logs)));
        }
        let mut result = CallToolResult::success(content);
        result.structured_content = Some(json!({"result": body, "logs": logs}));
        let decision = ApprovalDecision {
            approval_id: approval.id.clone(),
            status: ApprovalStatus::Pending,
            by: None,
            via: None,
        };
        (Finished::awaiting_approval(result), vec![decision])
    }

    /// Commits the call's audit record, then hands back its result. If the record cannot be
    /// committed, the result is withheld: no call goes unaccounted for.
    pub async fn finish(
        &self,
        start: AuditStart,
        finished: Finished,
        requests: Vec<UpstreamRequest>,
        account: Option<String>,
        approvals: Vec<ApprovalDecision>,
    ) -> CallToolResult {
        let Finished { result, error_kind } = finished;
        let record = CallRecord {
            time: start.time,
            subject: start.subject,
            session: start.session,
            client: start.client,
            tool: start.tool,
            code_sha256: start.code_sha256,
            code: start.code,
            account,
            requests,
            approvals,
            outcome: if result.is_error == Some(true) {
                AuditOutcome::Error
            } else {
                AuditOutcome::Ok
            },
            error_kind,
            duration_ms: millis(start.started.elapsed()),
            result_chars: results::chars(&result),
        };
        let audit = self.audit.clone();
        match tokio::task::spawn_blocking(move || audit.append(&record)).await {
            Ok(Ok(_)) => result,
            Ok(Err(error)) => {
                tracing::error!(%error, "audit append failed; withholding the result");
                results::failure(
                    "the call could not be recorded in the audit log; its result is withheld",
                    &[],
                )
            }
            Err(_) => results::failure("the audit log stopped; the result is withheld", &[]),
        }
    }
}

/// The per-session limit key: the session as one subject uses it, so no caller can use up,
/// or reset, another's counts by naming its session.
fn limit_session(subject: &str, session: &str) -> String {
    format!("{subject}\u{0}{session}")
}

fn sandbox_error_kind(error: &SandboxError) -> &'static str {
    match error {
        SandboxError::CodeTooLarge { .. } => "code_too_large",
        SandboxError::Syntax { .. } => "syntax",
        SandboxError::Timeout { .. } => "timeout",
        SandboxError::OutOfMemory { .. } => "out_of_memory",
        SandboxError::StackOverflow => "stack_overflow",
        SandboxError::Thrown { .. } => "thrown",
        SandboxError::NeverSettled => "never_settled",
        SandboxError::Cancelled => "cancelled",
        SandboxError::Unavailable(_) => "unavailable",
    }
}
