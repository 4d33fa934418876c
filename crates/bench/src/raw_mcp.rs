//! A raw MCP client: Streamable HTTP JSON-RPC with a session, over one keep-alive connection.

use std::net::SocketAddr;

use anyhow::Context as _;
use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::connection::Connection;
use crate::stats::{Summary, warm_up};

/// The protocol version every raw session speaks.
pub const PROTOCOL_VERSION: &str = "2025-11-25";
/// The `Accept` header of every POST.
pub const ACCEPT: &str = "application/json, text/event-stream";

/// What a tool call gave back.
pub struct ToolReply {
    /// Bytes of the HTTP response body (the JSON-RPC message, framed).
    pub body_bytes: usize,
    /// Characters of the first text content.
    pub text_chars: usize,
}

/// One MCP session on its own connection.
pub struct RawSession {
    connection: Connection,
    session: String,
    next_id: u64,
}

impl RawSession {
    /// Connects, initialises a session and sends `notifications/initialized`.
    pub async fn open(addr: SocketAddr) -> anyhow::Result<RawSession> {
        let mut session = RawSession {
            connection: Connection::open(addr).await?,
            session: String::new(),
            next_id: 1,
        };
        let initialize = json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": { "name": "codemode-bench", "version": "1" }
            }
        });
        let reply = session.post(&initialize).await?;
        anyhow::ensure!(
            reply.status == StatusCode::OK,
            "initialize answered {}",
            reply.status
        );
        session.session = reply
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .context("initialize gave no mcp-session-id")?
            .to_string();
        response_to(&reply.body, 0)?;
        let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
        let reply = session.post(&initialized).await?;
        anyhow::ensure!(
            reply.status == StatusCode::ACCEPTED,
            "notifications/initialized answered {}",
            reply.status
        );
        Ok(session)
    }

    /// The session's `Mcp-Session-Id`.
    pub fn id(&self) -> &str {
        &self.session
    }

    /// Calls `tool` with `{code}`; a tool error or a JSON-RPC error is an `Err`.
    pub async fn call(&mut self, tool: &str, code: &str) -> anyhow::Result<ToolReply> {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": tool, "arguments": { "code": code } }
        });
        let reply = self.post(&request).await?;
        anyhow::ensure!(
            reply.status == StatusCode::OK,
            "tools/call answered {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        let result = response_to(&reply.body, id)?;
        let text = result["content"][0]["text"].as_str().unwrap_or_default();
        anyhow::ensure!(
            result["isError"] != json!(true),
            "{tool} failed: {}",
            text.chars().take(300).collect::<String>()
        );
        Ok(ToolReply {
            body_bytes: reply.body.len(),
            text_chars: text.chars().count(),
        })
    }

    /// Calls `tool` [`warm_up`] times, then `iterations` times, timed;
    /// returns the latency and the last reply.
    pub async fn time(
        &mut self,
        tool: &str,
        code: &str,
        iterations: usize,
    ) -> anyhow::Result<(Summary, ToolReply)> {
        let mut last = self.call(tool, code).await?;
        for _ in 0..warm_up(iterations) {
            last = self.call(tool, code).await?;
        }
        let mut samples = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let began = std::time::Instant::now();
            last = self.call(tool, code).await?;
            samples.push(began.elapsed());
        }
        Ok((Summary::of(samples), last))
    }

    /// Ends the session (`DELETE /mcp`).
    pub async fn close(mut self) -> anyhow::Result<()> {
        let session = self.session.clone();
        let headers = [
            ("mcp-session-id", session.as_str()),
            ("mcp-protocol-version", PROTOCOL_VERSION),
        ];
        self.connection
            .send(Method::DELETE, "/mcp", &headers, Bytes::new())
            .await?;
        Ok(())
    }

    async fn post(&mut self, message: &Value) -> anyhow::Result<crate::connection::Reply> {
        let session = self.session.clone();
        let mut headers = vec![("content-type", "application/json"), ("accept", ACCEPT)];
        if !session.is_empty() {
            headers.push(("mcp-session-id", session.as_str()));
            headers.push(("mcp-protocol-version", PROTOCOL_VERSION));
        }
        let body = Bytes::from(serde_json::to_vec(message)?);
        self.connection
            .send(Method::POST, "/mcp", &headers, body)
            .await
    }
}

/// Finds the JSON-RPC response with `id` in a JSON or SSE body and returns its `result`.
fn response_to(body: &[u8], id: u64) -> anyhow::Result<Value> {
    let text = std::str::from_utf8(body).context("response is not UTF-8")?;
    let messages: Vec<Value> = if text.trim_start().starts_with('{') {
        vec![serde_json::from_str(text)?]
    } else {
        sse_data(text)
            .iter()
            .filter_map(|data| serde_json::from_str(data).ok())
            .collect()
    };
    let response = messages
        .into_iter()
        .find(|m| m["id"] == json!(id))
        .with_context(|| format!("no response to request {id} in {} bytes", body.len()))?;
    if let Some(error) = response.get("error") {
        anyhow::bail!("JSON-RPC error: {error}");
    }
    Ok(response["result"].clone())
}

/// The data of each event of a `text/event-stream` body.
fn sse_data(text: &str) -> Vec<String> {
    let mut events = Vec::new();
    let mut data = String::new();
    for line in text.lines() {
        if line.is_empty() {
            if !data.is_empty() {
                events.push(std::mem::take(&mut data));
            }
        } else if let Some(rest) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        }
    }
    if !data.is_empty() {
        events.push(data);
    }
    events
}
