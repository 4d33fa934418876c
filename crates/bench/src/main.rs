//! `codemode-bench`: measures codemode through the clients people use, on a real spec, against a
//! `codemode serve` it starts itself (traffic to 127.0.0.1 only), and prints a Markdown report:
//! per-call latency through a raw keep-alive client and the TypeScript SDKs v1 and v2, the
//! distance from the SDK's own floor and the ratio against Cloudflare's approach (both measured
//! in the same run), throughput under 50 sessions, head-of-line blocking behind a slow API,
//! memory after a soak and session churn, and start-up time.
//!
//! ```sh
//! cargo build --release -p codemode -p codemode-bench
//! (cd tests && npm ci)
//! ./target/release/codemode-bench
//! ```

mod baselines;
mod connection;
mod cpu;
mod inprocess;
mod load;
mod loopback_api;
mod node_clients;
mod raw_mcp;
mod report;
mod server_process;
mod stats;
mod workload;
mod wrk;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;

use crate::node_clients::{Call, NodeClients, Sdk};
use crate::raw_mcp::RawSession;
use crate::report::{ClientFigures, Report};
use crate::server_process::{Launch, Server};
use crate::workload::{FULL_SEARCH, ONE_REQUEST, SMALL_SEARCH, TRIVIAL};

/// The server's allocator, so in-process figures match the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The calls every client times against codemode.
const CODEMODE_CALLS: [Call; 3] = [
    Call {
        label: "trivial",
        tool: "search",
        code: TRIVIAL,
    },
    Call {
        label: "full",
        tool: "search",
        code: FULL_SEARCH,
    },
    Call {
        label: "execute",
        tool: "execute",
        code: ONE_REQUEST,
    },
];

/// The calls the SDK floor answers: a trivial one and one the size of the full search.
const FLOOR_CALLS: [Call; 2] = [CODEMODE_CALLS[0], CODEMODE_CALLS[1]];

/// The call of the search throughput run.
const SEARCHES: [load::ToolCall; 1] = [("search", SMALL_SEARCH)];

/// The call of the execute throughput run.
const EXECUTES: [load::ToolCall; 1] = [("execute", ONE_REQUEST)];

/// The mix of the soak: small searches and executes in turn.
const MIXED: [load::ToolCall; 2] = [SEARCHES[0], EXECUTES[0]];

/// The longest the soak may take, whatever its number of calls.
const SOAK_LIMIT: Duration = Duration::from_secs(600);

/// The parts of a run; `--only` picks some, in this order whatever the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
enum Part {
    /// The sandbox pool and gateway called directly.
    Inprocess,
    /// Per-call latency through the raw client and the TypeScript SDKs.
    Latency,
    /// The SDK floor through the same clients (its distance needs `latency`).
    Floor,
    /// Cloudflare's approach (its ratio needs `latency`).
    Cf,
    /// 50 sessions of small searches, then of small executes, through the raw client.
    Throughput,
    /// The same loads through `wrk`.
    Wrk,
    /// The mixed soak, with RSS before and after.
    Soak,
    /// Sessions opened and closed, with RSS after.
    Churn,
    /// A probe search while sessions wait on the slow API (a fresh server per row).
    HeadOfLine,
}

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
    /// Run only these parts (comma-separated); every part by default.
    #[arg(long, value_delimiter = ',', value_enum)]
    only: Vec<Part>,
    /// Measured calls per latency figure (after a warm-up of a third as many).
    #[arg(long, default_value_t = 300)]
    iterations: usize,
    /// The `codemode` binary to start.
    #[arg(long, default_value = "target/release/codemode")]
    binary: PathBuf,
    /// The `node_modules` holding `@modelcontextprotocol/sdk` and `@modelcontextprotocol/client`.
    #[arg(long, default_value = "tests/node_modules")]
    node_modules: PathBuf,
    /// The directory holding the `cf-approach/` and `sdk-floor/` baselines.
    #[arg(long, default_value = "../shared/bench")]
    baselines: PathBuf,
    /// Concurrent sessions of the throughput runs.
    #[arg(long, default_value_t = 50)]
    sessions: usize,
    /// Seconds of each throughput run.
    #[arg(long, default_value_t = 5)]
    load_secs: u64,
    /// Calls of the soak (small searches and executes in turn, over the same sessions).
    #[arg(long, default_value_t = 100_000)]
    soak_calls: usize,
    /// Sessions opened, used once and closed after the soak.
    #[arg(long, default_value_t = 10_000)]
    churn_sessions: usize,
    /// Sessions waiting on the slow API in each head-of-line run (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "2,300")]
    waiting: Vec<usize>,
    /// Seconds the probe searches in each head-of-line run.
    #[arg(long, default_value_t = 6)]
    window_secs: u64,
    /// Calls of Cloudflare's approach (the first is not counted).
    #[arg(long, default_value_t = 7)]
    cf_calls: usize,
}

impl Args {
    fn runs(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let load_average = std::fs::read_to_string("/proc/loadavg")?;
    let spec_bytes = std::fs::read(&args.spec)
        .with_context(|| format!("cannot read {}", args.spec.display()))?;
    let node_modules = std::path::absolute(&args.node_modules)?;
    let needs_node = [Part::Latency, Part::Floor, Part::Cf]
        .into_iter()
        .any(|part| args.runs(part));
    anyhow::ensure!(
        !needs_node || node_modules.join("@modelcontextprotocol/client").exists(),
        "no TypeScript SDK in {}: run `npm ci` in tests/",
        node_modules.display()
    );
    let nodes = NodeClients {
        node_modules: node_modules.clone(),
    };
    let api = loopback_api::start().await?;
    let data = tempfile::tempdir()?;
    let launch = Launch {
        binary: &args.binary,
        spec: &args.spec,
        api_base: api.base(),
        data_dir: data.path().to_path_buf(),
    };
    let n = args.iterations;
    let mut report = Report::new(load_average.trim(), n, args.sessions);

    if args.runs(Part::Inprocess) {
        progress("in-process breakdown");
        report.inside = Some(inprocess::measure(&spec_bytes, &api, n).await?);
    }

    progress("starting the server");
    let server = Server::start(&launch).await?;
    report.startups.push(server.startup);
    report.memory.idle_mib = server.rss_mib()?;
    let url = format!("http://{}/mcp", server.addr);

    if args.runs(Part::Latency) {
        progress("raw keep-alive client");
        report.upstream = api.time_direct(n).await?;
        let mut raw = RawSession::open(server.addr).await?;
        let mut raw_figures = ClientFigures::new("raw keep-alive client");
        let pid = server.pid()?.to_string();
        for call in CODEMODE_CALLS {
            let calls = n + stats::warm_up(n) + 1;
            let ((latency, reply), cpu) =
                cpu::per_call(&pid, calls, || raw.time(call.tool, call.code, n)).await?;
            report.server_cpu.push((call.label, cpu));
            raw_figures.add(
                call.label,
                latency,
                reply.text_chars,
                Some(reply.body_bytes),
            );
        }
        report.clients.push(raw_figures);
        for sdk in [Sdk::V1, Sdk::V2] {
            progress(sdk.name());
            let timed = nodes.time(sdk, &url, n, &CODEMODE_CALLS).await?;
            report
                .clients
                .push(ClientFigures::from_node(sdk.name(), &timed));
        }
    }

    if args.runs(Part::Floor) {
        progress("the SDK floor");
        let floor = baselines::SdkFloor::start(&args.baselines, &node_modules).await?;
        let mut floor_raw = RawSession::open(floor.addr).await?;
        let mut floors = ClientFigures::new("raw keep-alive client");
        for call in FLOOR_CALLS {
            let (latency, reply) = floor_raw.time(call.tool, call.code, n).await?;
            floors.add(
                call.label,
                latency,
                reply.text_chars,
                Some(reply.body_bytes),
            );
        }
        let floor_url = format!("http://{}/mcp", floor.addr);
        report.floors.push(floors);
        for sdk in [Sdk::V1, Sdk::V2] {
            let timed = nodes.time(sdk, &floor_url, n, &FLOOR_CALLS).await?;
            report
                .floors
                .push(ClientFigures::from_node(sdk.name(), &timed));
        }
    }

    if args.runs(Part::Cf) {
        progress("Cloudflare's approach");
        report.cf = Some(
            baselines::cf_approach(&args.baselines, &node_modules, &args.spec, args.cf_calls)
                .await?,
        );
    }

    report.memory.warm_mib = server.rss_mib()?;
    let duration = Duration::from_secs(args.load_secs);
    let run_load =
        |name: &str, calls: &'static [load::ToolCall], limit: usize, duration: Duration| {
            progress(name);
            load::throughput(server.addr, args.sessions, calls, limit, duration)
        };
    if args.runs(Part::Throughput) {
        let searches = run_load("throughput: searches", &SEARCHES, usize::MAX, duration).await?;
        let executes = run_load("throughput: executes", &EXECUTES, usize::MAX, duration).await?;
        report.throughput = Some((searches, executes));
    }
    if args.runs(Part::Wrk) {
        for call in [SEARCHES[0], EXECUTES[0]] {
            progress(&format!("wrk: {}", call.0));
            let run = wrk::throughput(server.addr, args.sessions, call, duration).await?;
            report.wrk.push(run);
        }
    }
    if args.runs(Part::Soak) {
        // The first tenth lets memory settle from the throughput loads before the soak is
        // measured for growth; both parts are reported.
        report.memory.loaded_mib = Some(server.rss_mib()?);
        let settle = args.soak_calls / 10;
        let first = run_load("soak: its first tenth", &MIXED, settle, SOAK_LIMIT).await?;
        report.memory.settled_mib = Some(server.rss_mib()?);
        let rest = args.soak_calls - settle;
        let rest = run_load("soak: the rest", &MIXED, rest, SOAK_LIMIT).await?;
        report.soak = Some((first, rest));
        report.memory.soaked_mib = Some(server.rss_mib()?);
    }
    if args.runs(Part::Churn) {
        progress("session churn");
        let limit = Duration::from_secs(600);
        report.memory.unchurned_mib = Some(server.rss_mib()?);
        report.churn = Some(load::churn(server.addr, args.churn_sessions, limit).await);
        report.memory.churned_mib = Some(server.rss_mib()?);
    }
    report.memory.peak_mib = server.peak_rss_mib()?;
    server.stop().await?;

    if args.runs(Part::HeadOfLine) {
        for &waiting in &args.waiting {
            progress(&format!("head-of-line: {waiting} sessions on the slow API"));
            let server = Server::start(&launch).await?;
            report.startups.push(server.startup);
            let window = Duration::from_secs(args.window_secs);
            report
                .head_of_line
                .push(load::head_of_line(server.addr, waiting, window, 50).await?);
            server.stop().await?;
        }
    }
    while report.startups.len() < STARTUPS {
        let server = Server::start(&launch).await?;
        report.startups.push(server.startup);
        server.stop().await?;
    }

    report.print();
    Ok(())
}

/// Servers started at least, so the start-up figure is a median of several.
const STARTUPS: usize = 3;

fn progress(what: &str) {
    eprintln!("codemode-bench: {what}");
}
