//! Settings: the config file, overridden by flags, with secrets from the environment.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use codemode_auth::{AuthConfig, AuthMode};
use codemode_policy::Rule;
use codemode_ratelimit::Limits;

use crate::cli::{HttpArgs, ServerArgs};

/// The Cloudflare API every path is joined to unless configured otherwise.
pub const DEFAULT_API_BASE: &str = "https://api.cloudflare.com/client/v4";
/// The address `codemode serve` listens on unless configured otherwise.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8787);
/// The environment variable that holds the upstream API token.
pub const TOKEN_ENV: &str = "CLOUDFLARE_API_TOKEN";

/// Why the settings could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML for these settings.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        source: Box<toml::de::Error>,
    },
    /// A setting has a value that cannot work.
    #[error("invalid setting `{key}`: {reason}")]
    Invalid {
        /// The setting's key.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

/// The config file's contents; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    listen: Option<SocketAddr>,
    spec: Option<String>,
    api_base: Option<String>,
    account_id: Option<String>,
    demo: Option<bool>,
    cache_dir: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    #[serde(default)]
    sandbox: SandboxConfig,
    #[serde(default)]
    upstream: UpstreamConfig,
    #[serde(default)]
    http: HttpConfig,
    #[serde(default)]
    auth: AuthConfig,
    #[serde(default)]
    policy: PolicyConfig,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    audit: AuditConfig,
    #[serde(default)]
    credentials: CredentialsConfig,
    #[serde(default)]
    approvals: ApprovalsConfig,
}

/// `[policy]`: the operator's rules, checked before the built-in defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// `[[policy.rules]]`, first match wins.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// `[audit]`: where every tool call is recorded.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// The SQLite database; default `audit.db` in the data directory.
    pub path: Option<PathBuf>,
    /// Keep each call's code in its record (its SHA-256 is always kept).
    pub store_code: bool,
    /// Delete records older than this many days at start-up; unset keeps everything.
    pub retention_days: Option<u32>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            path: None,
            store_code: true,
            retention_days: None,
        }
    }
}

/// `[credentials]`: per-subject upstream tokens, encrypted with `CODEMODE_CREDENTIALS_KEY`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsConfig {
    /// The SQLite database; default `credentials.db` in the data directory.
    pub path: Option<PathBuf>,
}

/// `[approvals]`: how long people have to approve destructive requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalsConfig {
    /// How long an elicitation waits for the person's answer, in seconds.
    pub ask_timeout_secs: f64,
    /// How long an approval from `POST /approvals/{id}/approve` stays usable, in seconds.
    pub expiry_secs: u64,
    /// Ask the person at the client (elicitation) when the client can; turn off when clients
    /// are automated agents that could answer for themselves.
    pub ask_clients: bool,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        Self {
            ask_timeout_secs: 300.0,
            expiry_secs: 3600,
            ask_clients: true,
        }
    }
}

impl ApprovalsConfig {
    /// The elicitation wait.
    pub fn ask_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.ask_timeout_secs.max(0.0))
    }
}

/// `[http]`: how `codemode serve` faces the network.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Serve each request on its own, with no sessions (for replicas behind a load balancer).
    pub stateless: bool,
    /// `Host` header values accepted; empty means the loopback names when listening on loopback.
    pub allowed_hosts: Vec<String>,
    /// Browser `Origin` values accepted; empty means loopback origins only.
    pub allowed_origins: Vec<String>,
    /// Origins allowed by CORS; empty turns CORS off.
    pub cors_origins: Vec<String>,
    /// Largest accepted request body, in KiB.
    pub max_body_kib: usize,
    /// How long in-flight calls may run after SIGTERM, in seconds.
    pub shutdown_grace_secs: f64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            stateless: false,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            cors_origins: Vec::new(),
            max_body_kib: 1024,
            shutdown_grace_secs: 30.0,
        }
    }
}

impl HttpConfig {
    /// The grace period for in-flight calls at shutdown.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs_f64(self.shutdown_grace_secs.max(0.0))
    }
}

/// `[sandbox]`: limits for both tools.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Worker threads; calls beyond this queue.
    pub workers: usize,
    /// Wall-clock limit of one `search`, in seconds.
    pub search_timeout_secs: f64,
    /// Wall-clock limit of one `execute`, in seconds.
    pub execute_timeout_secs: f64,
    /// Memory per call, beyond the shared spec, in MiB.
    pub memory_mib: usize,
    /// JavaScript stack per call, in KiB.
    pub stack_kib: usize,
    /// Largest accepted `code`, in KiB.
    pub code_kib: usize,
    /// Results longer than this many characters are cut.
    pub result_chars: usize,
    /// Console output kept per call, in characters.
    pub log_chars: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(2, usize::from),
            search_timeout_secs: 10.0,
            execute_timeout_secs: 30.0,
            memory_mib: 64,
            stack_kib: 1024,
            code_kib: 64,
            result_chars: 24_000,
            log_chars: 8_000,
        }
    }
}

/// `[upstream]`: how `cloudflare.request` reaches the API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// Requests one `execute` may make.
    pub max_subrequests: usize,
    /// Requests one `execute` may have in flight at once.
    pub max_concurrent_subrequests: usize,
    /// Refuse a method and path that match no operation of the spec.
    pub enforce_spec: bool,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            max_subrequests: 50,
            max_concurrent_subrequests: 6,
            enforce_spec: true,
        }
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

/// Everything the server needs, after merging file, flags and environment.
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
    /// Upstream limits.
    pub upstream: UpstreamConfig,
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

impl SandboxConfig {
    /// The `search` wall-clock limit.
    pub fn search_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.search_timeout_secs)
    }

    /// The `execute` wall-clock limit.
    pub fn execute_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.execute_timeout_secs)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        within("sandbox.workers", self.workers as f64, 1024.0)?;
        within(
            "sandbox.search_timeout_secs",
            self.search_timeout_secs,
            DAY_SECS,
        )?;
        within(
            "sandbox.execute_timeout_secs",
            self.execute_timeout_secs,
            DAY_SECS,
        )?;
        within(
            "sandbox.memory_mib",
            self.memory_mib as f64,
            1024.0 * 1024.0,
        )?;
        within("sandbox.stack_kib", self.stack_kib as f64, 1024.0 * 1024.0)?;
        within("sandbox.code_kib", self.code_kib as f64, 1024.0 * 1024.0)?;
        within("sandbox.result_chars", self.result_chars as f64, 1e9)?;
        within("sandbox.log_chars", self.log_chars as f64, 1e9)
    }
}

impl Settings {
    /// Reads the config file named by the flags (if any) and applies the flags over it.
    pub fn load(args: &ServerArgs, http: Option<&HttpArgs>) -> Result<Settings, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let demo = args.demo || file.demo.unwrap_or(false);
        let spec = match (demo, args.spec.clone().or(file.spec)) {
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
            listen: http
                .and_then(|h| h.listen)
                .or(file.listen)
                .unwrap_or(DEFAULT_LISTEN),
            spec,
            api_base: args
                .api_base
                .clone()
                .or(file.api_base)
                .unwrap_or_else(|| DEFAULT_API_BASE.to_string()),
            account_id: args.account_id.clone().or(file.account_id),
            cache_dir: file
                .cache_dir
                .unwrap_or_else(codemode_spec::default_cache_dir),
            sandbox: file.sandbox,
            upstream: file.upstream,
            http: merge_http(file.http, http),
            auth: file.auth,
            policy: file.policy,
            limits: file.limits,
            audit: file.audit,
            credentials: file.credentials,
            approvals: file.approvals,
            data_dir: file.data_dir.unwrap_or_else(default_data_dir),
        };
        settings.sandbox.validate()?;
        within(
            "http.max_body_kib",
            settings.http.max_body_kib as f64,
            1024.0 * 1024.0,
        )?;
        within(
            "http.shutdown_grace_secs",
            settings.http.shutdown_grace_secs,
            DAY_SECS,
        )?;
        within(
            "approvals.ask_timeout_secs",
            settings.approvals.ask_timeout_secs,
            DAY_SECS,
        )?;
        if settings.upstream.max_concurrent_subrequests == 0 {
            return Err(ConfigError::Invalid {
                key: "upstream.max_concurrent_subrequests",
                reason: "must be at least 1".into(),
            });
        }
        Ok(settings)
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

fn merge_http(mut config: HttpConfig, args: Option<&HttpArgs>) -> HttpConfig {
    let Some(args) = args else { return config };
    config.stateless |= args.stateless;
    config
        .allowed_hosts
        .extend(args.allowed_hosts.iter().cloned());
    config
        .allowed_origins
        .extend(args.allowed_origins.iter().cloned());
    config
        .cors_origins
        .extend(args.cors_origins.iter().cloned());
    config
}

/// The longest duration any setting may ask for.
const DAY_SECS: f64 = 86_400.0;

/// Checks that a setting is a positive number no larger than `max`.
fn within(key: &'static str, value: f64, max: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 && value <= max {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            key,
            reason: format!("must be a number above 0 and at most {max}, got {value}"),
        })
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}
