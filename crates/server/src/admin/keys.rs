//! `codemode keys`: prepare API keys for `[[auth.keys]]`.

use clap::{Args, Subcommand};

use super::stdin_secret::read_secret;

/// Options of `codemode keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// The subcommands of `codemode keys`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print the SHA-256 of an API key read from stdin, for `[[auth.keys]] sha256`.
    ///
    /// The key is read from stdin (one trailing newline is removed) so it stays out of the
    /// process list and shell history; only its hash is printed. Put the hash in the key's
    /// `[[auth.keys]]` entry as `sha256 = "..."`, next to its `subject` and `scopes`: the config
    /// file holds the hash, never the key.
    Hash,
}

impl KeysArgs {
    /// Runs the subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            KeysCommand::Hash => {
                let key = read_secret(
                    "the API key",
                    r#"read -rs KEY && printf %s "$KEY" | codemode keys hash; unset KEY"#,
                )?;
                println!("{}", codemode_auth::hash_key(&key));
                Ok(())
            }
        }
    }
}
