//! `codemode config check`: every setting checked as `codemode serve` would check it, without
//! loading the spec or opening a database, with every problem reported at once.

use clap::{Args, Subcommand};

use codemode::settings::{AuditStoreKind, ConfigErrors, Secrets, Settings, StoreKind};

use crate::cli::ServeArgs;

/// Options of `codemode config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// The `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the settings `serve` would run with (takes the same flags); exits 1 on any problem.
    Check(Box<ServeArgs>),
}

impl ConfigArgs {
    /// Runs the subcommand.
    pub fn run(&self) -> anyhow::Result<()> {
        let ConfigCommand::Check(args) = &self.command;
        let settings = checked(args)?;
        for name in &settings.unknown_env {
            println!("warning: {name} names no setting and is ignored");
        }
        println!(
            "settings ok: listen {}, auth {:?}, spec {}",
            settings.listen,
            settings.auth.mode(),
            crate::spec_label(&settings)
        );
        println!("stores: {}", stores_label(&settings));
        Ok(())
    }
}

/// The settings of `serve` with these flags, every problem with them found first: the
/// layers, the rules of serving over HTTP, and the secrets' form.
pub fn checked(args: &ServeArgs) -> Result<Settings, ConfigErrors> {
    let (settings, mut problems) =
        Settings::load_all(args.server.config.as_deref(), args.options());
    if let Some(settings) = &settings {
        problems.extend(settings.serve_problems());
    }
    problems.extend(Secrets::from_env().err());
    match settings {
        Some(settings) if problems.is_empty() => Ok(settings),
        _ => Err(ConfigErrors(problems)),
    }
}

/// Where counts, approvals and the audit log live, URLs without their passwords.
fn stores_label(settings: &Settings) -> String {
    let shared = match (&settings.store.kind, &settings.store.redis_url) {
        (StoreKind::Redis, Some(url)) => format!("Redis {}", url.shown()),
        _ => "embedded".to_string(),
    };
    let audit = match (&settings.audit.store, &settings.audit.postgres_url) {
        (AuditStoreKind::Postgres, Some(url)) => format!("Postgres {}", url.shown()),
        _ => format!("SQLite {}", settings.audit_path().display()),
    };
    format!("counts and approvals {shared}, audit log {audit}")
}
