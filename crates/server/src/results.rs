//! The only place that builds MCP tool results: a [`CallOutcome`] as a `CallToolResult`.

use rmcp::model::{CallToolResult, ContentBlock};

use crate::call::CallOutcome;

/// The outcome as MCP content: one text block per text the agent reads, each sent once.
///
/// No `structuredContent`: the tools declare no output schema, so the spec does not ask for
/// it, no client validates it, and beside the text block (which the spec asks for as a
/// fallback) it would send every result twice.
pub fn tool_result(outcome: CallOutcome) -> CallToolResult {
    let is_error = outcome.is_error();
    let content = outcome
        .into_texts()
        .into_iter()
        .map(ContentBlock::text)
        .collect();
    if is_error {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    }
}
