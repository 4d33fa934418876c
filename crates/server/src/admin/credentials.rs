//! `codemode credentials`: the per-subject upstream tokens, sealed with `CODEMODE_CREDENTIALS_KEY`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use codemode::call::credential::{parse_stored_key, stored_key};
use codemode::settings::{CREDENTIALS_KEY_ENV as KEY_ENV, Secrets};
use codemode::wording;
use codemode_credentials::{CredentialStore, ServerKey};

use super::ConfigArg;
use super::stdin_secret::read_secret;

/// Options of `codemode credentials`.
#[derive(Debug, Args)]
pub struct CredentialsArgs {
    /// Where the store is.
    #[command(flatten)]
    pub location: StoreLocation,
    /// What to do.
    #[command(subcommand)]
    pub command: CredentialsCommand,
}

/// Where the credential store is: `--store`, else the settings.
#[derive(Debug, Args)]
pub struct StoreLocation {
    /// The credential store [default: `[credentials] path`, else credentials.db in the data
    /// directory].
    #[arg(long, value_name = "FILE", global = true, help_heading = super::DATABASE_OPTIONS)]
    pub store: Option<PathBuf>,
    /// The config file.
    #[command(flatten)]
    pub config: ConfigArg,
}

/// The subcommands of `codemode credentials`.
#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Store a subject's upstream API token, read from stdin.
    ///
    /// The token is read from stdin (one trailing newline is removed) so it stays out of the
    /// process list and shell history, and is never printed. It replaces any token the subject
    /// had. The store is created if absent, readable by its owner only.
    Set(SubjectArg),
    /// Delete a subject's stored token.
    Remove(SubjectArg),
    /// List the subjects that have a stored token (never the tokens).
    List,
    /// Print a new random key to set as CODEMODE_CREDENTIALS_KEY.
    ///
    /// The key encrypts every stored token. Keep a copy somewhere safe: tokens stored under
    /// a lost key cannot be recovered, only set again.
    Keygen,
}

/// The subject a command is about.
#[derive(Debug, Args)]
pub struct SubjectArg {
    /// Whose token: the `subject` of an `[[auth.keys]]` entry, or an OAuth token's `sub`.
    #[arg(long, value_name = "SUBJECT")]
    pub subject: String,
    /// Which upstream the token is for: the `name` of an `[[upstreams]]` table [default: the
    /// first upstream, `cloudflare` without the section].
    #[arg(long, value_name = "NAME")]
    pub upstream: Option<String>,
}

impl CredentialsArgs {
    /// Runs the subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            CredentialsCommand::Set(arg) => {
                let key = self.location.key_of(&arg)?;
                set(&self.location, &arg.subject, &key)
            }
            CredentialsCommand::Remove(arg) => {
                let key = self.location.key_of(&arg)?;
                remove(&self.location, &arg.subject, &key)
            }
            CredentialsCommand::List => list(&self.location),
            CredentialsCommand::Keygen => keygen(),
        }
    }
}

impl StoreLocation {
    /// The key the subject's token for the upstream it names is stored under; an error naming
    /// the upstreams there are when it names none of them.
    fn key_of(&self, arg: &SubjectArg) -> anyhow::Result<String> {
        let settings = self.config.settings()?;
        let names: Vec<&str> = settings.upstreams.iter().map(|u| u.name.as_str()).collect();
        let upstream = match &arg.upstream {
            None => names[0],
            Some(asked) => names
                .iter()
                .copied()
                .find(|name| name == asked)
                .ok_or_else(|| {
                    anyhow!(
                        "no upstream is named {asked:?}; the upstreams are: {}",
                        names.join(", ")
                    )
                })?,
        };
        Ok(stored_key(upstream, &arg.subject))
    }

    /// The store's path.
    fn path(&self) -> anyhow::Result<PathBuf> {
        match &self.store {
            Some(path) => Ok(path.clone()),
            None => Ok(self.config.settings()?.credentials_path()),
        }
    }
}

/// Stores the token on stdin as `subject`'s, creating the store if needed.
fn set(location: &StoreLocation, subject: &str, key_name: &str) -> anyhow::Result<()> {
    let key = server_key()?;
    let path = location.path()?;
    let example = format!(
        r#"read -rs TOKEN && printf %s "$TOKEN" | codemode credentials set --subject {subject}; unset TOKEN"#
    );
    let token = read_secret("the token", &example)?;
    create_parent(&path)?;
    open(&path, &key)?.set(key_name, &token)?;
    eprintln!("stored the token of {subject} in {}", path.display());
    Ok(())
}

/// Deletes `subject`'s token; an error if there was none.
fn remove(location: &StoreLocation, subject: &str, key_name: &str) -> anyhow::Result<()> {
    let key = server_key()?;
    let path = location.path()?;
    if !open_existing(&path, &key)?.remove(key_name)? {
        bail!("no token is stored for {subject} in {}", path.display());
    }
    eprintln!("removed the token of {subject} from {}", path.display());
    Ok(())
}

/// Prints the subjects with a token, one a line.
fn list(location: &StoreLocation) -> anyhow::Result<()> {
    let key = server_key()?;
    let path = location.path()?;
    let subjects = open_existing(&path, &key)?.subjects()?;
    if subjects.is_empty() {
        eprintln!("no tokens are stored in {}", path.display());
    }
    let mut out = io::stdout().lock();
    for stored in subjects {
        match parse_stored_key(&stored) {
            (_, subject) if subject == stored => writeln!(out, "{subject}")?,
            (upstream, subject) => writeln!(out, "{subject} (upstream {upstream})")?,
        }
    }
    Ok(())
}

/// Prints a fresh key on stdout and how to use it on stderr.
fn keygen() -> anyhow::Result<()> {
    let key = ServerKey::generate()?;
    println!("{}", key.to_hex().as_str());
    eprintln!(
        "set this as {KEY_ENV} for the server and for `codemode credentials`, and keep a copy: \
         without it the stored tokens cannot be decrypted"
    );
    Ok(())
}

/// The key from `CODEMODE_CREDENTIALS_KEY`, or an error that says how to set one.
fn server_key() -> anyhow::Result<ServerKey> {
    Secrets::credentials_key_from_env()?.ok_or_else(|| {
        anyhow!(
            "{KEY_ENV} is not set. Create a key with `codemode credentials keygen`, then set it \
             for this command and for the server: export {KEY_ENV}=<the 64 hex characters>"
        )
    })
}

/// Opens the store at `path`, creating it if absent; a wrong key names `CODEMODE_CREDENTIALS_KEY`.
fn open(path: &Path, key: &ServerKey) -> anyhow::Result<CredentialStore> {
    CredentialStore::open(path, key).map_err(|error| anyhow!(wording::credentials_error(&error)))
}

/// Opens a store that must already exist, so a mistyped path is not silently created.
fn open_existing(path: &Path, key: &ServerKey) -> anyhow::Result<CredentialStore> {
    if !path.exists() {
        bail!(
            "no credential store at {}; `codemode credentials set` creates it",
            path.display()
        );
    }
    open(path, key)
}

/// Creates the store's directory (owner-only on Unix) if it is missing.
fn create_parent(path: &Path) -> anyhow::Result<()> {
    let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    else {
        return Ok(());
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(parent)
        .map_err(|error| anyhow!("cannot create the directory {}: {error}", parent.display()))
}
