//! `codemode stdio`: one MCP session over stdin/stdout.

use std::sync::Arc;

use rmcp::ServiceExt as _;

use crate::call::Runner;
use crate::handler::{CodeMode, McpShared};

/// Why the stdio session ended badly.
#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    /// The MCP handshake over stdin/stdout failed.
    #[error("the stdio session failed to start: {0}")]
    Start(String),
    /// The session's task stopped abnormally.
    #[error("the stdio session stopped: {0}")]
    Stopped(String),
}

/// Serves one MCP session over stdin/stdout until the client closes it.
pub async fn serve(runner: Arc<Runner>) -> Result<(), StdioError> {
    let service = CodeMode::new(McpShared::new(runner))
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|error| StdioError::Start(error.to_string()))?;
    service
        .waiting()
        .await
        .map_err(|error| StdioError::Stopped(error.to_string()))?;
    Ok(())
}
