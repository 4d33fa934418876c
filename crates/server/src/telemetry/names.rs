//! Every metric the server exports: its name, its labels and what it counts, in one place.
//! The README's operator section lists the same. No label ever carries a subject, a session, a
//! path, code or a credential: only the fixed words named here and the upstream's host name.

/// Tool calls, by `tool` (`search`, `execute`) and `outcome` (`ok`, `approval_required`, or
/// the audit log's error kind, e.g. `rate_limit`, `busy`, `audit`, `timeout`, `thrown`).
pub const TOOL_CALLS: &str = "codemode_tool_calls_total";
/// Seconds from a tool call's arrival to its answer, by `tool`.
pub const TOOL_CALL_SECONDS: &str = "codemode_tool_call_duration_seconds";
/// Calls refused at once because the audit store could not record them (they fail closed).
pub const AUDIT_UNAVAILABLE: &str = "codemode_audit_unavailable_total";
/// Of those, the calls refused with no write attempted, because the audit store was already
/// known to be unavailable (its last write failed and no probe has found it back yet).
pub const AUDIT_FAST_FAILURES: &str = "codemode_audit_fast_failures_total";
/// Seconds to commit one call's audit record.
pub const AUDIT_COMMIT_SECONDS: &str = "codemode_audit_commit_duration_seconds";
/// Calls refused because the sandbox was full, by `reason`: `queue_full` (every worker busy
/// and the queue full) or `executes` (`[sandbox] executes` calls already in progress).
pub const SANDBOX_REFUSED: &str = "codemode_sandbox_refused_total";
/// Sandbox worker threads.
pub const SANDBOX_WORKERS: &str = "codemode_sandbox_workers";
/// Sandbox workers running code now.
pub const SANDBOX_BUSY: &str = "codemode_sandbox_workers_busy";
/// Calls waiting for a sandbox worker now.
pub const SANDBOX_QUEUED: &str = "codemode_sandbox_queued";
/// `execute` calls in progress now, waiting on their requests included.
pub const SANDBOX_EXECUTES: &str = "codemode_sandbox_executes_in_progress";
/// Requests sent upstream, by `upstream` (its host) and `status` (`1xx` … `5xx`, or `none`
/// when no response came).
pub const UPSTREAM_REQUESTS: &str = "codemode_upstream_requests_total";
/// Seconds from a request's check to its final answer, retries included, by `upstream`.
pub const UPSTREAM_REQUEST_SECONDS: &str = "codemode_upstream_request_duration_seconds";
/// Requests sent again after a 429 or 503, by `upstream`.
pub const UPSTREAM_RETRIES: &str = "codemode_upstream_retries_total";
/// Calls or requests refused by a limit, by `limit` (the `[limits]` key, or `subrequests`
/// for `[upstream] max_subrequests`).
pub const LIMITS_HIT: &str = "codemode_limits_hit_total";
/// Approvals waiting for a person's decision now.
pub const APPROVALS_PENDING: &str = "codemode_approvals_pending";
/// Approval decisions, by `decision` (`approved`, `rejected`) and `via` (`http` for the
/// approval API and page, `client` for a question answered at the MCP client).
pub const APPROVALS_DECIDED: &str = "codemode_approvals_decided_total";
/// Seconds since the spec in service was loaded or its source last confirmed it current.
pub const SPEC_AGE_SECONDS: &str = "codemode_spec_age_seconds";
/// Operations in the spec in service.
pub const SPEC_OPERATIONS: &str = "codemode_spec_operations";
/// Always 1, with the running `version` as a label.
pub const BUILD_INFO: &str = "codemode_build_info";

/// MCP sessions open now: initialized and not yet closed by DELETE, the idle timeout or the
/// client going away.
pub const SESSIONS_OPEN: &str = "codemode_sessions_open";

/// What each metric means, as `# HELP` shows it.
pub const DESCRIPTIONS: [(&str, &str); 20] = [
    (TOOL_CALLS, "Tool calls by tool and outcome."),
    (TOOL_CALL_SECONDS, "Tool call latency by tool."),
    (
        AUDIT_UNAVAILABLE,
        "Calls refused because the audit store could not record them.",
    ),
    (
        AUDIT_FAST_FAILURES,
        "Calls refused at once, no write attempted, as the audit store was known unavailable.",
    ),
    (AUDIT_COMMIT_SECONDS, "Time to commit one audit record."),
    (
        SANDBOX_REFUSED,
        "Calls refused because the sandbox was full, by reason.",
    ),
    (SANDBOX_WORKERS, "Sandbox worker threads."),
    (SANDBOX_BUSY, "Sandbox workers running code."),
    (SANDBOX_QUEUED, "Calls waiting for a sandbox worker."),
    (SANDBOX_EXECUTES, "Execute calls in progress."),
    (
        UPSTREAM_REQUESTS,
        "Upstream requests by upstream and status class.",
    ),
    (
        UPSTREAM_REQUEST_SECONDS,
        "Upstream request latency, retries included.",
    ),
    (
        UPSTREAM_RETRIES,
        "Upstream requests sent again after 429 or 503.",
    ),
    (
        LIMITS_HIT,
        "Calls or requests refused by a limit, by limit.",
    ),
    (APPROVALS_PENDING, "Approvals waiting for a decision."),
    (
        APPROVALS_DECIDED,
        "Approval decisions by decision and channel.",
    ),
    (
        SPEC_AGE_SECONDS,
        "Seconds since the spec in service was loaded or confirmed current.",
    ),
    (SPEC_OPERATIONS, "Operations in the spec in service."),
    (BUILD_INFO, "The running version, as a label; always 1."),
    (
        SESSIONS_OPEN,
        "MCP sessions initialized and not yet closed.",
    ),
];
