//! Settings: built-in defaults, under the config file, under the environment, under the
//! command line's flags, each layer an [`Options`] combined with the next, then resolved and
//! checked once. Secrets come from the environment only ([`Secrets`]).

mod combine;
mod sections;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use codemode_audit::{AuditKey, InvalidKey};
use codemode_auth::{AuthConfig, AuthMode};
use codemode_credentials::{CredentialsError, ServerKey};
use codemode_ratelimit::Limits;
use codemode_secret::Secret;
use codemode_upstream::{Credential, CredentialError, GatewayConfig, GatewayConfigError};
use serde::Deserialize;

pub use codemode_sandbox::SandboxConfig;
use combine::Combine;
pub use sections::{
    ApprovalsConfig, AuditConfig, CredentialsConfig, HttpConfig, HttpOptions, PolicyConfig,
};
use sections::{DAY_SECS, within};

/// The Cloudflare API every path is joined to unless configured otherwise.
pub const DEFAULT_API_BASE: &str = "https://api.cloudflare.com/client/v4";
/// The address `codemode serve` listens on unless configured otherwise.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8787);
/// The environment variable that holds the upstream API token.
pub const TOKEN_ENV: &str = "CLOUDFLARE_API_TOKEN";
/// The environment variable that names the account when no flag or file does.
pub const ACCOUNT_ENV: &str = "CLOUDFLARE_ACCOUNT_ID";
/// The environment variable that holds the key stored credentials are sealed with.
pub const CREDENTIALS_KEY_ENV: &str = "CODEMODE_CREDENTIALS_KEY";
/// The environment variable that holds the key the audit log's chain points are signed with.
pub const AUDIT_KEY_ENV: &str = "CODEMODE_AUDIT_KEY";
/// The environment variable that holds the key `execute` request states are sealed with; set
/// the same value on every replica so a retry can land on any of them and survive a restart.
pub const REQUEST_STATE_KEY_ENV: &str = "CODEMODE_REQUEST_STATE_KEY";

/// Why the settings could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The config file is not valid TOML for these settings.
    #[error("invalid config file {path}: {error}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        error: Box<toml::de::Error>,
    },
    /// A `[sandbox]` setting has a value that cannot work.
    #[error("invalid [sandbox] {0}")]
    Sandbox(codemode_sandbox::ConfigError),
    /// A setting has a value that cannot work.
    #[error("invalid setting `{key}`: {reason}")]
    Invalid {
        /// The setting's key.
        key: &'static str,
        /// Why.
        reason: String,
    },
    /// The `[upstream]` section's limits cannot work.
    #[error("invalid [upstream] setting: {0}")]
    Upstream(#[from] GatewayConfigError),
    /// `CLOUDFLARE_API_TOKEN` holds no usable token.
    #[error("invalid {TOKEN_ENV}: {0}")]
    Token(CredentialError),
    /// `CODEMODE_CREDENTIALS_KEY` holds no usable key.
    #[error("invalid {CREDENTIALS_KEY_ENV}: {0}; make one with `codemode credentials keygen`")]
    CredentialsKey(CredentialsError),
    /// `CODEMODE_AUDIT_KEY` holds no usable key.
    #[error("invalid {AUDIT_KEY_ENV}: {0}; make one with `openssl rand -hex 32`")]
    AuditKey(InvalidKey),
}

/// One layer of settings (the config file, the environment, or the flags): every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Address for `serve`.
    pub listen: Option<SocketAddr>,
    /// The spec: a file path or URL.
    pub spec: Option<String>,
    /// Base URL of the API.
    pub api_base: Option<String>,
    /// The account used when a call names none.
    pub account_id: Option<String>,
    /// Serve the built-in demo API.
    pub demo: Option<bool>,
    /// Where downloaded specs are cached.
    pub cache_dir: Option<PathBuf>,
    /// Where the databases live unless configured otherwise.
    pub data_dir: Option<PathBuf>,
    /// `[sandbox]`.
    pub sandbox: Option<SandboxConfig>,
    /// `[upstream]`, owned by the upstream crate.
    pub upstream: Option<GatewayConfig>,
    /// `[http]`.
    pub http: Option<HttpOptions>,
    /// `[auth]`.
    pub auth: Option<AuthConfig>,
    /// `[policy]`.
    pub policy: Option<PolicyConfig>,
    /// `[limits]`.
    pub limits: Option<Limits>,
    /// `[audit]`.
    pub audit: Option<AuditConfig>,
    /// `[credentials]`.
    pub credentials: Option<CredentialsConfig>,
    /// `[approvals]`.
    pub approvals: Option<ApprovalsConfig>,
}

impl Combine for Options {
    fn combine(self, lower: Self) -> Self {
        Options {
            listen: self.listen.combine(lower.listen),
            spec: self.spec.combine(lower.spec),
            api_base: self.api_base.combine(lower.api_base),
            account_id: self.account_id.combine(lower.account_id),
            demo: self.demo.combine(lower.demo),
            cache_dir: self.cache_dir.combine(lower.cache_dir),
            data_dir: self.data_dir.combine(lower.data_dir),
            sandbox: self.sandbox.or(lower.sandbox),
            upstream: self.upstream.or(lower.upstream),
            http: self.http.combine(lower.http),
            auth: self.auth.or(lower.auth),
            policy: self.policy.or(lower.policy),
            limits: self.limits.or(lower.limits),
            audit: self.audit.or(lower.audit),
            credentials: self.credentials.or(lower.credentials),
            approvals: self.approvals.or(lower.approvals),
        }
    }
}

impl Options {
    /// The layer the environment sets: `CLOUDFLARE_ACCOUNT_ID`.
    pub fn from_env() -> Options {
        Options {
            account_id: std::env::var(ACCOUNT_ENV).ok().filter(|id| !id.is_empty()),
            ..Options::default()
        }
    }

    /// The layer a config file sets.
    pub fn from_file(path: &Path) -> Result<Options, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        toml::from_str(&text).map_err(|error| ConfigError::Parse {
            path: path.to_path_buf(),
            error: Box::new(error),
        })
    }
}

/// Where the spec comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecChoice {
    /// The built-in demo API, served from memory.
    Demo,
    /// A file path or URL.
    Source(String),
}

/// Everything the server needs, after combining the layers.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address for `serve`.
    pub listen: SocketAddr,
    /// The spec to load.
    pub spec: SpecChoice,
    /// Base URL of the API.
    pub api_base: String,
    /// The configured account, if any.
    pub account_id: Option<String>,
    /// Where downloaded specs are cached.
    pub cache_dir: PathBuf,
    /// Sandbox limits.
    pub sandbox: SandboxConfig,
    /// Upstream limits and checks.
    pub upstream: GatewayConfig,
    /// HTTP transport settings.
    pub http: HttpConfig,
    /// Who may call.
    pub auth: AuthConfig,
    /// The operator's policy rules.
    pub policy: PolicyConfig,
    /// Rate limits and quotas, applied when auth is on.
    pub limits: Limits,
    /// The audit log.
    pub audit: AuditConfig,
    /// Stored per-subject credentials.
    pub credentials: CredentialsConfig,
    /// Approval timing.
    pub approvals: ApprovalsConfig,
    /// Where the databases live unless configured otherwise.
    pub data_dir: PathBuf,
}

/// The secrets the server holds, from the environment only.
#[derive(Default)]
pub struct Secrets {
    /// The server-wide upstream token (`CLOUDFLARE_API_TOKEN`).
    pub token: Option<Credential>,
    /// The key stored credentials are sealed with (`CODEMODE_CREDENTIALS_KEY`).
    pub credentials_key: Option<ServerKey>,
    /// The key the audit log's chain points are signed with (`CODEMODE_AUDIT_KEY`).
    pub audit_key: Option<AuditKey>,
    /// The key request states are sealed with (`CODEMODE_REQUEST_STATE_KEY`); random per
    /// process when unset.
    pub request_state_key: Option<Secret>,
}

impl Secrets {
    /// Reads every secret; an unset or empty variable means none.
    pub fn from_env() -> Result<Secrets, ConfigError> {
        let token = secret_from_env(TOKEN_ENV)
            .map(Credential::from_secret)
            .transpose()
            .map_err(ConfigError::Token)?;
        Ok(Secrets {
            token,
            credentials_key: Secrets::credentials_key_from_env()?,
            audit_key: Secrets::audit_key_from_env()?,
            request_state_key: secret_from_env(REQUEST_STATE_KEY_ENV),
        })
    }

    /// Reads the audit key alone, as the `codemode audit` commands need it.
    pub fn audit_key_from_env() -> Result<Option<AuditKey>, ConfigError> {
        secret_from_env(AUDIT_KEY_ENV)
            .map(|key| AuditKey::parse(key.expose()))
            .transpose()
            .map_err(ConfigError::AuditKey)
    }

    /// Reads the credentials key alone, as the `codemode credentials` commands need it.
    pub fn credentials_key_from_env() -> Result<Option<ServerKey>, ConfigError> {
        secret_from_env(CREDENTIALS_KEY_ENV)
            .map(|key| ServerKey::parse(key.expose()))
            .transpose()
            .map_err(ConfigError::CredentialsKey)
    }
}

/// The value of the variable `name`; unset or empty means none.
fn secret_from_env(name: &str) -> Option<Secret> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .map(Secret::new)
}

impl Settings {
    /// The settings of the config file at `config` (if any) under the environment and
    /// `overrides` (the flags), with defaults for the rest, checked.
    pub fn load(config: Option<&Path>, overrides: Options) -> Result<Settings, ConfigError> {
        let file = match config {
            Some(path) => Options::from_file(path)?,
            None => Options::default(),
        };
        Settings::resolve(overrides.combine(Options::from_env()).combine(file))
    }

    /// Applies defaults to what no layer set, then checks every value.
    pub fn resolve(options: Options) -> Result<Settings, ConfigError> {
        let spec = match (options.demo.unwrap_or(false), options.spec) {
            (true, Some(_)) => {
                return Err(ConfigError::Invalid {
                    key: "demo",
                    reason: "the demo serves its own spec; set either `demo` or `spec`".into(),
                });
            }
            (true, None) => SpecChoice::Demo,
            (false, Some(source)) => SpecChoice::Source(source),
            (false, None) => SpecChoice::Source(codemode_spec::CLOUDFLARE_SPEC_URL.to_string()),
        };
        let settings = Settings {
            listen: options.listen.unwrap_or(DEFAULT_LISTEN),
            spec,
            api_base: options
                .api_base
                .unwrap_or_else(|| DEFAULT_API_BASE.to_string()),
            account_id: options.account_id,
            cache_dir: options
                .cache_dir
                .unwrap_or_else(codemode_spec::default_cache_dir),
            sandbox: options.sandbox.unwrap_or_default(),
            upstream: options.upstream.unwrap_or_default(),
            http: options.http.unwrap_or_default().resolve(),
            auth: options.auth.unwrap_or_default(),
            policy: options.policy.unwrap_or_default(),
            limits: options.limits.unwrap_or_default(),
            audit: options.audit.unwrap_or_default(),
            credentials: options.credentials.unwrap_or_default(),
            approvals: options.approvals.unwrap_or_default(),
            data_dir: options.data_dir.unwrap_or_else(default_data_dir),
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.sandbox.validate().map_err(ConfigError::Sandbox)?;
        within(
            "http.max_body_kib",
            self.http.max_body_kib as f64,
            1024.0 * 1024.0,
        )?;
        within(
            "http.shutdown_grace_secs",
            self.http.shutdown_grace_secs,
            DAY_SECS,
        )?;
        within(
            "approvals.ask_timeout_secs",
            self.approvals.ask_timeout_secs,
            DAY_SECS,
        )?;
        self.upstream.validate()?;
        Ok(())
    }

    /// The audit database.
    pub fn audit_path(&self) -> PathBuf {
        self.audit
            .path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit.db"))
    }

    /// The stored-credentials database.
    pub fn credentials_path(&self) -> PathBuf {
        self.credentials
            .path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("credentials.db"))
    }

    /// Whether callers authenticate (keys or oauth), which turns rate limits on.
    pub fn auth_enabled(&self) -> bool {
        self.auth.mode() != AuthMode::None
    }

    /// Whether the demo upstream serves the API instead of the network.
    pub fn is_demo(&self) -> bool {
        self.spec == SpecChoice::Demo
    }
}

/// `$XDG_DATA_HOME/codemode`, else `~/.local/share/codemode`, else `./.codemode`.
fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("codemode");
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/codemode"),
        None => PathBuf::from(".codemode"),
    }
}
