//! The operator commands: `codemode audit`, `codemode credentials` and `codemode keys`.

mod audit;
mod credentials;
mod cutoff;
mod keys;
mod stdin_secret;

use std::path::PathBuf;

use clap::Args;

use crate::cli::ServerArgs;
use crate::config::Settings;

pub use audit::AuditArgs;
pub use credentials::CredentialsArgs;
pub use keys::KeysArgs;

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
        let args = ServerArgs {
            spec: None,
            api_base: None,
            account_id: None,
            config: self.config.clone(),
            demo: false,
        };
        Ok(Settings::load(&args, None)?)
    }
}
