//! The sandbox's section of a config file, its defaults and its checks, and the
//! [`PoolConfig`] it becomes.

use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::limits::{Limits, PoolConfig};

/// The global `execute` code reaches the API through unless told otherwise.
pub const DEFAULT_API_GLOBAL: &str = "cloudflare";

/// Seconds in a day: the longest time limit accepted.
const DAY_SECS: f64 = 86_400.0;

/// The sandbox's settings; each field left out of a config file keeps its default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Worker threads running agent code (default: one per CPU, or 2 if that is unknown).
    pub workers: usize,
    /// Calls that may wait for a worker; past it a call is refused as busy (default 512).
    pub queue: usize,
    /// `execute` calls that may be in progress at once, most of them parked waiting on the
    /// API or on a person without holding a worker; past it an `execute` is refused as busy
    /// (default 1,024).
    pub executes: usize,
    /// Wall-clock limit of one `search`, in seconds, counted from when it is accepted
    /// (default 10).
    pub search_timeout_secs: f64,
    /// Wall-clock limit of one `execute`, in seconds, counted from when it is accepted;
    /// time waiting for a person is not counted (default 30).
    pub execute_timeout_secs: f64,
    /// Memory per call, beyond the shared spec, in MiB (default 64).
    pub memory_mib: usize,
    /// JavaScript stack per call, in KiB (default 1,024).
    pub stack_kib: usize,
    /// Largest accepted code, in KiB (default 64).
    pub code_kib: usize,
    /// Results longer than this many characters are cut (default 24,000).
    pub result_chars: usize,
    /// Console output kept per call, in characters (default 8,000).
    pub log_chars: usize,
}

impl Default for SandboxConfig {
    fn default() -> SandboxConfig {
        SandboxConfig {
            workers: std::thread::available_parallelism().map_or(2, usize::from),
            queue: 512,
            executes: 1024,
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

/// A setting out of range.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("setting `{key}` must be a number above 0 and at most {max}, got {value}")]
pub struct ConfigError {
    /// The setting's key, as written in the config section.
    pub key: &'static str,
    /// The value given.
    pub value: f64,
    /// The largest value accepted.
    pub max: f64,
}

impl SandboxConfig {
    /// Checks every setting is above zero and within its bound.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let within = |key: &'static str, value: f64, max: f64| {
            if value.is_finite() && value > 0.0 && value <= max {
                Ok(())
            } else {
                Err(ConfigError { key, value, max })
            }
        };
        let mebi = 1024.0 * 1024.0;
        within("workers", self.workers as f64, 1024.0)?;
        within("queue", self.queue as f64, 1e6)?;
        within("executes", self.executes as f64, 1e6)?;
        within("search_timeout_secs", self.search_timeout_secs, DAY_SECS)?;
        within("execute_timeout_secs", self.execute_timeout_secs, DAY_SECS)?;
        within("memory_mib", self.memory_mib as f64, mebi)?;
        within("stack_kib", self.stack_kib as f64, mebi)?;
        within("code_kib", self.code_kib as f64, mebi)?;
        within("result_chars", self.result_chars as f64, 1e9)?;
        within("log_chars", self.log_chars as f64, 1e9)
    }

    /// The pool these settings describe, once they are valid; `execute` code reaches the
    /// API through the global [`DEFAULT_API_GLOBAL`] unless the caller changes it.
    pub fn pool_config(&self) -> Result<PoolConfig, ConfigError> {
        self.validate()?;
        Ok(self.pool_config_unchecked())
    }

    /// The pool these settings describe, without checking them.
    fn pool_config_unchecked(&self) -> PoolConfig {
        let limits = |timeout_secs: f64| Limits {
            timeout: Duration::from_secs_f64(timeout_secs),
            memory_bytes: self.memory_mib << 20,
            stack_bytes: self.stack_kib << 10,
            code_bytes: self.code_kib << 10,
            result_chars: self.result_chars,
            log_chars: self.log_chars,
        };
        PoolConfig {
            workers: self.workers,
            queue: self.queue,
            executes: self.executes,
            search: limits(self.search_timeout_secs),
            execute: limits(self.execute_timeout_secs),
            api_global: DEFAULT_API_GLOBAL.to_owned(),
        }
    }
}

impl Default for PoolConfig {
    fn default() -> PoolConfig {
        SandboxConfig::default().pool_config_unchecked()
    }
}
