//! `codemode`: a Code Mode MCP server. See `codemode --help`.

mod admin;
mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use codemode::call::Runner;
use codemode::settings::{Secrets, Settings, SpecChoice, TracesConfig};
use codemode::telemetry::Exporter;
use codemode::telemetry::traces::Traces;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
use tracing_subscriber::prelude::*;

use crate::cli::{Cli, Command, LogFormat};

/// mimalloc: QuickJS allocates many small objects, and this allocator halves a typical search.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// rmcp logs every session's start and its initialize parameters at INFO; that is DEBUG detail
/// for an operator, shown when `RUST_LOG` names rmcp.
const QUIET_RMCP: &str = "rmcp=warn";

unsafe extern "C" {
    /// mimalloc's collection of the calling thread's free pages; `force` also returns them
    /// (and the arenas' free memory) to the operating system at once.
    fn mi_collect(force: bool);
}

/// After idle sessions closed in bulk, each runtime thread returns its free pages once, as it
/// parks (see [`codemode::memory`]).
fn collect_if_due() {
    if codemode::memory::collect_due() {
        // SAFETY: mi_collect takes no pointer and may be called from any thread at any time;
        // the symbol is mimalloc's own, linked in with the global allocator above.
        unsafe { mi_collect(true) }
    }
}

/// Huge pages off for this process, unless `MIMALLOC_ALLOW_THP` is set (then mimalloc's
/// option decides). The allocator asks for transparent huge pages, and a 2 MiB page stays
/// resident while any of its objects lives: measured on the shared spec, idle RSS is 159 MiB
/// with them and 119 MiB without, and an open session costs 135 KiB against 79 KiB, at the
/// same speed.
#[cfg(target_os = "linux")]
fn small_pages_only() {
    use std::ffi::{c_int, c_ulong};
    /// `PR_SET_THP_DISABLE` of `<linux/prctl.h>`.
    const PR_SET_THP_DISABLE: c_int = 41;
    unsafe extern "C" {
        /// The kernel's per-process settings (`man 2 prctl`).
        fn prctl(option: c_int, ...) -> c_int;
    }
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        let (on, unused): (c_ulong, c_ulong) = (1, 0);
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and changes only the page size the
        // kernel backs this process's memory with; a kernel that refuses it leaves huge pages
        // on, which costs memory and nothing else, so its result is not needed.
        unsafe { prctl(PR_SET_THP_DISABLE, on, unused, unused, unused) };
    }
}

#[cfg(not(target_os = "linux"))]
fn small_pages_only() {}

fn main() -> ExitCode {
    small_pages_only();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(collect_if_due)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Every error's message quotes its cause, so the message alone says it all, once.
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the log, and the trace exporter when `traces` is set; the exporter is returned to be
/// flushed at exit.
fn init_logging(
    format: LogFormat,
    traces: Option<&TracesConfig>,
) -> Result<Option<Traces>, codemode::telemetry::traces::TracesError> {
    let wanted = std::env::var("RUST_LOG").unwrap_or_default();
    let mut filter = EnvFilter::try_new(&wanted).unwrap_or_else(|_| EnvFilter::new("info"));
    if wanted.is_empty() {
        filter = EnvFilter::new("info");
    }
    if !wanted.contains("rmcp")
        && let Ok(quiet) = QUIET_RMCP.parse()
    {
        filter = filter.add_directive(quiet);
    }
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let layer = match format {
        LogFormat::Text => layer.with_ansi(std::io::stderr().is_terminal()).boxed(),
        LogFormat::Json => layer
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .boxed(),
    };
    let (exported, traces) = match traces {
        Some(config) => {
            let (layer, traces) = Traces::start(config)?;
            (Some(layer), Some(traces))
        }
        None => (None, None),
    };
    // The log's two filters as one, and no empty layer when traces are off: either way the
    // registry would record spans that no layer wants, rmcp's one per session among them, in a
    // slab that never shrinks (tracing-subscriber 0.3: a `None` layer counts as interested).
    let registry =
        tracing_subscriber::registry().with(layer.with_filter(filter.and(never_verbatim())));
    match exported {
        Some(exported) => registry.with(exported).init(),
        None => registry.init(),
    }
    Ok(traces)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let format = cli.log_format;
    // `serve` and `stdio` start the log once their settings say where traces go.
    if !matches!(cli.command, Command::Serve(_) | Command::Stdio(_)) {
        init_logging(format, None)?;
    }
    match cli.command {
        Command::Serve(args) => {
            let settings = admin::checked(&args)?;
            let traces = init_logging(format, settings.traces.as_ref())?;
            announce(&settings, &settings.listen.to_string());
            if settings.metrics.enabled {
                Exporter::install()?;
            }
            let runner = Runner::open(&settings, Secrets::from_env()?).await?;
            let served = codemode::http::serve(runner, &settings).await;
            if let Some(traces) = traces {
                traces.shutdown();
            }
            Ok(served?)
        }
        Command::Stdio(args) => {
            let settings = Settings::load(args.config.as_deref(), args.options())?;
            let traces = init_logging(format, settings.traces.as_ref())?;
            announce(&settings, "stdio");
            let runner = Runner::open(&settings, Secrets::from_env()?).await?;
            let refresh = codemode::refresh::Triggers::install(settings.spec_refresh());
            let ready = runner.load_spec().await?;
            tracing::info!(operations = ready.operations, origin = %ready.origin, "ready");
            refresh.spawn(runner.clone());
            let served = codemode::stdio::serve(runner).await;
            if let Some(traces) = traces {
                traces.shutdown();
            }
            Ok(served?)
        }
        Command::Spec(args) => Ok(args.run().await?),
        Command::Approvals(args) => args.run().await,
        Command::Audit(args) => args.run().await,
        Command::Credentials(args) => args.run(),
        Command::Keys(args) => args.run(),
        Command::Config(args) => args.run(),
        Command::Health(args) => args.run().await,
    }
}

/// The start-up line: what runs, where, for whom and on which spec.
fn announce(settings: &Settings, listen: &str) {
    for name in &settings.unknown_env {
        tracing::warn!(variable = %name, "names no setting; ignored");
    }
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        listen,
        auth = %settings.auth.mode(),
        spec = %spec_label(settings),
        "starting codemode"
    );
}

/// The spec source as an operator reads it.
fn spec_label(settings: &Settings) -> String {
    match &settings.spec {
        SpecChoice::Demo => "the built-in demo".to_string(),
        SpecChoice::Source(source) => source.clone(),
    }
}

/// Caps the crates that log whole messages below info: rmcp logs every request and response it
/// handles (agent code, tool results, questions to people) at debug and trace, and no RUST_LOG
/// setting may put those in the log. The exported spans stay out of it too: they are the
/// trace's, and would change every log line made within them.
fn never_verbatim() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("rmcp", LevelFilter::INFO)
        .with_target(codemode::telemetry::traces::TARGET, LevelFilter::OFF)
}
