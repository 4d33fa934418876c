//! The command line: `codemode serve`, `stdio` and `spec`, and the operator commands
//! `approvals`, `audit`, `credentials`, `keys`, `config` and `health`. Flags become one layer
//! of [`Options`] here, once.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::admin::{
    ApprovalsArgs, AuditArgs, ConfigArgs, CredentialsArgs, HealthArgs, KeysArgs, SpecArgs,
};
use codemode::settings::{HttpOptions, Options};

/// Code Mode MCP server: a whole API through two tools, `search` and `execute`.
#[derive(Debug, Parser)]
#[command(name = "codemode", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// How log lines are written to stderr.
    #[arg(long, global = true, value_enum, env = "CODEMODE_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// For people: one line per event.
    Text,
    /// For log pipelines: one JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over Streamable HTTP at /mcp (plus GET /healthz and /readyz).
    Serve(ServeArgs),
    /// Speak MCP over stdin/stdout, for clients that start the server themselves.
    Stdio(ServerArgs),
    /// Load a spec and report its operations, paths, products, $refs, cycles and size.
    Spec(SpecArgs),
    /// List, show, approve and reject pending approvals, on this machine.
    Approvals(ApprovalsArgs),
    /// Verify, read, export and prune the audit log.
    Audit(AuditArgs),
    /// Manage the per-subject upstream tokens, encrypted with CODEMODE_CREDENTIALS_KEY.
    Credentials(CredentialsArgs),
    /// Hash API keys for `[[auth.keys]]`.
    Keys(KeysArgs),
    /// Check the settings (config file, CODEMODE_… variables, flags) without starting.
    Config(ConfigArgs),
    /// Ask a running server's /healthz; exits 0 when it answers 200 (for container health checks).
    Health(HealthArgs),
}

/// Options of `codemode serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// HTTP options.
    #[command(flatten)]
    pub http: HttpArgs,
    /// Options shared with `codemode stdio`.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Options of the HTTP transport. They add to the config file's `[http]` lists.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Address to listen on, host:port (e.g. localhost:8787) [default: 127.0.0.1:8787].
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// No sessions: every request stands alone, for replicas behind a load balancer.
    #[arg(long)]
    pub stateless: bool,
    /// A `Host` header value to accept (repeatable); required to listen beyond loopback.
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,
    /// A browser `Origin` to accept, e.g. https://app.example.com (repeatable).
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
    /// An origin CORS allows, for browser-based clients (repeatable; CORS is off without it).
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
}

/// Options shared by `serve` and `stdio`. Flags override the config file.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// OpenAPI document: a file path or an https URL [default: Cloudflare's published spec, cached].
    #[arg(long, value_name = "FILE|URL")]
    pub spec: Option<String>,
    /// Base URL the API paths are joined to [default: https://api.cloudflare.com/client/v4].
    #[arg(long, value_name = "URL")]
    pub api_base: Option<String>,
    /// Account used for `accountId` when a call names none [env: CLOUDFLARE_ACCOUNT_ID].
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
    /// Config file (TOML); see the README for its keys.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Serve the built-in demo API from memory: no account, no network.
    #[arg(long)]
    pub demo: bool,
}

impl ServerArgs {
    /// The layer of settings these flags set.
    pub fn options(&self) -> Options {
        Options {
            spec: self.spec.clone(),
            api_base: self.api_base.clone(),
            account_id: self.account_id.clone(),
            demo: self.demo.then_some(true),
            ..Options::default()
        }
    }
}

impl ServeArgs {
    /// The layer of settings these flags set, HTTP options included.
    pub fn options(&self) -> Options {
        let http = &self.http;
        let list = |values: &Vec<String>| (!values.is_empty()).then(|| values.clone());
        Options {
            listen: http.listen.clone(),
            http: Some(HttpOptions {
                stateless: http.stateless.then_some(true),
                allowed_hosts: list(&http.allowed_hosts),
                allowed_origins: list(&http.allowed_origins),
                cors_origins: list(&http.cors_origins),
                ..HttpOptions::default()
            }),
            ..self.server.options()
        }
    }
}
