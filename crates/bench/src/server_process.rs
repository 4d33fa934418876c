//! The real `codemode serve` process under test: started on the spec, pointed at the loopback API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::connection::Connection;

/// The token the server is given for the loopback API; it is never checked.
const DUMMY_TOKEN: &str = "codemode-bench-dummy-token";

/// The server's settings for a run: every session comes from the bench on loopback, one client
/// standing in for many users, so it may hold as many sessions as the server allows overall.
const CONFIG: &str = "[http]\nmax_sessions_per_client = 10000\n";

/// How to start the server.
pub struct Launch<'a> {
    /// The `codemode` binary.
    pub binary: &'a Path,
    /// The OpenAPI document.
    pub spec: &'a Path,
    /// The base URL of the API it calls.
    pub api_base: String,
    /// Where it keeps its data (the audit log).
    pub data_dir: PathBuf,
}

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// From spawn to `/readyz` answering 200 (the spec loaded).
    pub startup: Duration,
}

impl Server {
    /// Starts the server on a free loopback port and waits until `/readyz` answers 200.
    pub async fn start(launch: &Launch<'_>) -> anyhow::Result<Server> {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let config = launch.data_dir.join("codemode-bench.toml");
        std::fs::write(&config, CONFIG)
            .with_context(|| format!("cannot write {}", config.display()))?;
        let started = Instant::now();
        let mut child = Command::new(launch.binary)
            .args(["serve", "--listen", &addr.to_string(), "--config"])
            .arg(&config)
            .arg("--spec")
            .arg(launch.spec)
            .args(["--api-base", &launch.api_base])
            .env("CLOUDFLARE_API_TOKEN", DUMMY_TOKEN)
            .env_remove("CLOUDFLARE_ACCOUNT_ID")
            .env("XDG_DATA_HOME", &launch.data_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", launch.binary.display()))?;
        drain_stderr(&mut child);
        loop {
            if ready(addr).await {
                break;
            }
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("the server exited while starting: {status}");
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(60),
                "the server was not ready (/readyz) within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(Server {
            startup: started.elapsed(),
            child,
            addr,
        })
    }

    /// The resident set size now, in MiB.
    pub fn rss_mib(&self) -> anyhow::Result<f64> {
        self.memory_mib("VmRSS:")
    }

    /// The peak resident set size so far, in MiB.
    pub fn peak_rss_mib(&self) -> anyhow::Result<f64> {
        self.memory_mib("VmHWM:")
    }

    /// The server's process id.
    pub fn pid(&self) -> anyhow::Result<u32> {
        self.child.id().context("the server has exited")
    }

    /// Reads a `/proc/<pid>/status` memory line (in kB) as MiB.
    fn memory_mib(&self, key: &str) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?))?;
        let kib: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .context("no memory line in /proc status")?
            .parse()?;
        Ok(kib / 1024.0)
    }

    /// Stops the server.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

async fn ready(addr: SocketAddr) -> bool {
    let Ok(mut connection) = Connection::open(addr).await else {
        return false;
    };
    connection
        .send(hyper::Method::GET, "/readyz", &[], bytes::Bytes::new())
        .await
        .is_ok_and(|reply| reply.status.is_success())
}

/// A port free on loopback now.
pub fn free_port() -> anyhow::Result<u16> {
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
