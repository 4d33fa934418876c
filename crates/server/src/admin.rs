//! The operator commands: `codemode approvals`, `audit`, `credentials`, `keys`, `spec`,
//! `config` and `health`.

mod approvals;
mod audit;
mod config;
mod credentials;
mod cutoff;
mod health;
mod keys;
mod spec;
mod stdin_secret;

use std::path::PathBuf;

use clap::Args;

use codemode::settings::{Options, Settings};

pub use approvals::ApprovalsArgs;
pub use audit::AuditArgs;
pub use config::{ConfigArgs, checked};
pub use credentials::CredentialsArgs;
pub use health::HealthArgs;
pub use keys::KeysArgs;
pub use spec::SpecArgs;

/// The help heading of the options that locate a database.
const DATABASE_OPTIONS: &str = "Database options";

/// The `--config` option of the commands that find their database through the settings.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// Config file (TOML) naming the data directory and database paths.
    #[arg(long, value_name = "FILE", global = true, help_heading = DATABASE_OPTIONS)]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// The settings of the config file (or the defaults), exactly as the server would load them.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        Ok(Settings::load(self.config.as_deref(), Options::default())?)
    }
}
