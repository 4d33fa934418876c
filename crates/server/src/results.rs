//! Turns sandbox outcomes and errors into MCP tool results.

use codemode_sandbox::{LogLevel, LogLine, Outcome, SandboxError};
use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::json;

/// A successful call: the return value as JSON first, then console output and notices.
pub fn success(outcome: &Outcome, logs: &[LogLine]) -> CallToolResult {
    let mut content = vec![ContentBlock::text(outcome.result.to_string())];
    if !logs.is_empty() {
        content.push(ContentBlock::text(console_block(logs)));
    }
    if let Some(truncation) = &outcome.truncation {
        content.push(ContentBlock::text(format!("Note: {truncation}")));
    }
    let mut result = CallToolResult::success(content);
    result.structured_content = Some(json!({
        "result": outcome.result,
        "logs": logs,
    }));
    result
}

/// A failed call: a tool error with a message the agent can act on, then any console output.
pub fn failure(message: impl Into<String>, logs: &[LogLine]) -> CallToolResult {
    let mut content = vec![ContentBlock::text(message.into())];
    if !logs.is_empty() {
        content.push(ContentBlock::text(console_block(logs)));
    }
    CallToolResult::error(content)
}

/// The message for a sandbox error, as the agent reads it.
pub fn sandbox_error_message(error: &SandboxError) -> String {
    format!("Error: {error}")
}

/// The console lines as one text block.
pub fn console_block(logs: &[LogLine]) -> String {
    let mut text = String::from("Console output:");
    for line in logs {
        text.push('\n');
        match line.level {
            LogLevel::Log | LogLevel::Info => {}
            LogLevel::Warn => text.push_str("[warn] "),
            LogLevel::Error => text.push_str("[error] "),
        }
        text.push_str(&line.text);
    }
    text
}

/// Characters of text the result carries, for the audit log.
pub fn chars(result: &CallToolResult) -> u64 {
    result
        .content
        .iter()
        .filter_map(|block| block.as_text())
        .map(|text| text.text.chars().count() as u64)
        .sum()
}
