//! The sections of the config file the server owns: `[http]`, `[upstream]`, `[policy]`,
//! `[audit]`, `[credentials]`, `[approvals]`, `[metrics]` and `[traces]`, each with its defaults (`[sandbox]` is
//! codemode-sandbox's own).

use std::path::PathBuf;
use std::time::Duration;

use codemode_policy::Rule;
use serde::Deserialize;

use crate::settings::ConfigError;
use crate::settings::combine::Combine;
use crate::settings::stores::{AuditStoreKind, StoreUrl};

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
    /// `sqlite` (default, the file at `path`) or `postgres` (shared by replicas).
    pub store: AuditStoreKind,
    /// `postgres://user[:password]@host[:port]/database`, for `store = "postgres"`.
    pub postgres_url: Option<StoreUrl>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            path: None,
            store_code: true,
            retention_days: None,
            store: AuditStoreKind::default(),
            postgres_url: None,
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
    /// Questions one `execute` call may ask; it also stops asking after one is not approved.
    pub max_questions_per_call: u32,
    /// Questions one subject's calls may ask in any hour.
    pub max_questions_per_subject_per_hour: u32,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        Self {
            ask_timeout_secs: 300.0,
            expiry_secs: 3600,
            ask_clients: true,
            max_questions_per_call: 5,
            max_questions_per_subject_per_hour: 60,
        }
    }
}

impl ApprovalsConfig {
    /// The elicitation wait.
    pub fn ask_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.ask_timeout_secs.max(0.0))
    }
}

/// `[metrics]`: the Prometheus endpoint `GET /metrics`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `GET /metrics`.
    pub enabled: bool,
    /// Serve it on this address of its own (`host:port`), without authentication, instead of
    /// on the main listener.
    pub listen: Option<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: None,
        }
    }
}

/// `[traces]`: OpenTelemetry traces over OTLP/HTTP; absent, no spans are made.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracesConfig {
    /// The collector's OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces`.
    pub endpoint: String,
    /// The `service.name` the spans carry.
    #[serde(default = "default_service_name")]
    pub service_name: String,
}

fn default_service_name() -> String {
    "codemode".to_string()
}

/// `[http]`: how `codemode serve` faces the network.
#[derive(Debug, Clone)]
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

/// `[http]` as one layer of settings has it: every key optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpOptions {
    /// See [`HttpConfig::stateless`].
    pub stateless: Option<bool>,
    /// See [`HttpConfig::allowed_hosts`].
    pub allowed_hosts: Option<Vec<String>>,
    /// See [`HttpConfig::allowed_origins`].
    pub allowed_origins: Option<Vec<String>>,
    /// See [`HttpConfig::cors_origins`].
    pub cors_origins: Option<Vec<String>>,
    /// See [`HttpConfig::max_body_kib`].
    pub max_body_kib: Option<usize>,
    /// See [`HttpConfig::shutdown_grace_secs`].
    pub shutdown_grace_secs: Option<f64>,
}

impl Combine for Option<HttpOptions> {
    fn combine(self, lower: Self) -> Self {
        match (self, lower) {
            (Some(higher), Some(lower)) => Some(HttpOptions {
                stateless: higher.stateless.combine(lower.stateless),
                allowed_hosts: higher.allowed_hosts.combine(lower.allowed_hosts),
                allowed_origins: higher.allowed_origins.combine(lower.allowed_origins),
                cors_origins: higher.cors_origins.combine(lower.cors_origins),
                max_body_kib: higher.max_body_kib.combine(lower.max_body_kib),
                shutdown_grace_secs: higher
                    .shutdown_grace_secs
                    .combine(lower.shutdown_grace_secs),
            }),
            (higher, lower) => higher.or(lower),
        }
    }
}

impl HttpOptions {
    /// The settings, with defaults for what no layer set.
    pub fn resolve(self) -> HttpConfig {
        let defaults = HttpConfig::default();
        HttpConfig {
            stateless: self.stateless.unwrap_or(defaults.stateless),
            allowed_hosts: self.allowed_hosts.unwrap_or(defaults.allowed_hosts),
            allowed_origins: self.allowed_origins.unwrap_or(defaults.allowed_origins),
            cors_origins: self.cors_origins.unwrap_or(defaults.cors_origins),
            max_body_kib: self.max_body_kib.unwrap_or(defaults.max_body_kib),
            shutdown_grace_secs: self
                .shutdown_grace_secs
                .unwrap_or(defaults.shutdown_grace_secs),
        }
    }
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

/// The longest duration any setting may ask for.
pub(crate) const DAY_SECS: f64 = 86_400.0;

/// Checks that a setting is a positive number no larger than `max`.
pub(crate) fn within(key: &'static str, value: f64, max: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 && value <= max {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            key,
            reason: format!("must be a number above 0 and at most {max}, got {value}"),
        })
    }
}
