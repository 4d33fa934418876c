//! The metric handles the request path records through: resolved once, so recording a call
//! is a few atomic additions, with no lock, lookup or allocation.

use std::sync::OnceLock;
use std::time::Duration;

use codemode_audit::StoreUnavailable;
use codemode_ratelimit::Limit;
use codemode_sandbox::SandboxError;
use metrics::{Counter, Histogram, counter, histogram};

use crate::call::audit::Ledgered;
use crate::call::{CallError, CallOutcome, Returned};
use crate::telemetry::names;

/// Which tool a call was.
#[derive(Debug, Clone, Copy)]
pub enum ToolName {
    /// `search`.
    Search,
    /// `execute`.
    Execute,
}

impl ToolName {
    /// The tool's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolName::Search => "search",
            ToolName::Execute => "execute",
        }
    }
}

/// Where a person's approval decision came from.
#[derive(Debug, Clone, Copy)]
pub enum DecidedVia {
    /// The approval API or page.
    Http,
    /// A question answered at the MCP client.
    Client,
}

/// Every outcome a call can end with (`ok`, `approval_required`, and each [`CallError::kind`]);
/// a kind missing here is still counted, through a slower lookup.
const OUTCOMES: [&str; 18] = [
    "ok",
    "approval_required",
    "arguments",
    "rate_limit",
    "credentials",
    "code_too_large",
    "syntax",
    "timeout",
    "out_of_memory",
    "stack_overflow",
    "thrown",
    "never_settled",
    "busy",
    "cancelled",
    "unavailable",
    "approval",
    "audit",
    "request_state",
];

/// Every limit, by its `[limits]` key, then the per-call request budget.
const LIMITS: [&str; 7] = [
    "search_per_session",
    "execute_per_session",
    "execute_per_subject_per_day",
    "concurrent_per_subject",
    "max_code_chars",
    "refusals_per_subject_per_hour",
    SUBREQUESTS,
];

/// The `limit` label of `[upstream] max_subrequests`.
const SUBREQUESTS: &str = "subrequests";

/// The process's metric handles, registered with the recorder installed first.
pub struct Meters {
    calls: [[Counter; OUTCOMES.len()]; 2],
    call_seconds: [Histogram; 2],
    audit_unavailable: Counter,
    audit_fast_failures: Counter,
    audit_commit: Histogram,
    queue_full: Counter,
    executes_full: Counter,
    limits: [Counter; LIMITS.len()],
    /// Indexed by [`DecidedVia`], then approved / rejected.
    decided: [[Counter; 2]; 2],
}

/// The handles; registered on first use, so the recorder must be installed before any call.
pub fn meters() -> &'static Meters {
    static METERS: OnceLock<Meters> = OnceLock::new();
    METERS.get_or_init(Meters::register)
}

impl Meters {
    fn register() -> Meters {
        let tool_calls = |tool: ToolName| {
            OUTCOMES.map(|outcome| {
                counter!(names::TOOL_CALLS, "tool" => tool.as_str(), "outcome" => outcome)
            })
        };
        let decided = |via: &'static str| {
            ["approved", "rejected"].map(
                |decision| counter!(names::APPROVALS_DECIDED, "decision" => decision, "via" => via),
            )
        };
        Meters {
            calls: [tool_calls(ToolName::Search), tool_calls(ToolName::Execute)],
            call_seconds: [ToolName::Search, ToolName::Execute]
                .map(|tool| histogram!(names::TOOL_CALL_SECONDS, "tool" => tool.as_str())),
            audit_unavailable: counter!(names::AUDIT_UNAVAILABLE),
            audit_fast_failures: counter!(names::AUDIT_FAST_FAILURES),
            audit_commit: histogram!(names::AUDIT_COMMIT_SECONDS),
            queue_full: counter!(names::SANDBOX_REFUSED, "reason" => "queue_full"),
            executes_full: counter!(names::SANDBOX_REFUSED, "reason" => "executes"),
            limits: LIMITS.map(|limit| counter!(names::LIMITS_HIT, "limit" => limit)),
            decided: [decided("http"), decided("client")],
        }
    }

    /// Counts one finished tool call: its outcome, its latency, and the refusal it met;
    /// returns the outcome's label.
    pub fn call(&self, tool: ToolName, outcome: &CallOutcome, elapsed: Duration) -> &'static str {
        let label = match &outcome.result {
            Ok(Returned::Value { .. }) => "ok",
            Ok(Returned::ApprovalRequired(_)) => "approval_required",
            Err(error) => error.kind(),
        };
        match OUTCOMES.iter().position(|known| *known == label) {
            Some(index) => self.calls[tool as usize][index].increment(1),
            None => counter!(names::TOOL_CALLS, "tool" => tool.as_str(), "outcome" => label)
                .increment(1),
        }
        self.call_seconds[tool as usize].record(elapsed.as_secs_f64());
        match &outcome.result {
            Err(
                CallError::AuditDown(_)
                | CallError::AuditUnavailable(StoreUnavailable::Down { .. }),
            ) => {
                self.audit_unavailable.increment(1);
                self.audit_fast_failures.increment(1);
            }
            Err(CallError::AuditUnavailable(_)) => self.audit_unavailable.increment(1),
            Err(CallError::Sandbox(SandboxError::Busy { .. })) => self.queue_full.increment(1),
            Err(CallError::Sandbox(SandboxError::TooManyExecutes { .. })) => {
                self.executes_full.increment(1);
            }
            Err(CallError::RateLimited(refused)) => {
                self.limits[limit_index(refused.limit)].increment(1);
            }
            _ => {}
        }
        label
    }

    /// Counts a request refused by the call's request budget.
    pub fn subrequest_limit(&self) {
        self.limits[LIMITS.len() - 1].increment(1);
    }

    /// Records how long one audit commit took.
    pub fn audit_commit(&self, elapsed: Duration) {
        self.audit_commit.record(elapsed.as_secs_f64());
    }

    /// Counts one person's decision.
    pub fn decided(&self, via: DecidedVia, approved: bool) {
        self.decided[via as usize][usize::from(!approved)].increment(1);
    }
}

fn limit_index(limit: Limit) -> usize {
    match limit {
        Limit::SearchPerSession => 0,
        Limit::ExecutePerSession => 1,
        Limit::ExecutePerSubjectPerDay => 2,
        Limit::ConcurrentPerSubject => 3,
        Limit::CodeLength => 4,
        Limit::RefusalsPerSubjectPerHour => 5,
    }
}

/// One upstream's request handles, labelled with its name (its global in `execute`).
pub struct UpstreamMeters {
    name: String,
    /// Indexed by status class: `none`, `1xx` … `5xx`.
    requests: [Counter; 6],
    seconds: Histogram,
    retries: Counter,
}

impl UpstreamMeters {
    /// The handles for the upstream `name`, as `[[upstreams]]` names it.
    pub fn new(name: &str) -> UpstreamMeters {
        let label = name.to_string();
        UpstreamMeters {
            name: label.clone(),
            requests: ["none", "1xx", "2xx", "3xx", "4xx", "5xx"].map(|class| {
                counter!(names::UPSTREAM_REQUESTS, "upstream" => label.clone(), "status" => class)
            }),
            seconds: histogram!(names::UPSTREAM_REQUEST_SECONDS, "upstream" => label.clone()),
            retries: counter!(names::UPSTREAM_RETRIES, "upstream" => label),
        }
    }

    /// Counts the requests a call's ledger says were sent to this upstream.
    pub fn ledger(&self, ledger: &[Ledgered]) {
        let sent = ledger
            .iter()
            .filter(|(upstream, record)| *upstream == self.name && record.attempts > 0);
        for (_, record) in sent {
            let class = record
                .status
                .map_or(0, |status| usize::from(status / 100).clamp(1, 5));
            self.requests[class].increment(1);
            self.retries.increment(u64::from(record.attempts - 1));
            self.seconds.record(record.duration.as_secs_f64());
        }
    }
}
