//! The one INFO line each tool call leaves in the server log: who, in which session, which
//! tool, how it ended, how long it took and how many upstream requests it made. Never the
//! code, its result or a credential; names are written escaped ([`shown::escaped`]), so
//! control and bidi characters a subject carries cannot forge or hide log text.

use std::time::Duration;

use crate::call::{CallOutcome, Caller, Returned};
use crate::shown;

/// Logs the end of one call.
pub fn log_call(
    caller: &Caller,
    tool: &'static str,
    outcome: &CallOutcome,
    elapsed: Duration,
    upstream_requests: usize,
) {
    tracing::info!(
        subject = %shown::escaped(caller.subject()),
        session = %shown::escaped(caller.session.as_deref().unwrap_or("-")),
        tool,
        outcome = outcome_label(outcome),
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        upstream_requests,
        "tool call"
    );
}

/// `ok`, `approval_required`, or the error's stable kind (as the audit log has it).
fn outcome_label(outcome: &CallOutcome) -> &'static str {
    match &outcome.result {
        Ok(Returned::Value { .. }) => "ok",
        Ok(Returned::ApprovalRequired(_)) => "approval_required",
        Err(error) => error.kind(),
    }
}
