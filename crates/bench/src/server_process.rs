//! Figures taken from the outside: the real `codemode serve` process and an MCP client on loopback.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::TYPICAL_SEARCH;
use crate::inprocess::repeat;
use crate::stats::{Summary, ms, row};

/// What the out-of-process run measured.
pub struct ServerProcess {
    startup: Duration,
    rss_ready_mib: f64,
    rss_peak_mib: f64,
    search_over_mcp: Summary,
}

impl ServerProcess {
    /// Prints the rows of the report.
    pub fn print(&self) {
        println!(
            "| server start-up, spawn to /healthz answering | {} | | ≤ 2 s |",
            ms(self.startup)
        );
        println!(
            "| server RSS with the spec loaded, idle | {:.1} MiB | | ≤ 250 MiB |",
            self.rss_ready_mib
        );
        println!(
            "| server peak RSS after the search workload | {:.1} MiB | | ≤ 250 MiB |",
            self.rss_peak_mib
        );
        row(
            "search over MCP (Streamable HTTP, loopback)",
            self.search_over_mcp,
            "",
        );
    }
}

/// Starts the server on the spec, waits for it, then measures memory and search over MCP.
pub async fn measure(
    binary: &Path,
    spec: &Path,
    iterations: usize,
) -> anyhow::Result<ServerProcess> {
    let port = free_port()?;
    let started = Instant::now();
    let mut child = Command::new(binary)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--spec"])
        .arg(spec)
        .env_remove("CLOUDFLARE_API_TOKEN")
        .env("XDG_DATA_HOME", data_dir()?)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    drain_stderr(&mut child);
    let http = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{port}/healthz");
    loop {
        if let Ok(response) = http.get(&health).send().await
            && response.status().is_success()
        {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let startup = started.elapsed();
    let pid = child.id().context("server exited")?;
    let rss_ready_mib = memory_mib(pid, "VmRSS:")?;

    let transport = StreamableHttpClientTransport::from_uri(format!("http://127.0.0.1:{port}/mcp"));
    let client = ().serve(transport).await?;
    let search_over_mcp = repeat(iterations, || async {
        let arguments = json!({ "code": TYPICAL_SEARCH });
        let params = CallToolRequestParams::new("search")
            .with_arguments(arguments.as_object().cloned().unwrap_or_default());
        let result = client.call_tool(params).await?;
        anyhow::ensure!(result.is_error != Some(true), "search failed: {result:?}");
        Ok::<(), anyhow::Error>(())
    })
    .await?;
    let rss_peak_mib = memory_mib(pid, "VmHWM:")?;
    client.cancel().await?;
    child.kill().await?;
    Ok(ServerProcess {
        startup,
        rss_ready_mib,
        rss_peak_mib,
        search_over_mcp,
    })
}

/// A fresh data directory, so the server's audit log stays out of the user's own.
fn data_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("codemode-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn drain_stderr(child: &mut Child) {
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(_)) = lines.next_line().await {}
        });
    }
}

/// Reads a `/proc/<pid>/status` memory line (in kB) as MiB.
fn memory_mib(pid: u32, key: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .context("no memory line in /proc status")?
        .parse()?;
    Ok(kib / 1024.0)
}
