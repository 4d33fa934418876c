//! Why a governed call failed, with a stable kind for the audit log and a message for the agent.

use codemode_audit::{ApprovalError, PendingRequest, RequestDecision, StoreUnavailable};
use codemode_auth::Scope;
use codemode_credentials::CredentialsError;
use codemode_policy::MissingScope;
use codemode_ratelimit::LimitExceeded;
use codemode_sandbox::SandboxError;
use codemode_upstream::{CredentialError, RequestError};

use crate::call::paused::ResumeError;
use crate::wording;

/// Every way a tool call can end without a result from the code.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The tool call's arguments are malformed.
    #[error("Invalid arguments: {0}")]
    Arguments(String),
    /// The caller lacks the scope the tool needs.
    #[error("Invalid arguments: `{tool}` needs the `{}` scope, which this caller does not have", scope.as_str())]
    Scope {
        /// The tool called.
        tool: &'static str,
        /// The scope it needs.
        scope: Scope,
    },
    /// A rate limit or quota refused the call before it ran.
    #[error("{0}")]
    RateLimited(#[from] LimitExceeded),
    /// The subject's stored upstream credential could not be read.
    #[error("cannot read the stored credential: {}", wording::credentials_error(.0))]
    StoredCredential(#[from] CredentialsError),
    /// The subject's stored upstream credential is not a usable token.
    #[error(
        "the stored credential is unusable: {0}; store it again with `codemode credentials set`"
    )]
    UnusableCredential(#[from] CredentialError),
    /// The sandbox ended the call.
    #[error("Error: {0}")]
    Sandbox(#[from] SandboxError),
    /// A request needs approval, but the approval could not be stored.
    #[error("approval required, but it could not be stored: {0}")]
    ApprovalStore(#[from] ApprovalError),
    /// The `approval_id` given cannot let any request through.
    #[error(
        "approval_id \"{id}\" cannot be used: {why}; call execute without approval_id to ask \
         for a new approval"
    )]
    UnusableApproval {
        /// The id given, escaped for showing.
        id: String,
        /// Why it cannot be used.
        why: String,
    },
    /// The call's audit record could not be committed, so its result is withheld.
    #[error(
        "the call could not be recorded in the audit log, so its result is withheld: {0}. Try \
         again shortly; if it persists, the server's operator must free the audit database"
    )]
    AuditUnavailable(StoreUnavailable),
    /// The audit store was known to be unavailable when the call arrived, so it did not run.
    #[error(
        "the call was refused before it ran, because the audit log cannot record it: {0}. Try \
         again shortly; if it persists, the server's operator must free the audit database"
    )]
    AuditDown(StoreUnavailable),
    /// The spec is still loading, so no call can run yet.
    #[error("the server is still loading the API spec; try again in a few seconds")]
    NotReady,
    /// The retry's request state was refused; nothing changed.
    #[error("{0}")]
    Resume(#[from] ResumeError),
    /// The shared rate-limit store could not count the call, so it was refused.
    #[error("{0}")]
    LimitStore(codemode_ratelimit::StoreUnavailable),
    /// A blocking store task stopped before answering.
    #[error("the {0} stopped; try again")]
    StoreStopped(&'static str),
}

impl CallError {
    /// A stable name for the audit log's `error_kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Arguments(_) | CallError::Scope { .. } => "arguments",
            CallError::RateLimited(_) => "rate_limit",
            CallError::StoredCredential(_) | CallError::UnusableCredential(_) => "credentials",
            CallError::Sandbox(error) => sandbox_kind(error),
            CallError::ApprovalStore(_) | CallError::UnusableApproval { .. } => "approval",
            CallError::AuditUnavailable(_) | CallError::AuditDown(_) => "audit",
            CallError::StoreStopped(_) | CallError::NotReady | CallError::LimitStore(_) => {
                "unavailable"
            }
            CallError::Resume(_) => "request_state",
        }
    }

    /// Whether the call was refused before its code ran, so its record keeps only the start
    /// of the code.
    pub fn refused_before_running(&self) -> bool {
        matches!(
            self,
            CallError::Arguments(_)
                | CallError::Scope { .. }
                | CallError::RateLimited(_)
                | CallError::LimitStore(_)
                | CallError::StoredCredential(_)
                | CallError::UnusableCredential(_)
                | CallError::NotReady
                | CallError::AuditDown(_)
                | CallError::UnusableApproval { .. }
                | CallError::Sandbox(
                    SandboxError::CodeTooLarge { .. }
                        | SandboxError::Busy { .. }
                        | SandboxError::TooManyExecutes { .. }
                )
        )
    }
}

fn sandbox_kind(error: &SandboxError) -> &'static str {
    match error {
        SandboxError::CodeTooLarge { .. } => "code_too_large",
        SandboxError::Syntax { .. } => "syntax",
        SandboxError::Timeout { .. } => "timeout",
        SandboxError::OutOfMemory { .. } => "out_of_memory",
        SandboxError::StackOverflow => "stack_overflow",
        SandboxError::Thrown { .. } => "thrown",
        SandboxError::NeverSettled => "never_settled",
        SandboxError::Busy { .. } | SandboxError::TooManyExecutes { .. } => "busy",
        SandboxError::Cancelled => "cancelled",
        SandboxError::Unavailable(_) => "unavailable",
    }
}

/// Why one request of `execute` code was not carried out; the code's promise rejects with it.
#[derive(Debug, thiserror::Error)]
pub enum RequestRefused {
    /// The gateway refused the request, or the API did not answer it usefully.
    #[error("{}", wording::request_error(.0))]
    Gateway(#[from] RequestError),
    /// An operator or default policy rule denies it.
    #[error("{request} refused: denied by policy rule \"{rule}\"")]
    Denied {
        /// The request.
        request: PendingRequest,
        /// The rule.
        rule: String,
    },
    /// The caller's scopes do not cover the request's method.
    #[error(transparent)]
    Scope(#[from] MissingScope),
    /// A person was asked and did not approve.
    #[error(
        "{request} was not approved ({why}); policy rule \"{rule}\" requires a person's approval"
    )]
    NotApproved {
        /// The request.
        request: PendingRequest,
        /// The rule that asked for approval.
        rule: String,
        /// `declined`, `cancelled` or `no answer in time`.
        why: &'static str,
    },
    /// The request needs approval, but no more questions may be asked.
    #[error(
        "{request} needs a person's approval (policy rule \"{rule}\"), and was refused without \
         asking: {why}"
    )]
    NotAsked {
        /// The request.
        request: PendingRequest,
        /// The rule that asked for approval.
        rule: String,
        /// Which question limit applies.
        why: &'static str,
    },
    /// The request waits for an approval that does not exist yet; the call stops.
    #[error("{request} needs a person's approval (policy rule \"{rule}\")")]
    NeedsApproval {
        /// The request.
        request: PendingRequest,
        /// The rule that asked for approval.
        rule: String,
    },
    /// What the code saw for this request when its call first ran, given again on a resume;
    /// or why the resumed run cannot go on.
    #[error("{0}")]
    Recorded(String),
}

impl RequestRefused {
    /// What the audit log records as the decision about the refused request.
    pub fn decision(&self, subject: &str) -> RequestDecision {
        match self {
            RequestRefused::Gateway(_) | RequestRefused::Recorded(_) => RequestDecision::Allow,
            RequestRefused::Denied { rule, .. }
            | RequestRefused::NeedsApproval { rule, .. }
            | RequestRefused::NotAsked { rule, .. } => RequestDecision::Deny { rule: rule.clone() },
            RequestRefused::Scope(_) => RequestDecision::Deny {
                rule: "scopes".into(),
            },
            RequestRefused::NotApproved { .. } => RequestDecision::Rejected {
                by: subject.to_string(),
            },
        }
    }
}
