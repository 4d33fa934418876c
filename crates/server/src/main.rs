//! `codemode`: a Code Mode MCP server. See `codemode --help`.

mod admin;
mod app;
mod approval;
mod approvals_api;
mod auth_layer;
mod caller;
mod cli;
mod config;
mod guard;
mod handler;
mod host;
mod http;
mod in_flight;
mod live;
mod results;
mod tools;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::app::App;
use crate::cli::{Cli, Command};
use crate::config::Settings;

/// mimalloc: QuickJS allocates many small objects, and this allocator halves a typical search.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let settings = Settings::load(&args.server, Some(&args.http))?;
            let app = App::start(&settings).await?;
            http::serve(app, &settings).await
        }
        Command::Stdio(args) => {
            let settings = Settings::load(&args, None)?;
            let app = App::start(&settings).await?;
            app::serve_stdio(app).await
        }
        Command::Spec(args) => app::report_spec(&args).await,
        Command::Audit(args) => args.run(),
        Command::Credentials(args) => args.run(),
        Command::Keys(args) => args.run(),
    }
}
