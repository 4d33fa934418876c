//! The only place that builds MCP tool results: a [`CallOutcome`] as a `CallToolResult`.

use rmcp::model::{CallToolResult, ContentBlock};

use crate::call::CallOutcome;

/// The outcome as MCP content: one text block per text the agent reads, plus the structured
/// value when there is one.
pub fn tool_result(outcome: &CallOutcome) -> CallToolResult {
    let content = outcome
        .texts()
        .into_iter()
        .map(ContentBlock::text)
        .collect();
    if outcome.is_error() {
        return CallToolResult::error(content);
    }
    let mut result = CallToolResult::success(content);
    result.structured_content = outcome.structured();
    result
}
