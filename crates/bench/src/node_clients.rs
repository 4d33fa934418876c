//! Tool calls timed through the official TypeScript SDK clients (`clients/sdk-calls.mjs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::stats::{Summary, warm_up};

/// The longest one client run may take before the bench gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// Which TypeScript SDK.
#[derive(Debug, Clone, Copy)]
pub enum Sdk {
    /// `@modelcontextprotocol/sdk` 1.x.
    V1,
    /// `@modelcontextprotocol/client` 2.x.
    V2,
}

impl Sdk {
    /// Its name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Sdk::V1 => "TS SDK v1",
            Sdk::V2 => "TS SDK v2",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Sdk::V1 => "v1",
            Sdk::V2 => "v2",
        }
    }
}

/// One kind of call to time.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// Its key in the results.
    pub label: &'static str,
    /// The tool.
    pub tool: &'static str,
    /// The agent code.
    pub code: &'static str,
}

/// The timing of one kind of call.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    /// Latency of the measured calls.
    pub latency: Summary,
    /// Characters of the result's text.
    pub text_chars: usize,
}

/// Where Node finds the SDKs.
pub struct NodeClients {
    /// The `node_modules` holding both SDKs (`tests/node_modules` after `npm ci` in tests/).
    pub node_modules: PathBuf,
}

impl NodeClients {
    /// Times each call `iterations` times through `sdk` against the MCP endpoint `url`.
    pub async fn time(
        &self,
        sdk: Sdk,
        url: &str,
        iterations: usize,
        calls: &[Call],
    ) -> anyhow::Result<BTreeMap<&'static str, Timed>> {
        let config = json!({
            "sdk": sdk.flag(),
            "url": url,
            "iterations": iterations,
            "warmUp": warm_up(iterations),
            "calls": calls.iter().map(|c| json!({"label": c.label, "tool": c.tool, "code": c.code})).collect::<Vec<_>>(),
        });
        let mut command = node(&self.node_modules);
        command.arg(script()).arg(config.to_string());
        let output = tokio::time::timeout(RUN_LIMIT, command.output())
            .await
            .with_context(|| format!("the {} client took over {RUN_LIMIT:?}", sdk.name()))??;
        anyhow::ensure!(
            output.status.success(),
            "the {} client failed: {}",
            sdk.name(),
            String::from_utf8_lossy(&output.stderr)
        );
        let results: Value = serde_json::from_slice(&output.stdout)
            .with_context(|| format!("the {} client printed no results", sdk.name()))?;
        calls
            .iter()
            .map(|call| {
                let entry = &results[call.label];
                let samples: Vec<f64> = entry["ms"]
                    .as_array()
                    .context("no samples")?
                    .iter()
                    .filter_map(Value::as_f64)
                    .collect();
                let timed = Timed {
                    latency: Summary::of_millis(&samples),
                    text_chars: entry["textChars"].as_u64().unwrap_or_default() as usize,
                };
                Ok((call.label, timed))
            })
            .collect()
    }
}

/// A `node` command that resolves packages from `node_modules`.
pub fn node(node_modules: &Path) -> Command {
    let mut command = Command::new("node");
    command
        .env("NODE_MODULES", node_modules)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/sdk-calls.mjs")
}
