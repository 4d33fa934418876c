//! `codemode`: a Code Mode MCP server. See `codemode --help`.

mod admin;
mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use codemode::call::Runner;
use codemode::settings::{Secrets, Settings};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

use crate::cli::{Cli, Command};

/// mimalloc: QuickJS allocates many small objects, and this allocator halves a typical search.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let wanted = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(wanted)
        .with_filter(never_verbatim());
    tracing_subscriber::registry().with(log).init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", causes(&error));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let settings = Settings::load(args.server.config.as_deref(), args.options())?;
            let runner = Runner::start(&settings, Secrets::from_env()?).await?;
            Ok(codemode::http::serve(runner, &settings).await?)
        }
        Command::Stdio(args) => {
            let settings = Settings::load(args.config.as_deref(), args.options())?;
            let runner = Runner::start(&settings, Secrets::from_env()?).await?;
            Ok(codemode::stdio::serve(runner).await?)
        }
        Command::Spec(args) => Ok(args.run().await?),
        Command::Approvals(args) => args.run(),
        Command::Audit(args) => args.run(),
        Command::Credentials(args) => args.run(),
        Command::Keys(args) => args.run(),
    }
}

/// Caps the crates that log whole messages below info: rmcp logs every request and response it
/// handles (agent code, tool results, questions to people) at debug and trace, and no RUST_LOG
/// setting may put those in the log.
fn never_verbatim() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("rmcp", LevelFilter::INFO)
}

/// The error and its causes, each said once: a cause already quoted by the message above it
/// is left out.
fn causes(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
