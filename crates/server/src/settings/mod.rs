//! Settings: built-in defaults, under the config file, under the environment, under the
//! command line's flags, each layer an [`Options`] combined with the next, then resolved and
//! checked once. Secrets come from the environment only ([`Secrets`]).

mod combine;
mod layers;
mod sections;
mod stores;
mod upstreams;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use codemode_audit::{AuditKey, InvalidKey};
use codemode_auth::{AuthConfig, AuthMode};
use codemode_credentials::{CredentialsError, ServerKey};
use codemode_ratelimit::Limits;
use codemode_secret::Secret;
use codemode_upstream::{Credential, CredentialError, GatewayConfig, GatewayConfigError};
use serde::Deserialize;

pub use codemode_sandbox::SandboxConfig;
use combine::Combine;
pub use layers::{ENV_PREFIX, ENV_SEPARATOR, parse_duration};
pub use sections::{
    ApprovalsConfig, AuditConfig, CredentialsConfig, HttpConfig, HttpOptions, MetricsConfig,
    PolicyConfig, TracesConfig,
};
use sections::{DAY_SECS, within};
pub use stores::{AuditStoreKind, StoreConfig, StoreKind, StoreUrl};
pub use upstreams::{UpstreamOptions, UpstreamSettings};

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
/// How often the spec is loaded again unless configured otherwise: daily.
pub const DEFAULT_SPEC_REFRESH_SECS: f64 = 86_400.0;
/// Loopback host names accepted in the `Host` header when no allow-list is configured.
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// The environment variable that holds the key `execute` request states are sealed with; set
/// the same value on every replica so a retry's state verifies on any of them.
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
    /// A `CODEMODE_…` variable gives its key a value the key cannot take.
    #[error("invalid {name} (setting `{key}`): {reason}")]
    Env {
        /// The variable.
        name: String,
        /// The setting it sets.
        key: String,
        /// Why.
        reason: String,
    },
    /// The `listen` address cannot be used.
    #[error("invalid setting `listen` ({value:?}): {reason}")]
    Listen {
        /// The address as written.
        value: String,
        /// Why.
        reason: String,
    },
    /// A non-loopback address with no `Host` allow-list would be open to DNS rebinding.
    #[error(
        "invalid setting `http.allowed_hosts`: listening on {0} (beyond loopback) needs the host \
         names clients use, to block DNS-rebinding attacks; pass --allowed-host <name> \
         (repeatable) or set [http] allowed_hosts"
    )]
    NoAllowedHosts(SocketAddr),
    /// The `[auth]` settings cannot work.
    #[error("invalid [auth] setting: {0}")]
    Auth(codemode_auth::ConfigError),
    /// The operator's policy rules are invalid.
    #[error("invalid setting `policy.rules`: {0}")]
    Policy(codemode_policy::PolicyError),
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

/// Every error the settings have, each naming its key, reported together.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0[..] {
            [only] => write!(f, "{only}"),
            all => {
                write!(f, "{} problems in the settings:", all.len())?;
                for error in all {
                    write!(f, "\n  - {error}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        ConfigErrors(vec![error])
    }
}

/// One layer of settings (the config file, the environment, or the flags): every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Address for `serve`: `host:port`, the host an IP address or a name such as `localhost`.
    pub listen: Option<String>,
    /// The spec: a file path or URL.
    pub spec: Option<String>,
    /// How often the spec is loaded again, in seconds (or `12h`, `1d`); 0 turns it off.
    pub spec_refresh_secs: Option<f64>,
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
    /// `[metrics]`.
    pub metrics: Option<MetricsConfig>,
    /// `[traces]`.
    pub traces: Option<TracesConfig>,
    /// `[[upstreams]]`: several APIs, in place of `spec`, `api_base`, `[upstream]` and `[policy]`.
    pub upstreams: Option<Vec<UpstreamOptions>>,
    /// `[store]`.
    pub store: Option<StoreConfig>,
}

impl Combine for Options {
    fn combine(self, lower: Self) -> Self {
        Options {
            listen: self.listen.combine(lower.listen),
            spec: self.spec.combine(lower.spec),
            spec_refresh_secs: self.spec_refresh_secs.combine(lower.spec_refresh_secs),
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
            metrics: self.metrics.or(lower.metrics),
            traces: self.traces.or(lower.traces),
            upstreams: self.upstreams.or(lower.upstreams),
            store: self.store.or(lower.store),
        }
    }
}

impl Options {
    /// The layer the environment sets: every `CODEMODE_…` key variable (`CODEMODE_HTTP__ALLOWED_HOSTS` for
    /// `[http] allowed_hosts`) and
    /// `CLOUDFLARE_ACCOUNT_ID`, with an error for each variable that cannot be used, and the
    /// names of `CODEMODE_` variables that name no setting.
    pub fn from_env() -> (Options, Vec<ConfigError>, Vec<String>) {
        let (mut options, errors, unknown) = layers::from_env(std::env::vars());
        if options.account_id.is_none() {
            options.account_id = std::env::var(ACCOUNT_ENV).ok().filter(|id| !id.is_empty());
        }
        (options, errors, unknown)
    }

    /// The layer a config file sets.
    pub fn from_file(path: &Path) -> Result<Options, ConfigError> {
        layers::from_file(path)
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
    /// How often the spec is loaded again, in seconds; 0 means never (SIGHUP still does).
    pub spec_refresh_secs: f64,
    /// Base URL of the API.
    pub api_base: String,
    /// Every upstream, the first first: the one `cloudflare` today's keys describe, or the
    /// `[[upstreams]]` tables.
    pub upstreams: Vec<UpstreamSettings>,
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
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// The address `/metrics` has to itself, if any (`[metrics] listen`, resolved).
    pub metrics_listen: Option<SocketAddr>,
    /// Where traces go, if anywhere.
    pub traces: Option<TracesConfig>,
    /// Where rate-limit counts and approvals live.
    pub store: StoreConfig,
    /// Where the databases live unless configured otherwise.
    pub data_dir: PathBuf,
    /// `CODEMODE_` variables that name no setting, worth a warning.
    pub unknown_env: Vec<String>,
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
    pub fn load(config: Option<&Path>, overrides: Options) -> Result<Settings, ConfigErrors> {
        match Settings::load_all(config, overrides) {
            (Some(settings), errors) if errors.is_empty() => Ok(settings),
            (_, errors) => Err(ConfigErrors(errors)),
        }
    }

    /// Like [`Settings::load`], but keeps the settings beside every problem found, so more
    /// checks can add theirs; no settings only when the config file cannot be read.
    pub fn load_all(
        config: Option<&Path>,
        overrides: Options,
    ) -> (Option<Settings>, Vec<ConfigError>) {
        let (env, mut errors, unknown_env) = Options::from_env();
        let file = match config.map(Options::from_file).transpose() {
            Ok(file) => file.unwrap_or_default(),
            Err(error) => {
                errors.insert(0, error);
                return (None, errors);
            }
        };
        let (settings, problems) = Settings::resolve_all(overrides.combine(env).combine(file));
        errors.extend(problems);
        (
            Some(Settings {
                unknown_env,
                ..settings
            }),
            errors,
        )
    }

    /// Applies defaults to what no layer set, then checks every value.
    pub fn resolve(options: Options) -> Result<Settings, ConfigErrors> {
        match Settings::resolve_all(options) {
            (settings, errors) if errors.is_empty() => Ok(settings),
            (_, errors) => Err(ConfigErrors(errors)),
        }
    }

    /// The settings with defaults applied, and every problem with them.
    fn resolve_all(options: Options) -> (Settings, Vec<ConfigError>) {
        let mut errors = Vec::new();
        let spec_set = options.spec.is_some() || options.demo.unwrap_or(false);
        let spec = match (options.demo.unwrap_or(false), options.spec) {
            (true, Some(_)) => {
                errors.push(ConfigError::Invalid {
                    key: "demo",
                    reason: "the demo serves its own spec; set either `demo` or `spec`".into(),
                });
                SpecChoice::Demo
            }
            (true, None) => SpecChoice::Demo,
            (false, Some(source)) => SpecChoice::Source(source),
            (false, None) => SpecChoice::Source(codemode_spec::CLOUDFLARE_SPEC_URL.to_string()),
        };
        let upstreams = match options.upstreams {
            None => Vec::new(),
            Some(tables) => {
                for (key, set) in [
                    ("spec", spec_set),
                    ("api_base", options.api_base.is_some()),
                    ("upstream", options.upstream.is_some()),
                    ("policy", options.policy.is_some()),
                ] {
                    if set {
                        errors.push(ConfigError::Invalid {
                            key,
                            reason: "[[upstreams]] gives each upstream its own; set it there"
                                .into(),
                        });
                    }
                }
                UpstreamSettings::resolve_all(tables, &mut errors)
            }
        };
        let listen = match options.listen.as_deref().map(resolve_listen).transpose() {
            Ok(listen) => listen.unwrap_or(DEFAULT_LISTEN),
            Err(error) => {
                errors.push(error);
                DEFAULT_LISTEN
            }
        };
        let metrics = options.metrics.unwrap_or_default();
        let metrics_listen = match metrics.listen.as_deref().map(resolve_listen).transpose() {
            Ok(address) => address,
            Err(error) => {
                let reason = match error {
                    ConfigError::Listen { reason, .. } => reason,
                    other => other.to_string(),
                };
                errors.push(ConfigError::Invalid {
                    key: "metrics.listen",
                    reason,
                });
                None
            }
        };
        if let Some(traces) = &options.traces
            && !traces.endpoint.starts_with("http://")
            && !traces.endpoint.starts_with("https://")
        {
            errors.push(ConfigError::Invalid {
                key: "traces.endpoint",
                reason: "must be an http:// or https:// URL, e.g. \
                         http://127.0.0.1:4318/v1/traces"
                    .into(),
            });
        }
        let policy = options.policy.unwrap_or_default();
        let upstream = options.upstream.unwrap_or_default();
        let upstreams = if upstreams.is_empty() {
            vec![UpstreamSettings::legacy(
                spec.clone(),
                options.api_base.clone(),
                policy.clone(),
                upstream.clone(),
            )]
        } else {
            upstreams
        };
        let spec = upstreams[0].spec.clone();
        let settings = Settings {
            listen,
            spec,
            upstreams,
            spec_refresh_secs: options
                .spec_refresh_secs
                .unwrap_or(DEFAULT_SPEC_REFRESH_SECS),
            api_base: options
                .api_base
                .unwrap_or_else(|| DEFAULT_API_BASE.to_string()),
            account_id: options.account_id,
            cache_dir: options
                .cache_dir
                .unwrap_or_else(codemode_spec::default_cache_dir),
            sandbox: options.sandbox.unwrap_or_default(),
            upstream,
            http: options.http.unwrap_or_default().resolve(),
            auth: options.auth.unwrap_or_default(),
            policy,
            limits: options.limits.unwrap_or_default(),
            audit: options.audit.unwrap_or_default(),
            credentials: options.credentials.unwrap_or_default(),
            approvals: options.approvals.unwrap_or_default(),
            metrics,
            metrics_listen,
            traces: options.traces,
            store: options.store.unwrap_or_default(),
            data_dir: options.data_dir.unwrap_or_else(default_data_dir),
            unknown_env: Vec::new(),
        };
        errors.extend(settings.problems());
        (settings, errors)
    }

    /// Every problem of the resolved values, without loading the spec or opening a store.
    fn problems(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        let mut check = |result: Result<(), ConfigError>| {
            if let Err(error) = result {
                problems.push(error);
            }
        };
        check(self.sandbox.validate().map_err(ConfigError::Sandbox));
        check(within(
            "http.max_body_kib",
            self.http.max_body_kib as f64,
            1024.0 * 1024.0,
        ));
        check(within(
            "http.shutdown_grace_secs",
            self.http.shutdown_grace_secs,
            DAY_SECS,
        ));
        check(within(
            "approvals.ask_timeout_secs",
            self.approvals.ask_timeout_secs,
            DAY_SECS,
        ));
        if self.spec_refresh_secs != 0.0 {
            check(within(
                "spec_refresh_secs",
                self.spec_refresh_secs,
                365.0 * DAY_SECS,
            ));
        }
        check(self.upstream.validate().map_err(ConfigError::from));
        check(
            codemode_policy::Policy::new(self.policy.rules.clone())
                .map(drop)
                .map_err(ConfigError::Policy),
        );
        for upstream in &self.upstreams {
            check(spec_problem(&upstream.spec));
        }
        for (key, path, want_dir) in [
            ("data_dir", Some(&self.data_dir), true),
            ("cache_dir", Some(&self.cache_dir), true),
            ("audit.path", self.audit.path.as_ref(), false),
            ("credentials.path", self.credentials.path.as_ref(), false),
        ] {
            check(path.map_or(Ok(()), |path| path_problem(key, path, want_dir)));
        }
        problems.extend(self.store.problems());
        problems.extend(stores::audit_store_problems(
            self.audit.store,
            self.audit.postgres_url.as_ref(),
        ));
        problems
    }

    /// The rules only `serve` has: beyond loopback, allowed hosts must be set and auth on.
    pub fn serve_problems(&self) -> Vec<ConfigError> {
        let loopback = self.listen.ip().is_loopback();
        let mut problems = Vec::new();
        if !loopback && self.http.allowed_hosts.is_empty() {
            problems.push(ConfigError::NoAllowedHosts(self.listen));
        }
        if let Err(error) = self.auth.validate(loopback) {
            problems.push(ConfigError::Auth(error));
        }
        problems
    }

    /// The `Host` header values `serve` accepts.
    pub fn allowed_hosts(&self) -> Vec<String> {
        if self.http.allowed_hosts.is_empty() {
            LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect()
        } else {
            self.http.allowed_hosts.clone()
        }
    }

    /// How often the spec is loaded again; `None` when only SIGHUP refreshes it.
    pub fn spec_refresh(&self) -> Option<Duration> {
        (self.spec_refresh_secs > 0.0).then(|| Duration::from_secs_f64(self.spec_refresh_secs))
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

/// A spec source, checked without reading it: a URL's form, or that a file exists.
fn spec_problem(spec: &SpecChoice) -> Result<(), ConfigError> {
    let SpecChoice::Source(source) = spec else {
        return Ok(());
    };
    let invalid = |reason: String| ConfigError::Invalid {
        key: "spec",
        reason,
    };
    match codemode_spec::SpecSource::parse(source).map_err(|e| invalid(e.to_string()))? {
        codemode_spec::SpecSource::File(path) if !path.is_file() => Err(invalid(format!(
            "no file at {}; pass a file path or an https:// URL",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// The address `listen` names: an IP address and port, or a host name (resolved now) and port.
fn resolve_listen(value: &str) -> Result<SocketAddr, ConfigError> {
    let invalid = |reason: String| ConfigError::Listen {
        value: value.to_string(),
        reason,
    };
    if let Ok(address) = value.parse::<SocketAddr>() {
        return Ok(address);
    }
    if !value.contains(':') {
        return Err(invalid(
            "write host:port, e.g. 127.0.0.1:8787 or localhost:8787".into(),
        ));
    }
    let mut addresses = value
        .to_socket_addrs()
        .map_err(|error| invalid(format!("cannot resolve it: {error}")))?;
    addresses
        .next()
        .ok_or_else(|| invalid("the host name resolves to no address".into()))
}

/// A configured path that exists but is the wrong kind of thing.
fn path_problem(key: &'static str, path: &Path, want_dir: bool) -> Result<(), ConfigError> {
    let Ok(metadata) = std::fs::metadata(path) else {
        return Ok(());
    };
    let reason = match (want_dir, metadata.is_dir()) {
        (true, false) => format!("{} is a file; it must be a directory", path.display()),
        (false, true) => format!("{} is a directory; it must be a file", path.display()),
        _ => return Ok(()),
    };
    Err(ConfigError::Invalid { key, reason })
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
