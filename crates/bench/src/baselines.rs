//! The same-run baselines in `../shared/bench/`: Cloudflare's approach to `search`
//! (`cf-approach/`) and the TypeScript SDK's own floor (`sdk-floor/`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Child;

use crate::node_clients::node;

/// The longest a baseline's command may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(300);

/// What Cloudflare's approach measured.
pub struct CfApproach {
    /// The median of its search calls after the first.
    pub median: Duration,
    /// Calls it made.
    pub calls: usize,
}

/// Runs `cf-process.mjs` into a temporary directory, then `search-bench.mjs` for `calls` calls.
pub async fn cf_approach(
    shared_bench: &Path,
    node_modules: &Path,
    spec: &Path,
    calls: usize,
) -> anyhow::Result<CfApproach> {
    let dir = tempfile::tempdir()?;
    let processed = dir.path().join("spec.processed.json");
    let scripts = shared_bench.join("cf-approach");
    run(node(node_modules)
        .arg(scripts.join("cf-process.mjs"))
        .arg(spec)
        .arg(&processed))
    .await
    .context("cf-approach/cf-process.mjs")?;
    let out = run(node(node_modules)
        .arg(scripts.join("search-bench.mjs"))
        .arg(&processed)
        .arg(calls.to_string()))
    .await
    .context("cf-approach/search-bench.mjs")?;
    let median: f64 = out
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("median "))
        .and_then(|rest| rest.strip_suffix(" ms"))
        .context("search-bench.mjs printed no \"median N ms\" line")?
        .parse()?;
    Ok(CfApproach {
        median: Duration::from_secs_f64(median / 1000.0),
        calls,
    })
}

async fn run(command: &mut tokio::process::Command) -> anyhow::Result<String> {
    let output = tokio::time::timeout(COMMAND_LIMIT, command.output())
        .await
        .context("took too long")??;
    anyhow::ensure!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The SDK floor's server, running; killed when dropped.
pub struct SdkFloor {
    _child: Child,
    /// Where it listens (MCP at `/mcp`).
    pub addr: SocketAddr,
}

impl SdkFloor {
    /// Starts `sdk-floor/server.mjs` and reads the port it prints.
    pub async fn start(shared_bench: &Path, node_modules: &Path) -> anyhow::Result<SdkFloor> {
        let mut child = node(node_modules)
            .arg(shared_bench.join("sdk-floor/server.mjs"))
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start sdk-floor/server.mjs")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("sdk-floor/server.mjs printed no port within 30 s")??
            .context("sdk-floor/server.mjs exited without printing its port")?;
        let port: u16 = line
            .trim()
            .parse()
            .with_context(|| format!("sdk-floor/server.mjs printed {line:?}, not a port"))?;
        Ok(SdkFloor {
            _child: child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }
}
