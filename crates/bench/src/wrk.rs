//! Throughput through `wrk`, a load generator outside the bench's own client: a Lua script
//! posts `tools/call` over sessions the bench opened, and reports answers, errors and latency.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;
use tokio::process::Command;

use crate::load::ToolCall;
use crate::raw_mcp::{ACCEPT, PROTOCOL_VERSION, RawSession};

/// Extra time `wrk` may take beyond its run before the bench gives up on it.
const SLACK: Duration = Duration::from_secs(30);

/// What one `wrk` run measured.
pub struct WrkRun {
    /// The tool call it repeated.
    pub call: ToolCall,
    /// Answers without error, per second.
    pub per_sec: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Responses in all.
    pub answered: u64,
    /// Non-200 answers, tool errors, and socket errors (connect, read, write, timeout).
    pub errors: u64,
}

/// Runs `wrk` with one connection per session for `duration`, each request a `tools/call` of
/// `call` on the next of `sessions` sessions it opens first.
pub async fn throughput(
    addr: SocketAddr,
    sessions: usize,
    call: ToolCall,
    duration: Duration,
) -> anyhow::Result<WrkRun> {
    let mut ids = Vec::with_capacity(sessions);
    let mut opened = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        let session = RawSession::open(addr).await?;
        ids.push(session.id().to_string());
        opened.push(session);
    }
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("tools-call.lua");
    std::fs::write(&script, lua_script(&ids, call))?;
    let run = Command::new("wrk")
        .args(["-t", "1", "-c", &sessions.to_string(), "-d"])
        .arg(format!("{}s", duration.as_secs().max(1)))
        .arg("-s")
        .arg(&script)
        .arg(format!("http://{addr}/mcp"))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(duration + SLACK, run)
        .await
        .context("wrk did not finish")?
        .context("cannot run wrk: install it (Debian: apt-get install -y wrk)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "wrk failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for session in opened {
        session.close().await?;
    }
    let value = |key: &str| -> anyhow::Result<f64> {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(key)?.trim().parse().ok())
            .with_context(|| format!("no `{key}` in wrk's output: {stdout}"))
    };
    let answered = value("codemode-answered")? as u64;
    let errors = value("codemode-errors")? as u64;
    let seconds = value("codemode-duration-us")? / 1e6;
    let micros = |us: f64| Duration::from_secs_f64(us / 1e6);
    Ok(WrkRun {
        call,
        per_sec: answered.saturating_sub(errors) as f64 / seconds,
        p50: micros(value("codemode-p50-us")?),
        p99: micros(value("codemode-p99-us")?),
        answered,
        errors,
    })
}

/// The script: each request is a `tools/call` with a fresh id on the next session; a
/// response that is not 200 or carries `"isError":true` counts as an error.
fn lua_script(sessions: &[String], (tool, code): ToolCall) -> String {
    let quoted: Vec<String> = sessions.iter().map(|id| format!("{id:?}")).collect();
    let template = json!({
        "jsonrpc": "2.0", "id": 0, "method": "tools/call",
        "params": { "name": tool, "arguments": { "code": code } }
    })
    .to_string()
    .replacen("\"id\":0", "\"id\":%d", 1)
    .replace('%', "%%")
    .replacen("%%d", "%d", 1);
    format!(
        r#"local sessions = {{ {sessions} }}
local template = {template:?}
local threads = {{}}
function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end
function init(args)
  errors = 0
  sent = 0
end
function request()
  sent = sent + 1
  local session = sessions[(sent + index) % #sessions + 1]
  local headers = {{
    ["Content-Type"] = "application/json",
    ["Accept"] = "{ACCEPT}",
    ["Mcp-Session-Id"] = session,
    ["Mcp-Protocol-Version"] = "{PROTOCOL_VERSION}",
  }}
  return wrk.format("POST", "/mcp", headers, string.format(template, index * 1000000000 + sent))
end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"isError":true', 1, true) then
    errors = errors + 1
  end
end
function done(summary, latency, requests)
  local errors = 0
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("errors")
  end
  local e = summary.errors
  errors = errors + e.connect + e.read + e.write + e.timeout
  io.write(string.format("codemode-answered %d\n", summary.requests))
  io.write(string.format("codemode-errors %d\n", errors))
  io.write(string.format("codemode-duration-us %d\n", summary.duration))
  io.write(string.format("codemode-p50-us %d\n", latency:percentile(50)))
  io.write(string.format("codemode-p99-us %d\n", latency:percentile(99)))
end
"#,
        sessions = quoted.join(", "),
    )
}
