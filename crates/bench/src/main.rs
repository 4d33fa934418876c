//! `codemode-bench`: measures a typical `search`, the per-call overhead of `execute`, and the
//! server's start-up time and memory, on a real spec. Prints a Markdown report.
//!
//! ```sh
//! cargo run --release -p codemode-bench -- --spec ../shared/specs/cloudflare-openapi-2024-08.json
//! ```

mod inprocess;
mod loopback_api;
mod server_process;
mod stats;

use std::path::PathBuf;

use clap::Parser;

/// The server's allocator, so in-process figures match the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The workload every search measurement runs: iterate every operation, filter by tag.
pub const TYPICAL_SEARCH: &str = r#"async () => {
  const hits = [];
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (op.tags.includes("workers")) hits.push({ method, path, summary: op.summary });
    }
  }
  return hits.length;
}"#;

/// Options of the benchmark.
#[derive(Debug, Parser)]
#[command(name = "codemode-bench", about)]
struct Args {
    /// The OpenAPI document to measure with.
    #[arg(
        long,
        default_value = "../shared/specs/cloudflare-openapi-2024-08.json"
    )]
    spec: PathBuf,
    /// Measured iterations per latency figure (after a warm-up of a tenth as many).
    #[arg(long, default_value_t = 300)]
    iterations: usize,
    /// The `codemode` binary to start for the start-up, memory and MCP figures.
    #[arg(long, default_value = "target/release/codemode")]
    binary: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let spec_bytes = std::fs::read(&args.spec)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.spec.display()))?;
    let inside = inprocess::measure(&spec_bytes, args.iterations).await?;
    let process = server_process::measure(&args.binary, &args.spec, args.iterations).await?;

    println!("| measurement | median | p90 | target |");
    println!("|---|---|---|---|");
    inside.print();
    process.print();
    Ok(())
}
